#!/usr/bin/env python3
"""Balancing algorithms, weights and passive ejection, seen from clients."""

import collections
import os
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_health import CheckedBackend, frontend_with_checks, FALL, INTERVAL, TIMEOUT, SLACK, RISE  # noqa: E402


def section(front, backends, **options):
    """A frontend; backends: [(backend, extra options text)]."""
    lines = ["frontend web {", f'  bind_on = "{front}"']
    lines += [f"  {k} = {v}" for k, v in options.items()]
    lines += [f'  backend {b.name} {{ forward_to = "{b.addr}" {extra} }}' for b, extra in backends]
    lines.append("}")
    return "\n".join(lines) + "\n"


class Balancing(harness.TestCase):

    def end(self, s):
        """Ends a held session and waits until the daemon has ended it too
        (its EOF reaches the client only after the session is over)."""
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(s), b"")
        s.close()

    def hold(self, front):
        """A client that stays connected; returns (socket, backend name)."""
        s = self.connect(front)
        return s, harness.recv_line(s)

    def test_smooth_weighted_round_robin(self):
        """Weights 3:1 give a a b a, a a b a: spread out, not in a burst."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        front = harness.free_addr()
        self.daemon(harness.config(section(front, [(a, "weight = 3"), (b, "weight = 1")])))
        self.assertEqual([self.who(front) for _ in range(12)], list("aabaaabaaaba"))

    def test_least_connections(self):
        """A new client goes to the backend with fewest live sessions, not
        to the next in turn."""
        a, b, c = self.ident_backend("a"), self.ident_backend("b"), self.ident_backend("c")
        front = harness.free_addr()
        self.daemon(harness.config(section(front, [(a, ""), (b, ""), (c, "")],
                                           balance="least-connections")))
        held = [self.hold(front) for _ in range(3)]
        self.assertEqual(sorted(n for _, n in held), ["a", "b", "c"], "one each while all are equal")
        self.end([s for s, n in held if n == "b"][0])
        # b has none, a and c have one each: b, whatever the rotation says.
        s, name = self.hold(front)
        self.assertEqual(name, "b")
        # Now all have one; a second session on a: the next goes to b or c.
        s2, name2 = self.hold(front)
        s3, name3 = self.hold(front)
        self.assertEqual(sorted([name2, name3]), ["a", "c"])

    def test_least_connections_with_weights(self):
        """Weight 2 against 1: the heavier backend takes two live sessions
        for every one of the other."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        front = harness.free_addr()
        self.daemon(harness.config(section(front, [(a, "weight = 2"), (b, "weight = 1")],
                                           balance="least-connections")))
        names = collections.Counter(self.hold(front)[1] for _ in range(9))
        self.assertEqual(names, {"a": 6, "b": 3})

    def test_random_two_prefers_the_less_loaded(self):
        """With two backends both are drawn every time: the one with fewer
        live sessions wins, always."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        front = harness.free_addr()
        self.daemon(harness.config(section(front, [(a, ""), (b, "")], balance="random-two")))
        held = [self.hold(front) for _ in range(6)]
        self.assertEqual(collections.Counter(n for _, n in held), {"a": 3, "b": 3})
        for s, n in held:
            if n == "a":
                self.end(s)
        self.assertEqual([self.hold(front)[1] for _ in range(3)], ["a", "a", "a"])

    def who_from(self, front, source):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(harness.close_quietly, s)
        s.bind((source, 0))
        s.settimeout(harness.IO_TIMEOUT)
        s.connect(front.sockaddr)
        try:
            harness.send_all(s, b"WHO\n")
            return harness.recv_line(s)
        finally:
            s.close()

    def test_source_hash_keeps_clients_and_moves_only_a_down_backends(self):
        backends = [self._own(CheckedBackend(n)) for n in ("a", "b", "c")]
        front = harness.free_addr()
        mb = self.daemon(harness.config(frontend_with_checks(
            front, [(b, False) for b in backends], extra="  balance = source-hash")))
        harness.wait_for(lambda: all(b.checks >= 1 for b in backends), 5, "the first checks")
        sources = [f"127.0.{i // 200}.{2 + i % 200}" for i in range(30)]
        where = {src: self.who_from(front, src) for src in sources}
        for src in sources[:10]:
            self.assertEqual({self.who_from(front, src) for _ in range(3)}, {where[src]},
                             f"{src} moved between connections")
        self.assertGreater(len(set(where.values())), 1, f"every source on one backend: {where}")

        # b goes down: only b's clients move; back up, they return.
        backends[1].healthy.clear()
        mb.wait_notify("STATUS=web: 2/3 backends up", timeout=FALL * INTERVAL + TIMEOUT + SLACK + 5)
        during = {src: self.who_from(front, src) for src in sources}
        for src in sources:
            if where[src] != "b":
                self.assertEqual(during[src], where[src], f"{src} moved though its backend is up")
            else:
                self.assertIn(during[src], ("a", "c"))
        backends[1].healthy.set()
        mb.wait_notify("STATUS=web: 3/3 backends up", timeout=RISE * INTERVAL + TIMEOUT + SLACK + 5)
        self.assertEqual({src: self.who_from(front, src) for src in sources}, where)

    def test_passive_ejection(self):
        """max_fails failed connects within fail_timeout mark a backend down
        for fail_timeout: it gets no clients even once it listens again,
        until fail_timeout has passed."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        a_addr = a.addr
        a.close()                                       # refuses from now
        front = harness.free_addr()
        mb = self.daemon(harness.config(section(front, [(a, ""), (b, "")],
                                                max_fails=2, fail_timeout="1500ms")))
        # Round-robin: clients 1 and 3 try a first (refused) and fail over to b.
        self.assertEqual([self.who(front) for _ in range(3)], ["b", "b", "b"])
        mb.wait_notify("STATUS=web: 1/2 backends up")
        marked = time.monotonic()
        again = self.ident_backend("a", addr=a_addr)     # listens again
        got = [self.who(front) for _ in range(6)]
        if time.monotonic() - marked < 1.5:
            self.assertEqual(got, ["b"] * 6, "a got clients while passively down")
            self.assertEqual(again.accepted, 0)
        mb.wait_notify("STATUS=web: 2/2 backends up", timeout=1.5 + SLACK + 5)
        self.assertGreaterEqual(time.monotonic() - marked, 1.0, "a came back long before fail_timeout")
        self.assertIn("a", {self.who(front) for _ in range(4)})

    def test_passive_ejection_off_by_default(self):
        """Without max_fails a refusing backend is tried for every client in
        its turn (and skipped): no STATUS change."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        a.close()
        front = harness.free_addr()
        mb = self.daemon(harness.config(section(front, [(a, ""), (b, "")])))
        self.assertEqual([self.who(front) for _ in range(6)], ["b"] * 6)
        self.assertFalse(any("backends up" in line and "1/2" in line for line in mb.notify.lines))


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
