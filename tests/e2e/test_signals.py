#!/usr/bin/env python3
"""Signals: SIGTERM/SIGINT drain (listeners closed at once, sessions finish up to
shutdown_timeout, exit 0), a second SIGTERM ends the drain, SIGHUP keeps running."""

import os
import signal
import socket
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Signals(harness.TestCase):

    def start(self, backend, shutdown_timeout):
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        shutdown_timeout=shutdown_timeout))
        return front, mb

    def echo(self, s, msg):
        harness.send_all(s, msg)
        self.assertEqual(harness.recv_exact(s, len(msg)), msg)

    def assert_refused(self, front):
        try:
            s = harness.connect(front, timeout=2.0)
        except ConnectionRefusedError:
            return
        except OSError as e:
            self.fail(f"connect to {front} after STOPPING=1: {e!r}, expected 'refused'")
        s.close()
        self.fail(f"connect to {front} accepted after STOPPING=1: listener not closed")

    def test_sigterm_lets_open_session_finish(self):
        backend = self.echo_backend()
        front, mb = self.start(backend, "30s")
        c = self.connect(front)
        self.echo(c, b"before")

        mb.signal(signal.SIGTERM)
        mb.wait_notify("STOPPING=1")
        self.assert_refused(front)
        self.echo(c, b"during the drain")
        self.assertTrue(mb.running(), "daemon exited with a session still open")

        c.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(c), b"")
        c.close()
        # Well below shutdown_timeout: the exit follows the end of the session.
        self.assertEqual(mb.wait(10), 0)

    def test_shutdown_timeout_ends_the_drain(self):
        backend = self.controlled_backend()
        front, mb = self.start(backend, "1s")
        c = self.connect(front)
        b = backend.accept()
        self.echo_through(c, b)

        mb.signal(signal.SIGTERM)
        self.assertEqual(mb.wait(10), 0)
        harness.wait_closed(c, timeout=5)
        harness.wait_closed(b, timeout=5)

    def test_second_sigterm_ends_the_drain(self):
        backend = self.controlled_backend()
        front, mb = self.start(backend, "30s")
        c = self.connect(front)
        b = backend.accept()
        self.echo_through(c, b)

        mb.signal(signal.SIGTERM)
        mb.wait_notify("STOPPING=1")
        self.assertTrue(mb.running(), "daemon exited with a session still open")
        mb.signal(signal.SIGTERM)
        self.assertEqual(mb.wait(5), 0)
        harness.wait_closed(c, timeout=5)

    def test_sigint_stops_cleanly(self):
        backend = self.echo_backend()
        front, mb = self.start(backend, "30s")
        mb.signal(signal.SIGINT)
        mb.wait_notify("STOPPING=1")
        self.assertEqual(mb.wait(10), 0)

    def test_sighup_keeps_running(self):
        backend = self.ident_backend("app")
        front, mb = self.start(backend, "30s")
        self.assertEqual(self.who(front), "app")
        mb.signal(signal.SIGHUP)
        # Serving a connection needs the daemon to run after the signal's delivery.
        self.assertEqual(self.who(front), "app")
        self.assertEqual(self.who(front), "app")
        self.assertTrue(mb.running(), "daemon died on SIGHUP")
        self.assertNotIn("STOPPING=1", mb.notify.lines, "SIGHUP started a shutdown")
        self.assertEqual(mb.stop(), 0)

    def echo_through(self, c, b):
        """Prove the session relays both ways through a controlled backend."""
        harness.send_all(c, b"ping")
        self.assertEqual(harness.recv_exact(b, 4), b"ping")
        harness.send_all(b, b"pong")
        self.assertEqual(harness.recv_exact(c, 4), b"pong")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
