#!/usr/bin/env python3
"""Active health checks, backups, and what happens when every backend is down.

The backends here answer a check ("PING\\r\\n") with "PONG" while healthy and
"NOPE" when told to fail, and answer a client ("WHO\\n") with their name, so
a backend that fails its checks still accepts sessions: when the daemon
sends it no client, that is because it marked it down."""

import os
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

INTERVAL, FALL, RISE = 0.1, 3, 2
# A check's own time limit: under valgrind (every daemon about 5 times
# slower, and other tests' daemons on the same CPUs) a healthy backend's
# check must not time out, or "no failure on a healthy backend" would
# depend on the machine's load.
TIMEOUT = 0.2 * (5 if harness.VALGRIND else 1)
CHECK = (f"  health_check {{\n    interval = {int(INTERVAL * 1000)}ms\n"
         f"    timeout = {int(TIMEOUT * 1000)}ms\n    fall = {FALL}\n    rise = {RISE}\n"
         f'    send = "PING\\r\\n"\n    expect = "PONG"\n  }}\n')
# The daemon must notice within fall x interval + timeout; clients and the
# test's own scheduling get this much on top.
SLACK = 1.0


class CheckedBackend(harness.Backend):
    """Answers checks PONG (or NOPE once failing), and clients its name."""

    def __init__(self, name):
        self.healthy = threading.Event()
        self.healthy.set()
        self.checks = 0
        super().__init__(self._handle, name=name)

    def _handle(self, conn):
        first = harness.recv_line(conn, timeout=5).rstrip("\r")
        if first == "PING":
            self.checks += 1
            conn.sendall(b"PONG" if self.healthy.is_set() else b"NOPE")
            conn.close()
            return
        if first == "WHO":
            conn.sendall(self.name.encode() + b"\n")
            harness.recv_until_eof(conn, timeout=30)
            # Our end too, or the session would stay half-open in the
            # daemon (and its count) until idle_timeout.
            conn.close()


def frontend_with_checks(front, backends, extra=""):
    lines = [f'frontend web {{', f'  bind_on = "{front}"', CHECK.rstrip("\n")]
    if extra:
        lines.append(extra)
    for b, backup in backends:
        lines.append(f'  backend {b.name} {{ forward_to = "{b.addr}"'
                     f'{" backup = true" if backup else ""} }}')
    lines.append("}")
    return "\n".join(lines) + "\n"


