#!/usr/bin/env python3
"""Reload (SIGHUP) in-process, DESIGN.md section Reload: RELOADING=1 with
MONOTONIC_USEC=, then READY=1 with STATUS= ending "; last reload ok" or
"; last reload failed: N error(s)"; all or nothing; kept listeners are never
closed; removed frontends and backends let their sessions go on; kept
backends keep their health, ejection and round-robin state; log_level,
shutdown_timeout and max_connections apply at once; workers needs a restart.

Harness.Daemon.reload() frames each reload: it fails with "no RELOADING=1
after SIGHUP within N s" when the daemon does not reload at all."""

import collections
import hashlib
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_health import CheckedBackend, frontend_with_checks, FALL, INTERVAL, TIMEOUT, SLACK, RISE  # noqa: E402
from test_workers import thread_names  # noqa: E402

SLOW = 6 if harness.VALGRIND else 1
STORM_THREADS = 4                 # clients connecting in parallel, one after another
STORM_LIMIT = 120.0 * SLOW        # a storm never runs longer than this
AFTER_RELOAD = 3                  # clients served after each reload before the next one
STREAM_BYTES = 8 << 20            # each way, through the long session
STREAM_TIMEOUT = 60.0 * SLOW
PREFIX = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "     # a log line's time stamp




def reloaded_re(path):
    return (PREFIX + rf"notice: reloaded {re.escape(path)}: frontends (\d+) added, (\d+) removed, "
            r"(\d+) changed, (\d+) unchanged; backends (\d+) added, (\d+) removed, "
            r"(\d+) changed, (\d+) unchanged")


def announcing(name):
    """As harness.ident_handler (the name, then echo until EOF), and closes the
    connection at the end: a storm of clients leaves no descriptor open."""
    inner = harness.ident_handler(name)

    def handler(conn):
        try:
            inner(conn)
        finally:
            conn.close()
    return handler


def shutdown_quietly(s):
    try:
        s.shutdown(socket.SHUT_RDWR)      # wakes a thread blocked on it
    except OSError:
        pass


Client = collections.namedtuple("Client", "start end name error")


class Storm:
    """STORM_THREADS threads, each connecting one client after another to
    FRONT until stop(): a client connects, reads the name its backend
    announces, has a line echoed, half-closes and reads until EOF, each step
    bounded by IO_TIMEOUT.  Every client is recorded as a Client: the times
    (time.monotonic()) it started connecting and ended, and the name it got
    or what went wrong."""

    def __init__(self, front):
        self.front = front
        self.clients = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [harness.Worker(self._run, name=f"storm{i}") for i in range(STORM_THREADS)]
        for t in self._threads:
            t.start()

    def _one(self):
        start = time.monotonic()
        try:
            s = harness.connect(self.front)
            try:
                name = harness.recv_line(s)
                harness.send_all(s, b"ping\n")
                echoed = harness.recv_exact(s, 5)
                if echoed != b"ping\n":
                    raise AssertionError(f"echoed {echoed!r} instead of b'ping\\n'")
                s.shutdown(socket.SHUT_WR)
                rest = harness.recv_until_eof(s)
                if rest:
                    raise AssertionError(f"{rest[:40]!r} after the echo")
            finally:
                s.close()
        except (AssertionError, OSError) as e:
            return Client(start, time.monotonic(), None, repr(e))
        return Client(start, time.monotonic(), name, None)

    def _run(self):
        deadline = time.monotonic() + STORM_LIMIT
        for _ in range(1 << 20):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            client = self._one()
            with self._lock:
                self.clients.append(client)

    def failures(self):
        with self._lock:
            return [c for c in self.clients if c.error]

    def wait_served_after(self, t, count=AFTER_RELOAD, timeout=20.0 * SLOW):
        """Wait until COUNT clients that started at T or later were served;
        fails at once if any client failed."""
        def enough():
            with self._lock:
                failed = [c for c in self.clients if c.error]
                served = sum(1 for c in self.clients if c.start >= t and not c.error)
            if failed:
                raise AssertionError(f"{len(failed)} client(s) failed (of {len(self.clients)}); "
                                     f"first ones: {failed[:3]}")
            return served >= count
        harness.wait_for(enough, timeout, f"{count} clients served")

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(4 * harness.IO_TIMEOUT)


