#!/usr/bin/env python3
"""Failover: a backend that refuses or times out is skipped, in order; the client
is closed only when none accepts; the counter moves by one per connection."""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Failover(harness.TestCase):

    def test_refused_backend_is_skipped(self):
        dead = harness.free_addr()          # nothing listens there
        b2 = self.ident_backend("b2")
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend("web", front, [("b1", dead), ("b2", b2.addr)])))
        self.assertEqual(self.who(front), "b2")

    def test_hanging_backend_is_skipped_after_connect_timeout(self):
        hang = self.hanging_backend()
        b2 = self.ident_backend("b2")
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend(
            "web", front, [("b1", hang.addr), ("b2", b2.addr)], connect_timeout="500ms")))
        s = self.connect(front)
        started = time.monotonic()
        # Bounded well below the 5 s default: the 500 ms timeout must apply.
        self.assertEqual(harness.recv_line(s, timeout=4.0), "b2")
        self.assertLess(time.monotonic() - started, 4.0)

    def test_counter_moves_once_per_connection_despite_failovers(self):
        """b1 dead among three: 1st->b2 (failover), 2nd->b2, 3rd->b3, 4th->b2..."""
        dead = harness.free_addr()
        b2, b3 = self.ident_backend("b2"), self.ident_backend("b3")
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend(
            "web", front, [("b1", dead), ("b2", b2.addr), ("b3", b3.addr)])))
        got = [self.who(front) for _ in range(12)]
        # Connection k starts at backend ((k-1) mod 3)+1; b1 fails over to b2.
        self.assertEqual(got, ["b2", "b2", "b3"] * 4)

    def test_all_backends_down_closes_client_then_recovers(self):
        dead1, dead2 = harness.free_addr(), harness.free_addr()
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend("web", front, [("b1", dead1), ("b2", dead2)])))
        s = self.connect(front)
        harness.wait_closed(s, timeout=harness.CLOSE_TIMEOUT)

        # A backend comes up at b1's address: later connections are served
        # (the 2nd starts at b2, still down, and fails over to b1).
        self.ident_backend("b1", addr=dead1)
        self.assertEqual(self.who(front), "b1")
        self.assertEqual(self.who(front), "b1")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
