#!/usr/bin/env python3
"""Failover: a backend that refuses or times out is skipped, in order; after the
backends that are up come the backups, then the backends marked down; the client
is closed only when none accepts; the counter moves by one per connection."""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def frontend_with_backups(front, primaries, backups, **options):
    """A frontend "web"; primaries and backups: [(title, address)]."""
    lines = ["frontend web {", f'  bind_on = "{front}"']
    lines += [f"  {k} = {v}" for k, v in options.items()]
    lines += [f'  backend {t} {{ forward_to = "{a}" }}' for t, a in primaries]
    lines += [f'  backend {t} {{ forward_to = "{a}"  backup = true }}' for t, a in backups]
    lines.append("}")
    return "\n".join(lines) + "\n"


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

    def test_backup_serves_when_every_primary_refuses(self):
        """Primaries p1, p2 where nothing listens, backup s, max_fails = 1:
        the first client fails over from p1 and p2 to s within its own
        connection (before either is marked down), and so do the next ones
        (after both are marked down, s is the tier)."""
        p1, p2 = harness.free_addr(), harness.free_addr()
        s = self.ident_backend("s")
        front = harness.free_addr()
        mb = self.daemon(harness.config(frontend_with_backups(
            front, [("p1", p1), ("p2", p2)], [("s", s.addr)], max_fails=1)))
        self.assertEqual(self.who(front), "s", "the first client was not served by the backup")
        mb.wait_notify("STATUS=web: 1/3 backends up")
        self.assertEqual([self.who(front) for _ in range(5)], ["s"] * 5)

    def test_backup_serves_while_refusing_primaries_count_as_up(self):
        """Without passive ejection the primaries are never marked down:
        every client tries p1 and p2, which refuse, then reaches s."""
        p1, p2 = harness.free_addr(), harness.free_addr()
        s = self.ident_backend("s")
        front = harness.free_addr()
        mb = self.daemon(harness.config(frontend_with_backups(
            front, [("p1", p1), ("p2", p2)], [("s", s.addr)])))
        self.assertEqual([self.who(front) for _ in range(6)], ["s"] * 6)
        self.assertEqual(s.accepted, 6)
        self.assertFalse(any("backends up" in line and "3/3" not in line for line in mb.notify.lines),
                         f"a backend was marked down: {mb.notify.lines}")

    def test_backup_only_after_every_primary_failed(self):
        """One primary refuses, the other accepts: the backup gets nothing."""
        p1 = harness.free_addr()
        p2, s = self.ident_backend("p2"), self.ident_backend("s")
        front = harness.free_addr()
        self.daemon(harness.config(frontend_with_backups(
            front, [("p1", p1), ("p2", p2.addr)], [("s", s.addr)])))
        self.assertEqual([self.who(front) for _ in range(6)], ["p2"] * 6)
        self.assertEqual(s.accepted, 0)

    def test_backup_after_a_hanging_primary(self):
        """A primary that neither accepts nor refuses is given up after
        connect_timeout, and the client goes on to the backup."""
        hang = self.hanging_backend()
        s = self.ident_backend("s")
        front = harness.free_addr()
        self.daemon(harness.config(frontend_with_backups(
            front, [("p1", hang.addr)], [("s", s.addr)], connect_timeout="300ms")))
        c = self.connect(front)
        self.assertEqual(harness.recv_line(c, timeout=4.0), "s")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