class GatedReader(harness.Worker):
    """Reads SOCK in a thread, only as far as allow() lets it: the test holds
    data in flight (buffers full, the sender blocked) while it reloads.
    Keeps the sha256 and length of what it read, and whether EOF came."""

    def __init__(self, sock, name):
        self.sock = sock
        self.cond = threading.Condition()
        self.gate = 0
        self.got = 0
        self.eof = False
        self.done = False
        self.cancelled = False
        self.hash = hashlib.sha256()
        super().__init__(self._read, name=name)

    def _read(self):
        deadline = time.monotonic() + STREAM_TIMEOUT
        try:
            for _ in range(1 << 24):
                with self.cond:
                    if not self.cond.wait_for(lambda: self.cancelled or self.gate > self.got,
                                              max(0.0, deadline - time.monotonic())):
                        raise AssertionError(f"{self.name}: not let read on within {STREAM_TIMEOUT} s")
                    if self.cancelled:
                        return
                    want = self.gate - self.got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: stream not over within {STREAM_TIMEOUT} s")
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(min(want, 1 << 16))
                except socket.timeout:
                    raise AssertionError(f"{self.name}: stalled after {self.got} bytes") from None
                except ConnectionResetError:
                    raise AssertionError(f"{self.name}: connection reset after {self.got} bytes") from None
                with self.cond:
                    if not data:
                        self.eof = True
                        return
                    self.hash.update(data)
                    self.got += len(data)
                    self.cond.notify_all()
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def allow(self, n):
        with self.cond:
            self.gate = n
            self.cond.notify_all()

    def wait_reached(self, n, timeout):
        with self.cond:
            self.cond.wait_for(lambda: self.got >= n or self.done, timeout)
            got, done = self.got, self.done
        if got < n:
            if done:
                self.join(0)             # raises what ended the thread
            raise AssertionError(f"{self.name}: {got} of {n} bytes within {timeout} s")

    def cancel(self):
        with self.cond:
            self.cancelled = True
            self.cond.notify_all()


