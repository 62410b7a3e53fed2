#!/usr/bin/env python3
"""Socket activation: listening sockets passed as systemd passes them
(LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, fds from 3) go to the frontend whose
bind_on they listen on; other frontends bind their own; a socket that no
frontend claims, or one that is not a listening TCP socket, stops the start."""

import os
import socket
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def listening_socket(addr, family=socket.AF_INET, dual_stack=False):
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr.sockaddr)
    s.listen(16)
    return s


class Activation(harness.TestCase):

    def own(self, s):
        self.addCleanup(harness.close_quietly, s)
        return s

    def test_frontend_takes_its_inherited_socket(self):
        echo = self.echo_backend()
        named = self.ident_backend("other")
        inherited_addr, own_addr = harness.free_addr(), harness.free_addr()
        sock = self.own(listening_socket(inherited_addr))
        text = harness.config(harness.frontend("web", inherited_addr, [("app", echo.addr)]),
                              harness.frontend("other", own_addr, [("b", named.addr)]))
        # We keep listening on inherited_addr ourselves while the daemon
        # starts: had it tried to bind that address, it would have failed.
        mb = harness.Daemon(self, text, inherit=[(sock, "web.socket")]).start()
        sock.close()

        c = self.connect(inherited_addr)
        harness.send_all(c, b"through the inherited socket")
        self.assertEqual(harness.recv_exact(c, 28), b"through the inherited socket")
        c.close()
        self.assertEqual(self.who(own_addr), "other")
        self.assertEqual(mb.stop(), 0)

    def test_wildcard_frontend_takes_dual_stack_socket(self):
        harness.require_ipv6()
        named = self.ident_backend("any")
        port = harness.free_addr(socket.AF_INET6).port
        sock = self.own(listening_socket(harness.Addr("::", port), socket.AF_INET6, dual_stack=True))
        mb = harness.Daemon(self, harness.config(harness.frontend("all", f"*:{port}", [("b", named.addr)])),
                            inherit=[(sock, "all.socket")]).start()
        sock.close()
        self.assertEqual(self.who(harness.Addr("127.0.0.1", port)), "any")
        self.assertEqual(self.who(harness.Addr("::1", port)), "any")
        self.assertEqual(mb.stop(), 0)

    def assert_start_refused(self, text, inherit, *words):
        mb = harness.Daemon(self, text, inherit=inherit).launch()
        status = mb.wait()
        stderr = mb.stderr()
        self.assertEqual(status, 1, stderr)
        for w in words:
            self.assertIn(w, stderr)
        self.assertNotIn("READY=1", mb.notify.lines)

    def test_unclaimed_socket_stops_the_start(self):
        backend = self.echo_backend()
        stray, front = harness.free_addr(), harness.free_addr()
        sock = self.own(listening_socket(stray))
        self.assert_start_refused(harness.config(harness.frontend("web", front, [("app", backend.addr)])),
                                  [(sock, "stray.socket")],
                                  "matches no frontend", str(stray), "stray.socket")
        with self.assertRaises(ConnectionRefusedError):
            harness.connect(front, timeout=2.0).close()

    def test_non_listening_socket_stops_the_start(self):
        backend = self.echo_backend()
        front = harness.free_addr()
        udp = self.own(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp.bind(("127.0.0.1", 0))
        self.assert_start_refused(harness.config(harness.frontend("web", front, [("app", backend.addr)])),
                                  [(udp, "udp.socket")],
                                  "udp.socket", "not a listening TCP socket")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
