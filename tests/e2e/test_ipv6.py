#!/usr/bin/env python3
"""IPv6: "[::1]:port" frontends and backends, and mixing the families."""

import os
import socket
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class IPv6(harness.TestCase):

    def setUp(self):
        harness.require_ipv6()
        super().setUp()

    def test_ipv6_frontend_to_ipv6_backends(self):
        b1 = self.ident_backend("b1", family=socket.AF_INET6)
        b2 = self.ident_backend("b2", family=socket.AF_INET6)
        front = harness.free_addr(socket.AF_INET6)
        self.assertEqual(str(front), f"[::1]:{front.port}")
        self.daemon(harness.config(harness.frontend("v6", front, [("b1", b1.addr), ("b2", b2.addr)])))
        self.assertEqual([self.who(front) for _ in range(3)], ["b1", "b2", "b1"])

        s = self.connect(front)
        self.assertEqual(harness.recv_line(s), "b2")
        payload = os.urandom(1 << 20)
        self.assertEqual(harness.sha256(harness.transfer(s, payload, 30)), harness.sha256(payload))

    def test_ipv4_frontend_to_ipv6_backend(self):
        b = self.ident_backend("v6", family=socket.AF_INET6)
        front = harness.free_addr(socket.AF_INET)
        self.daemon(harness.config(harness.frontend("v4", front, [("v6", b.addr)])))
        s = self.connect(front)
        self.assertEqual(harness.recv_line(s), "v6")
        harness.send_all(s, b"across families")
        self.assertEqual(harness.recv_exact(s, 15), b"across families")

    def test_ipv6_frontend_to_ipv4_backend(self):
        b = self.ident_backend("v4", family=socket.AF_INET)
        front = harness.free_addr(socket.AF_INET6)
        self.daemon(harness.config(harness.frontend("v6", front, [("v4", b.addr)])))
        self.assertEqual(self.who(front), "v4")

    def test_wildcard_frontend_is_dual_stack(self):
        """"*:port" accepts on IPv4 and IPv6 loopback alike."""
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            probe.bind(("::", 0))           # a port free on every address, both families
            port = probe.getsockname()[1]
        b = self.ident_backend("app")
        self.daemon(harness.config(harness.frontend("any", f"*:{port}", [("app", b.addr)])))
        self.assertEqual(self.who(harness.Addr("127.0.0.1", port)), "app")
        self.assertEqual(self.who(harness.Addr("::1", port)), "app")
        self.assertEqual(b.accepted, 2)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