class Reload(harness.TestCase):

    # -- helpers

    def storm_backend(self, name):
        return self._own(harness.Backend(announcing(name), name=name))

    def storm(self, front):
        storm = Storm(front)
        self.addCleanup(storm.stop)
        return storm

    def reloaded(self, mb):
        """The counts of the "reloaded FILE: ..." notice of MB's last reload."""
        m = mb.wait_log(reloaded_re(mb.config_path), since=mb.reloads[-1].log_mark,
                        what=f"notice: reloaded {mb.config_path}: frontends ... ; backends ...")
        return tuple(int(g) for g in m.groups())

    def assert_reloaded(self, mb, frontends, backends):
        """The last reload logged "reloaded FILE: frontends A added, R removed,
        C changed, U unchanged; backends ..." with these (A, R, C, U)."""
        self.assertEqual(self.reloaded(mb), (*frontends, *backends),
                         "counts of the 'reloaded' line: frontends (added, removed, changed, "
                         "unchanged), then backends")

    def assert_rejected(self, mb, status, errors=()):
        """The last reload was rejected: STATUS says so (returns its error
        count), the log has each (line, words...) of ERRORS as "FILE:LINE:"
        naming the words, then the warning "reload of FILE failed: ...; still
        serving the previous configuration", and no "reloaded" line."""
        m = harness.RELOAD_FAILED.search(status)
        self.assertIsNotNone(m, f"STATUS={status!r} does not say the reload failed")
        since = mb.reloads[-1].log_mark
        path = mb.config_path
        mb.wait_log(PREFIX + rf"warning: reload of {re.escape(path)} failed: .*; still serving "
                    r"the previous configuration", since=since,
                    what=f"warning: reload of {path} failed: ...; still serving the previous configuration")
        text = mb.stderr_since(since)
        for line, *words in errors:
            self.assertIsNotNone(harness.config_error_line(text, path, line, *words),
                                 f"no '{path}:{line}:' error naming {words} in the log:\n{text}")
        self.assertNotRegex(text, f"reloaded {re.escape(path)}:", "a rejected reload logged 'reloaded'")
        return int(m.group(1))

    def assert_refused(self, addr):
        try:
            s = harness.connect(addr, timeout=2.0)
        except ConnectionRefusedError:
            return
        except OSError as e:
            self.fail(f"connect to {addr}: {e!r}, expected 'refused'")
        s.close()
        self.fail(f"connect to {addr} accepted: its listener is still open")

    def relay_both_ways(self, c, b, msg):
        harness.send_all(c, msg)
        self.assertEqual(harness.recv_exact(b, len(msg)), msg, "client -> backend")
        harness.send_all(b, msg[::-1])
        self.assertEqual(harness.recv_exact(c, len(msg)), msg[::-1], "backend -> client")

    def end_session(self, c, b):
        """Half-close each way in turn: each EOF passes through; then close."""
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(b), b"")
        b.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(c), b"")
        c.close()
        b.close()

    def who_at(self, addr, what):
        """The name announced to a client of ADDR; a refused or unanswered
        client fails the test, naming WHAT should have served it."""
        try:
            return self.who(addr)
        except (OSError, AssertionError) as e:
            self.fail(f"{what} ({addr}) did not serve a client: {e!r}")

    def who_logged(self, mb, front, wake=b""):
        """A client through FRONT (sending WAKE first): returns (the name its
        backend announced, its own address as the daemon logs it)."""
        s = self.connect(front)
        try:
            host, port = s.getsockname()[:2]
            if wake:
                harness.send_all(s, wake)
            return harness.recv_line(s), f"{host}:{port}"
        finally:
            s.close()

    # 1 ---------------------------------------------------------------------
    def test_clients_connecting_through_20_reloads(self):
        """4 clients at a time, one after another, while 20 reloads alternate
        between A (a, b) and B (b with weight 2, c): no client fails or is
        reset, and a client that connected and was served entirely outside
        a reload window [SIGHUP sent, READY=1 received] got a backend of the
        configuration in force then."""
        a, b, c = (self.storm_backend(n) for n in "abc")
        front = harness.free_addr()
        confs = {"A": harness.config(harness.frontend("web", front, [("a", a.addr), ("b", b.addr)])),
                 "B": harness.config(harness.frontend("web", front, [("b", b.addr, "weight = 2"),
                                                             ("c", c.addr)]))}
        names = {"A": {"a", "b"}, "B": {"b", "c"}}
        mb = harness.Daemon(self, confs["A"], args=()).start()
        listener = harness.listener_inode(mb, front)
        storm = self.storm(front)
        storm.wait_served_after(time.monotonic())
        keys = []
        for k in range(20):
            keys.append("B" if k % 2 == 0 else "A")
            mb.reload(confs[keys[-1]])
            storm.wait_served_after(mb.reloads[-1].ready)
        storm.stop()

        clients = list(storm.clients)
        failed = [cl for cl in clients if cl.error]
        self.assertEqual(failed, [], f"{len(failed)} of {len(clients)} clients failed")
        windows = [(r.sent, r.ready) for r in mb.reloads]

        def in_force(cl):
            """(the configuration in force throughout CL, how many reloads
            were over before it began), or (None, None) when CL overlaps a
            reload window."""
            if any(cl.start <= ready and cl.end >= sent for sent, ready in windows):
                return None, None
            done = sum(1 for _, ready in windows if ready < cl.start)
            return (keys[done - 1] if done else "A"), done

        wrong, strict, readded = [], collections.defaultdict(collections.Counter), collections.Counter()
        for cl in clients:
            key, done = in_force(cl)
            allowed = names[key] if key else names["A"] | names["B"]
            if cl.name not in allowed:
                wrong.append((key or "during a reload", cl.name))
            if key:
                strict[key][cl.name] += 1
            if key == "A" and done >= 2:
                readded[cl.name] += 1
        self.assertEqual(wrong, [], "clients served by a backend not in the configuration "
                                    "in force (configuration, backend)")
        self.assertGreater(strict["B"]["c"], 0, f"c (added) never served: {dict(strict)}")
        self.assertGreater(readded["a"], 0, f"a never served once added again: {dict(readded)}")
        sys.stderr.write(f"\n{len(clients)} clients through 20 reloads; outside the reload "
                         f"windows: {dict(strict['A'])} in A, {dict(strict['B'])} in B\n")

        self.assertEqual(harness.listener_inode(mb, front), listener, "the listener was replaced")
        pattern = re.compile(reloaded_re(mb.config_path))
        harness.wait_for(lambda: sum(1 for l in mb.log_lines() if pattern.search(l)) >= 20,
                         harness.IO_TIMEOUT, "20 'reloaded' lines")
        counts = [tuple(int(g) for g in pattern.search(l).groups())
                  for l in mb.log_lines() if pattern.search(l)]
        self.assertEqual(counts, [(0, 0, 1, 0, 1, 1, 1, 0)] * 20,
                         "each reload: web changed; a backend added, one removed, b's weight changed")
        self.assertTrue(mb.running())

    # 2 ---------------------------------------------------------------------
    def test_long_session_through_reloads_of_its_backend_and_frontend(self):
        """8 MiB each way through one session, the readers held back between
        reloads (data in flight) that change its backend, then remove it,
        then remove its frontend: both streams arrive whole; the removed
        backend takes no new client, the removed frontend refuses."""
        sink = self.controlled_backend(rcvbuf=1 << 16)
        spare, elsewhere = self.ident_backend("spare"), self.ident_backend("elsewhere")
        front, other = harness.free_addr(), harness.free_addr()

        def conf(stage):
            sections = []
            if stage < 3:
                backends = [("spare", spare.addr)]
                if stage < 2:
                    backends.insert(0, ("sink", sink.addr, "weight = 2" if stage >= 1 else ""))
                sections.append(harness.frontend("stream", front, backends,
                                         idle_timeout="30m" if stage >= 1 else "1h"))
            sections.append(harness.frontend("other", other, [("o", elsewhere.addr)]))
            return harness.config(*sections)

        mb = self.daemon(conf(0))
        c = self.connect(front, timeout=STREAM_TIMEOUT, sndbuf=1 << 16, rcvbuf=1 << 16)
        b = sink.accept()             # round-robin: the first client goes to sink
        self.addCleanup(shutdown_quietly, c)
        self.addCleanup(shutdown_quietly, b)
        up, down = os.urandom(STREAM_BYTES), os.urandom(STREAM_BYTES)
        readers = [GatedReader(b, "backend reading"), GatedReader(c, "client reading")]
        for r in readers:
            self.addCleanup(r.cancel)
            r.start()

        def send(sock, payload):
            harness.send_all(sock, payload, STREAM_TIMEOUT)
            sock.shutdown(socket.SHUT_WR)
        senders = [harness.Worker(send, c, up, name="client sending"),
                   harness.Worker(send, b, down, name="backend sending")]
        for s in senders:
            s.start()

        step = STREAM_BYTES // 5
        for stage in (1, 2, 3):
            for r in readers:
                r.allow(stage * step)
            for r in readers:
                r.wait_reached(stage * step, 30 * SLOW)
            # Both readers stop here: what the senders still push is in flight.
            mb.reload(conf(stage))
            if stage == 1:      # sink's weight and the frontend's idle_timeout
                self.assert_reloaded(mb, (0, 0, 1, 1), (0, 0, 1, 2))
            elif stage == 2:    # sink removed
                self.assert_reloaded(mb, (0, 0, 1, 1), (0, 1, 0, 2))
                for _ in range(2):
                    try:
                        got = self.who(front)
                    except (OSError, AssertionError) as e:
                        sink.assert_no_connection()     # the likeliest cause, named
                        self.fail(f"frontend stream did not serve a client without sink: {e!r}")
                    sink.assert_no_connection()
                    self.assertEqual(got, "spare")
            else:               # the frontend removed, with spare
                self.assert_reloaded(mb, (0, 1, 0, 1), (0, 1, 0, 1))
                self.assert_refused(front)
                self.assertEqual(self.who_at(other, "frontend other"), "elsewhere")

        for r in readers:
            r.allow(STREAM_BYTES + 1)      # the rest, then EOF
        for w in senders + readers:
            w.join(STREAM_TIMEOUT)
        at_backend, at_client = readers
        self.assertTrue(at_backend.eof and at_client.eof, "no EOF at the end of a stream")
        self.assertEqual((at_backend.got, at_backend.hash.hexdigest()),
                         (len(up), harness.sha256(up)), "client -> backend stream damaged")
        self.assertEqual((at_client.got, at_client.hash.hexdigest()),
                         (len(down), harness.sha256(down)), "backend -> client stream damaged")
        self.assert_refused(front)
        self.assertTrue(mb.running())

    # 3 ---------------------------------------------------------------------
    def test_broken_file_keeps_the_previous_configuration(self):
        """A syntax error, then two bad values: each reload is rejected with
        FILE:LINE errors, STATUS says it failed, and round-robin goes on
        exactly as before; the next good file applies."""
        bk = {n: self.ident_backend(n) for n in "abcd"}
        front = harness.free_addr()
        good = harness.config(harness.frontend("web", front, [(n, bk[n].addr) for n in "abc"]))
        mb = self.daemon(good)
        listener = harness.listener_inode(mb, front)
        self.assertEqual([self.who(front) for _ in range(4)], list("abca"))

        syntax = good.replace(f'backend b {{ forward_to = "{bk["b"].addr}"',
                              f'backend b {{ forward_to "{bk["b"].addr}"')
        self.assertNotEqual(syntax, good)
        status = mb.reload(syntax, expect_ok=False)
        self.assertGreaterEqual(self.assert_rejected(mb, status, [(harness.line_of(syntax, "forward_to \""),)]), 1)
        self.assertEqual([self.who(front) for _ in range(2)], list("bc"),
                         "round-robin did not go on where it was after a rejected reload")

        values = harness.config(harness.frontend("web", front, [("a", bk["a"].addr, "weight = 0"),
                                                        ("b", bk["b"].addr), ("c", bk["c"].addr)],
                                         connect_timeout="5x"))
        status = mb.reload(values, expect_ok=False)
        n = self.assert_rejected(mb, status, [(harness.line_of(values, "connect_timeout = 5x"), "connect_timeout"),
                                              (harness.line_of(values, "weight = 0"), "weight")])
        self.assertEqual(n, 2, f"STATUS={status!r}: two errors in the file")
        self.assertEqual([self.who(front) for _ in range(4)], list("abca"),
                         "round-robin did not go on where it was after a rejected reload")
        self.assertEqual(harness.listener_inode(mb, front), listener)

        fixed = harness.config(harness.frontend("web", front, [(n, bk[n].addr) for n in "abcd"]))
        mb.reload(fixed)
        self.assert_reloaded(mb, (0, 0, 1, 0), (1, 0, 0, 3))
        self.assertEqual(collections.Counter(self.who(front) for _ in range(8)),
                         {"a": 2, "b": 2, "c": 2, "d": 2}, "the good file was not applied")
        self.assertEqual(harness.listener_inode(mb, front), listener)

    # 4 ---------------------------------------------------------------------
    def test_round_robin_continues_across_reloads(self):
        """The same backends: the next client goes where it would have gone
        without the reload, whether the file is the same, has its sections
        moved around, or changes another frontend; the listener is kept."""
        bk = {n: self.ident_backend(n) for n in ("a", "b", "c", "o1", "o2")}
        front, other = harness.free_addr(), harness.free_addr()
        web = harness.frontend("web", front, [(n, bk[n].addr) for n in "abc"])
        other_1 = harness.frontend("other", other, [("o1", bk["o1"].addr)], idle_timeout="10m")
        other_2 = harness.frontend("other", other, [("o1", bk["o1"].addr), ("o2", bk["o2"].addr)],
                           idle_timeout="20m")
        base = harness.config(web, other_1)
        # The frontends swapped, comments and blank lines, one option per
        # line, the global options last: the same configuration.
        moved = ("# sections moved around\n\n" + other_1 + "\n# the web frontend\n"
                 + web.replace(" { forward_to", " {\n    forward_to").replace('" }', '"\n  }')
                 + "\nmax_connections = 1000\n")
        r = harness.run(["-t", "-c", self.write_file("moved.conf", moved)])
        self.assertEqual(r.returncode, 0, f"the moved-around file is not valid: {r}")
        mb = self.daemon(base)
        listener = harness.listener_inode(mb, front)
        k = 0

        def next_clients(n, why):
            nonlocal k
            got = [self.who(front) for _ in range(n)]
            want = ["abc"[(k + i) % 3] for i in range(n)]
            k += n
            self.assertEqual(got, want, f"round-robin order {why}")

        next_clients(2, "before any reload")
        for text, why, counts in [
                (base, "after reloading the same file", ((0, 0, 0, 2), (0, 0, 0, 4))),
                (moved, "after a reload that moved sections around", ((0, 0, 0, 2), (0, 0, 0, 4))),
                (harness.config(web, other_2), "after a reload that changed another frontend",
                 ((0, 0, 1, 1), (1, 0, 0, 4))),
                (base, "after a reload that changed it back", ((0, 0, 1, 1), (0, 1, 0, 4)))]:
            mb.reload(text)
            self.assert_reloaded(mb, *counts)
            next_clients(1, why)
            self.assertEqual(self.who(other), "o1")
            next_clients(3, why)
            self.assertEqual(harness.listener_inode(mb, front), listener,
                             f"the listener was replaced {why}")

    def write_file(self, name, text):
        path = os.path.join(self.tmpdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # 5 ---------------------------------------------------------------------
    def test_backend_down_by_health_checks_stays_down(self):
        """a fails its checks and is marked down; a reload that keeps it
        (other options of the frontend change) leaves it down: STATUS says
        so, no client goes to it while its checks go on failing, no "is UP"
        or "is DOWN" line for it after the reload."""
        a, b = self._own(CheckedBackend("a")), self._own(CheckedBackend("b"))
        front = harness.free_addr()
        mb = self.daemon(harness.config(frontend_with_checks(front, [(a, False), (b, False)])))
        harness.wait_for(lambda: a.checks >= 1 and b.checks >= 1, 5 * SLOW, "the first checks")
        a.healthy.clear()
        mb.wait_status("web: 1/2 backends up", FALL * INTERVAL + TIMEOUT + SLACK + 5)
        mb.wait_log(r"frontend web: backend a is DOWN", what="a is DOWN")
        notes = len(mb.notify.lines)

        status = mb.reload(harness.config(frontend_with_checks(front, [(a, False), (b, False)],
                                                               extra="  idle_timeout = 30m")))
        self.assertIn("web: 1/2 backends up", status, "a is not down any more after the reload")
        self.assert_reloaded(mb, (0, 0, 1, 0), (0, 0, 0, 2))
        checks = a.checks
        got = collections.Counter()
        # Enough rounds of checks that a fresh state would have fallen again.
        deadline = time.monotonic() + (FALL + RISE + 2) * (INTERVAL + TIMEOUT) + SLACK + 5 * SLOW
        while a.checks < checks + FALL + RISE + 2:
            self.assertLess(time.monotonic(), deadline, "a is not checked any more")
            got[self.who_logged(mb, front, b"WHO\n")[0]] += 1
            time.sleep(0.02)            # pacing the clients, not synchronisation
        self.assertEqual(set(got), {"b"}, f"a got clients after the reload: {dict(got)}")
        # A client's own log line comes after anything logged before it.
        name, client = self.who_logged(mb, front, b"WHO\n")
        self.assertEqual(name, "b")
        mb.wait_log(rf"{re.escape(client)}: serving connection", since=mb.reloads[-1].log_mark)
        flaps = [l for l in mb.log_lines(mb.reloads[-1].log_mark) if re.search(r"backend a is (UP|DOWN)", l)]
        self.assertEqual(flaps, [], "a's state flapped across the reload")
        ups = [l for l in mb.notify.lines[notes:] if l.startswith("STATUS=") and "web: 2/2" in l]
        self.assertEqual(ups, [], "STATUS showed a up after the reload")

    def test_kept_backends_keep_their_check_timers(self):
        """A reload that adds a backend checks the new one at once and leaves
        the kept ones' checks where they were: no extra round of checks for
        them (with a long interval, none at all for a while)."""
        a, b = self._own(CheckedBackend("a")), self._own(CheckedBackend("b"))
        front = harness.free_addr()
        check = ('  health_check { interval = 20s  timeout = 1s  send = "PING\\r\\n"'
                 '  expect = "PONG" }')

        def text(*backends):
            lines = [f'frontend web {{', f'  bind_on = "{front}"', check]
            lines += [f'  backend {x.name} {{ forward_to = "{x.addr}" }}' for x in backends]
            return harness.config("\n".join(lines) + "\n}\n")

        mb = self.daemon(text(a))
        harness.wait_for(lambda: a.checks == 1, 5 * SLOW, "a's first check")
        mb.reload(text(a, b))
        self.assert_reloaded(mb, (0, 0, 1, 0), (1, 0, 0, 1))
        # b's first check comes within a tenth of the interval; a's next one
        # only 20 s after its first.
        harness.wait_for(lambda: b.checks == 1, 5 * SLOW, "the added backend's first check")
        self.assertEqual(a.checks, 1, "the kept backend was checked again because of the reload")

    def test_passively_ejected_backend_stays_ejected_for_its_remaining_time(self):
        """max_fails = 1: a refuses once and is ejected for fail_timeout; it
        listens again at once.  A reload halfway through keeps it ejected
        (no client to it), and it comes back when the first fail_timeout
        ends, not a whole fail_timeout after the reload."""
        ft = 6.0 * SLOW
        a, b = self.storm_backend("a"), self.storm_backend("b")
        a_addr = a.addr
        a.close()                                   # refuses from now
        front = harness.free_addr()

        def conf(connect_timeout):
            return harness.config(harness.frontend("web", front, [("a", a_addr), ("b", b.addr)],
                                           max_fails=1, fail_timeout=f"{int(ft * 1000)}ms",
                                           connect_timeout=connect_timeout))
        mb = self.daemon(conf("5s"))
        before = time.monotonic()
        self.assertEqual(self.who(front), "b")      # tried a first: refused
        mb.wait_status("web: 1/2 backends up")
        again = self._own(harness.Backend(announcing("a"), addr=a_addr, name="a"))

        def only_b_until(t, why):
            for _ in range(100000):
                if time.monotonic() >= t:
                    return
                self.assertEqual(self.who(front), "b", f"a got a client while ejected {why}")
                time.sleep(0.02)        # pacing the clients, not synchronisation
            self.fail("too many clients")
        only_b_until(before + ft / 2, "before the reload")
        notes = len(mb.notify.lines)
        status = mb.reload(conf("4s"))
        self.assertIn("web: 1/2 backends up", status, "a is not ejected any more after the reload")
        self.assert_reloaded(mb, (0, 0, 1, 0), (0, 0, 0, 2))
        only_b_until(before + ft - 1.0 * SLOW, "after the reload")
        self.assertEqual(again.accepted, 0, "a got a connection while ejected")
        mb.wait_status("web: 2/2 backends up", ft + SLACK * SLOW + 5, start=notes)
        back = time.monotonic() - before
        self.assertLess(back, ft + 1.5 * SLOW,
                        f"a came back {back:.1f} s after its ejection: its fail_timeout ({ft} s) "
                        f"started again at the reload ({mb.reloads[-1].sent - before:.1f} s)")
        self.assertIn("a", {self.who(front) for _ in range(4)})

    # 6 ---------------------------------------------------------------------
    def test_new_frontend_listens_removed_one_refuses_its_session_goes_on(self):
        x = self.controlled_backend()
        two_b, three_b = self.ident_backend("two"), self.ident_backend("three")
        one, two, three = harness.free_addr(), harness.free_addr(), harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("one", one, [("x", x.addr)]),
                                        harness.frontend("two", two, [("t", two_b.addr)])))
        self.assert_refused(three)
        c, b = self.established(one, x)
        listener = harness.listener_inode(mb, two)

        mb.reload(harness.config(harness.frontend("two", two, [("t", two_b.addr)]),
                                 harness.frontend("three", three, [("t3", three_b.addr)])))
        self.assert_reloaded(mb, (1, 1, 0, 1), (1, 1, 0, 1))
        self.assertEqual(self.who_at(three, "the new frontend three"), "three")
        self.assert_refused(one)
        self.relay_both_ways(c, b, b"still relaying after its frontend was removed")
        self.assertEqual(self.who(two), "two")
        self.assertEqual(harness.listener_inode(mb, two), listener, "a kept listener was replaced")
        self.end_session(c, b)
        x.assert_no_connection()

    def test_bind_failure_of_a_new_frontend_rejects_the_whole_reload(self):
        """A new frontend's address is taken: the reload is rejected whole
        (the backend added to web is not applied), the error names the
        frontend and the address; once the address is free the same file
        applies."""
        bk = {n: self.ident_backend(n) for n in ("a", "b", "c", "n")}
        front, taken = harness.free_addr(), harness.free_addr()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(harness.close_quietly, holder)
        holder.bind(taken.sockaddr)
        holder.listen(1)
        mb = self.daemon(harness.config(harness.frontend("web", front, [(n, bk[n].addr) for n in "ab"])))
        listener = harness.listener_inode(mb, front)
        self.assertEqual([self.who(front) for _ in range(3)], list("aba"))

        status = mb.reload(harness.config(harness.frontend("web", front, [(n, bk[n].addr) for n in "abc"]),
                                          harness.frontend("newcomer", taken, [("n", bk["n"].addr)])),
                           expect_ok=False)
        self.assertGreaterEqual(self.assert_rejected(mb, status), 1)
        where = re.escape(str(taken))
        mb.wait_log(rf"newcomer.*{where}|{where}.*newcomer", since=mb.reloads[-1].log_mark,
                    what=f"an error naming frontend newcomer and {taken}")
        self.assertEqual([self.who(front) for _ in range(4)], list("baba"),
                         "web changed, or its round-robin did not go on, after a rejected reload")
        self.assertEqual(bk["c"].accepted, 0, "the backend added in the rejected file got a client")
        self.assertEqual(harness.listener_inode(mb, front), listener)

        holder.close()
        mb.reload()                  # the same file
        self.assert_reloaded(mb, (1, 0, 1, 0), (2, 0, 0, 2))
        self.assertEqual(self.who_at(taken, "the new frontend newcomer"), "n")
        self.assertEqual(collections.Counter(self.who(front) for _ in range(6)),
                         {"a": 2, "b": 2, "c": 2})

    # 7 ---------------------------------------------------------------------
    def test_frontend_renamed_on_the_same_address_refuses_nobody(self):
        """web becomes site and back, 6 times, on the same bind_on, while
        clients connect: every client is served."""
        a, b = self.storm_backend("a"), self.storm_backend("b")
        front = harness.free_addr()

        def conf(title):
            return harness.config(harness.frontend(title, front, [("a", a.addr), ("b", b.addr)]))
        mb = harness.Daemon(self, conf("web"), args=()).start()
        storm = self.storm(front)
        storm.wait_served_after(time.monotonic())
        for k in range(6):
            mb.reload(conf("site" if k % 2 == 0 else "web"))
            self.assert_reloaded(mb, (1, 1, 0, 0), (2, 2, 0, 0))
            storm.wait_served_after(mb.reloads[-1].ready)
        storm.stop()
        failed = storm.failures()
        self.assertEqual(failed, [], f"{len(failed)} of {len(storm.clients)} clients failed")
        self.assertEqual({cl.name for cl in storm.clients}, {"a", "b"})

    # 8 ---------------------------------------------------------------------
    def test_toml_file_reloads(self):
        """A .toml file: a [[frontend.backend]] added applies (the first one
        kept), an unknown key is rejected with FILE:LINE."""
        one, two = self.ident_backend("one"), self.ident_backend("two")
        front = harness.free_addr()
        first = (f'# seed-style configuration\n[frontend]\nbind_on = "{front}"\n\n'
                 f'[[frontend.backend]]\nforward_to = "{one.addr}"\n')
        second = first + f'\n[[frontend.backend]]\nforward_to = "{two.addr}"\n'
        mb = harness.Daemon(self, first, filename="seed.toml").start()
        listener = harness.listener_inode(mb, front)
        self.assertEqual([self.who(front) for _ in range(2)], ["one", "one"])

        mb.reload(second)
        self.assert_reloaded(mb, (0, 0, 1, 0), (1, 0, 0, 1))
        got = [self.who(front) for _ in range(4)]
        self.assertEqual(collections.Counter(got), {"one": 2, "two": 2}, f"{got}")
        self.assertEqual(harness.listener_inode(mb, front), listener)

        broken = second.replace(f'bind_on = "{front}"\n', f'bind_on = "{front}"\ntimeout = "5s"\n')
        status = mb.reload(broken, expect_ok=False)
        self.assertEqual(self.assert_rejected(mb, status, [(harness.line_of(broken, "timeout ="), "timeout")]), 1)
        following = {"one": "two", "two": "one"}
        self.assertEqual([self.who(front) for _ in range(2)],
                         [following[got[-1]], got[-1]], "round-robin after a rejected reload")

    # 9 ---------------------------------------------------------------------
    def test_workers_change_is_a_warning_and_keeps_the_running_value(self):
        a = self.ident_backend("a")
        front = harness.free_addr()

        def conf(workers):
            return harness.config(harness.frontend("web", front, [("a", a.addr)]), workers=workers)
        mb = self.daemon(conf(2))
        threads = sum(1 for n in thread_names(mb) if n.startswith("mb-worker-"))
        self.assertEqual(threads, 1, "workers = 2: one thread beside the main one")
        mb.reload(conf(3))
        mb.wait_log(PREFIX + r"warning: .*\bworkers\b", since=mb.reloads[-1].log_mark,
                    what="a warning naming workers")
        self.assertEqual(self.who(front), "a")
        self.assertTrue(mb.running())
        self.assertEqual(sum(1 for n in thread_names(mb) if n.startswith("mb-worker-")), threads,
                         "the number of workers changed without a restart")

    def test_log_level_applies_at_once(self):
        """Started without -v at log_level = message: no per-connection line;
        after a reload to info, a client's "serving connection" line appears;
        after a reload back to message, none again."""
        a = self.ident_backend("a")
        front = harness.free_addr()

        def conf(level):
            return harness.config(harness.frontend("web", front, [("a", a.addr)]), log_level=level)
        mb = harness.Daemon(self, conf("message"), args=()).start()

        def serving(client):
            return re.compile(rf"{re.escape(client)}: serving connection")
        _, first = self.who_logged(mb, front)
        mb.reload(conf("info"))
        self.assert_reloaded(mb, (0, 0, 0, 1), (0, 0, 0, 1))
        # Lines are written in order: the first client's would be before this one.
        self.assertFalse(any(serving(first).search(l) for l in mb.log_lines()),
                         "a per-connection line at log_level = message")
        _, second = self.who_logged(mb, front)
        mb.wait_log(serving(second).pattern, since=mb.reloads[-1].log_mark,
                    what=f"{second}: serving connection, at log_level = info")

        mb.reload(conf("message"))
        _, third = self.who_logged(mb, front)
        mb.reload(conf("message"))
        self.assert_reloaded(mb, (0, 0, 0, 1), (0, 0, 0, 1))
        self.assertFalse(any(serving(third).search(l) for l in mb.log_lines()),
                         "a per-connection line after log_level went back to message")

    def test_shutdown_timeout_applies_at_once(self):
        """shutdown_timeout 120 s reloaded to 1 s: SIGTERM with a session
        open ends the drain after about 1 s, exit 0."""
        x = self.controlled_backend()
        front = harness.free_addr()

        def conf(timeout):
            return harness.config(harness.frontend("web", front, [("x", x.addr)]), shutdown_timeout=timeout)
        mb = self.daemon(conf("120s"))
        mb.reload(conf("1s"))
        c, b = self.established(front, x)
        started = time.monotonic()
        mb.signal(signal.SIGTERM)
        self.assertEqual(mb.wait(harness.EXIT_TIMEOUT), 0)
        self.assertGreater(time.monotonic() - started, 0.5, "the session was not drained at all")
        harness.wait_closed(c)

    def test_max_connections_applies_at_once(self):
        """max_connections reloaded from 1000 to 1: a second client waits in
        the backlog while the first is served; reloaded back to 1000, it is
        served at once."""
        a = self.ident_backend("a")
        front = harness.free_addr()

        def conf(limit):
            return harness.config(harness.frontend("web", front, [("a", a.addr)]), max_connections=limit)
        mb = self.daemon(conf(1000))
        mb.reload(conf(1))
        first = self.connect(front)
        self.assertEqual(harness.recv_line(first), "a")
        second = self.connect(front)
        harness.wait_for(lambda: harness.accept_queue(mb, front) == 1, 5 * SLOW,
                         "the second client to wait in the listen backlog")
        self.assertEqual(select.select([second], [], [], 0)[0], [], "the second client was served")
        mb.reload(conf(1000))
        self.assertEqual(harness.recv_line(second), "a", "not served once the limit was raised")

    # 10 --------------------------------------------------------------------
    def test_sessions_outlive_their_removed_frontend_and_backend_then_clean_stop(self):
        """Sessions through a frontend and a backend that reloads remove go
        on relaying; two end afterwards; SIGTERM drains the last one; exit 0
        as soon as it ends (under MB_VALGRIND=1 the harness then checks for
        leaks: the removed objects must be freed)."""
        gx, s1 = self.controlled_backend(), self.controlled_backend()
        s2 = self.ident_backend("s2")
        gone, stay = harness.free_addr(), harness.free_addr()

        def conf(stage):
            sections = [harness.frontend("gone", gone, [("gx", gx.addr)])] if stage < 2 else []
            sections.append(harness.frontend("stay", stay, ([("s1", s1.addr)] if stage < 1 else [])
                                     + [("s2", s2.addr)]))
            return harness.config(*sections, shutdown_timeout="120s")
        mb = self.daemon(conf(0))
        g1, g2 = self.established(gone, gx), self.established(gone, gx)
        st = self.established(stay, s1)           # round-robin: s1 first

        mb.reload(conf(1))
        self.assert_reloaded(mb, (0, 0, 1, 1), (0, 1, 0, 2))
        mb.reload(conf(2))
        self.assert_reloaded(mb, (0, 1, 0, 1), (0, 1, 0, 1))
        self.assert_refused(gone)
        for i, pair in enumerate((g1, g2, st)):
            self.relay_both_ways(*pair, f"session {i} after the reloads".encode())
        self.end_session(*g2)
        self.end_session(*st)
        self.assertEqual([self.who(stay) for _ in range(2)], ["s2", "s2"])

        mb.signal(signal.SIGTERM)
        mb.wait_notify("STOPPING=1")
        self.relay_both_ways(*g1, b"during the drain")
        self.assertTrue(mb.running(), "daemon exited with a session still open")
        self.end_session(*g1)
        self.assertEqual(mb.wait(harness.EXIT_TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
