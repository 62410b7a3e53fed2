#!/usr/bin/env python3
"""idle_timeout closes a session in which no byte moved either way for that long,
half-closed or not, and leaves a busy session alone."""

import os
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def chatter(s, period=0.2, duration=3.0):
    """Send a numbered message every `period` for `duration`; each must echo back."""
    count = round(duration / period)
    for i in range(count):
        msg = f"tick {i:04d}\n".encode()
        harness.send_all(s, msg)
        if harness.recv_exact(s, len(msg)) != msg:
            raise AssertionError(f"wrong echo for message {i}")
        # Paces the traffic (this is the workload, not synchronisation).
        time.sleep(period)
    return count


class IdleTimeout(harness.TestCase):

    def test_idle_session_closed_busy_session_kept(self):
        backend = self.echo_backend()
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)],
                                                    idle_timeout="1s")))
        idle, busy = self.connect(front), self.connect(front)
        for s in (idle, busy):       # both sessions established
            harness.send_all(s, b"hi")
            self.assertEqual(harness.recv_exact(s, 2), b"hi")

        worker = harness.Worker(chatter, busy, name="busy")
        worker.start()
        harness.wait_closed(idle, timeout=10.0)
        self.assertEqual(worker.join(30), 15)

        # Still open after 3 s of traffic, three times the idle timeout.
        harness.send_all(busy, b"still there")
        self.assertEqual(harness.recv_exact(busy, 11), b"still there")

    def test_half_closed_idle_session_closed(self):
        backend = self.controlled_backend()
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)],
                                                    idle_timeout="1s")))
        c = self.connect(front)
        b = backend.accept()
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(b), b"", "backend gets the client's EOF")
        # The backend keeps its half open and silent: the daemon must end it.
        harness.wait_closed(c, timeout=10.0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