class Health(harness.TestCase):

    def backend(self, name):
        return self._own(CheckedBackend(name))

    def who(self, front):
        s = self.connect(front)
        try:
            harness.send_all(s, b"WHO\n")
            return harness.recv_line(s)
        finally:
            s.close()

    def until_only(self, front, names, deadline, what):
        """Connects clients until six in a row went to NAMES; returns the time
        it took.  Fails at DEADLINE seconds."""
        started = time.monotonic()
        streak = 0
        while streak < 6:
            if time.monotonic() - started > deadline:
                raise AssertionError(f"{what}: not within {deadline:.1f} s")
            streak = streak + 1 if self.who(front) in names else 0
        return time.monotonic() - started

    def start(self, backends, **options):
        front = harness.free_addr()
        mb = self.daemon(harness.config(frontend_with_checks(front, backends), **options))
        # The first round of checks has passed for each.
        harness.wait_for(lambda: all(b.checks >= 1 for b, _ in backends), 5, "the first checks")
        return front, mb

    def test_failing_checks_mark_down_and_rise_marks_up(self):
        a, b = self.backend("a"), self.backend("b")
        front, mb = self.start([(a, False), (b, False)])
        self.assertEqual(sorted(self.who(front) for _ in range(4)), ["a", "a", "b", "b"])

        a.healthy.clear()
        took = self.until_only(front, {"b"}, FALL * INTERVAL + TIMEOUT + SLACK, "a marked down")
        sys.stderr.write(f"\nmarked down after {took:.2f} s "
                         f"(fall x interval + timeout = {FALL * INTERVAL + TIMEOUT:.2f} s)\n")
        self.assertEqual({self.who(front) for _ in range(10)}, {"b"}, "a got clients while down")
        mb.wait_notify("STATUS=web: 1/2 backends up")

        a.healthy.set()
        deadline = time.monotonic() + RISE * INTERVAL + TIMEOUT + SLACK
        while self.who(front) != "a":
            self.assertLess(time.monotonic(), deadline, "a not back after rise checks")
        mb.wait_notify("STATUS=web: 2/2 backends up")
        self.assertTrue(mb.running())

    def test_refused_connect_marks_down_without_send_expect(self):
        """Without send/expect a check is a connect: a backend that refuses
        goes down, and comes back when it listens again."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        front = harness.free_addr()
        section = harness.frontend("web", front, [("a", a.addr), ("b", b.addr)])
        text = harness.config(section.replace(
            "{\n", "{\n  health_check {\n    interval = 100ms\n    timeout = 200ms\n  }\n", 1))
        mb = self.daemon(text)
        a.close()
        mb.wait_notify("STATUS=web: 1/2 backends up", timeout=3 * 0.1 + 0.2 + SLACK + 5)
        again = self.ident_backend("a", addr=a.addr)
        mb.wait_notify("STATUS=web: 2/2 backends up", timeout=2 * 0.1 + 0.2 + SLACK + 5)
        got = {self.who_ident(front) for _ in range(4)}
        self.assertEqual(got, {"a", "b"})
        self.assertGreater(again.accepted, 0)

    def who_ident(self, front):
        s = self.connect(front)
        try:
            return harness.recv_line(s)
        finally:
            s.close()

    def test_backup_only_when_every_primary_is_down(self):
        a, b, spare = self.backend("a"), self.backend("b"), self.backend("spare")
        front, mb = self.start([(a, False), (b, False), (spare, True)])
        self.assertEqual({self.who(front) for _ in range(10)}, {"a", "b"}, "backup used while primaries are up")

        a.healthy.clear()
        self.until_only(front, {"b"}, FALL * INTERVAL + TIMEOUT + SLACK, "a marked down")
        self.assertNotIn("spare", {self.who(front) for _ in range(6)}, "backup used while b is up")

        b.healthy.clear()
        self.until_only(front, {"spare"}, FALL * INTERVAL + TIMEOUT + SLACK, "b marked down")
        mb.wait_notify("STATUS=web: 1/3 backends up")

        a.healthy.set()
        self.until_only(front, {"a"}, RISE * INTERVAL + TIMEOUT + SLACK, "a back")
        self.assertEqual({self.who(front) for _ in range(6)}, {"a"})

    def test_every_backend_down_still_serves(self):
        """The checks may be wrong: with every backend marked down, a client
        is still tried against them rather than refused."""
        a, b = self.backend("a"), self.backend("b")
        front, mb = self.start([(a, False), (b, False)])
        a.healthy.clear()
        b.healthy.clear()
        mb.wait_notify("STATUS=web: 0/2 backends up", timeout=FALL * INTERVAL + TIMEOUT + SLACK + 5)
        self.assertEqual(sorted(self.who(front) for _ in range(4)), ["a", "a", "b", "b"])

    def test_sessions_to_a_backend_marked_down_are_not_cut(self):
        a, b = self.backend("a"), self.backend("b")
        front, mb = self.start([(a, False), (b, False)])
        held = []
        for _ in range(2):
            s = self.connect(front)
            harness.send_all(s, b"WHO\n")
            held.append((s, harness.recv_line(s)))
        on_a = [s for s, name in held if name == "a"]
        self.assertEqual(len(on_a), 1)
        a.healthy.clear()
        mb.wait_notify("STATUS=web: 1/2 backends up", timeout=FALL * INTERVAL + TIMEOUT + SLACK + 5)
        # Still open: no EOF, no reset.
        on_a[0].settimeout(0.3)
        with self.assertRaises(socket.timeout):
            on_a[0].recv(1)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
