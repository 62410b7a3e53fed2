#!/usr/bin/env python3
"""The control socket (admin_socket), daemon side, end to end: DESIGN.md
section "Control socket and mini-balancerctl" and the protocol's working spec
(issue 13).  Every command against real traffic, the actions steering new
clients while live sessions go on, reloads keeping the runtime state, each
kind of bad input (after which the daemon still serves traffic and other
control clients), peer credentials, and the socket file's life.

harness.Admin is the client: one command per line, one JSON object per line
back, every read bounded.  Counters may be up to 1 s old (byte counts of
live sessions): tests poll for them, bounded, never sleep.

MB_SLOW_TESTS=1 also runs the full 30 s idle-client case, which
test_admin_idle.py runs on its own (make check runs both)."""

import datetime
import grp
import hashlib
import json
import os
import re
import select
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_health import CheckedBackend, frontend_with_checks, FALL, INTERVAL, TIMEOUT, SLACK, RISE  # noqa: E402
from test_privileges import unprivileged_identity  # noqa: E402

SLOW = 6 if harness.VALGRIND else 1
COUNTERS = 3.0 * SLOW           # counters are at most 1 s old: this covers it
RELOAD = harness.RELOAD_TIMEOUT  # a `reload` answer comes when the reload is over
IDLE = 30.0                      # the daemon closes a control client silent this long
MAX_CLIENTS = 16
LINE_LIMIT = 4096
OPT_IN = "opt-in"               # the reason of a skip that Runner does not count

HELP = ["show info", "show frontends", "show backends [FRONTEND]",
        "disable FRONTEND/BACKEND", "drain FRONTEND/BACKEND", "enable FRONTEND/BACKEND",
        "set weight FRONTEND/BACKEND WEIGHT", "shutdown sessions FRONTEND/BACKEND",
        "reload", "help"]

BY_CONTROL_SOCKET = "set with the control socket"
AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")      # UTC, ISO 8601, seconds

# The members of each answer and their JSON types (None: null allowed).
INFO_MEMBERS = {"version": str, "pid": int, "uptime_s": int, "config_file": str,
                "workers": int, "sessions": int, "reloads": int,
                "last_reload": (dict, None), "descriptors": dict, "relay": str,
                "relay_bytes": dict}
DESCRIPTOR_MEMBERS = {"limit": int, "in_use": int, "reserve": int, "sessions": int, "pipes": int}
RELAY_BYTES_MEMBERS = {"path": str, "bytes_spliced": int, "bytes_copied": int}
FRONTEND_MEMBERS = {"title": str, "bind_on": str, "balance": str, "state": str,
                    "sessions": int, "connections": int, "failed": int,
                    "bytes_received": int, "bytes_sent": int}
BACKEND_MEMBERS = {"frontend": str, "title": str, "address": str, "forward_to": str,
                   "state": str, "why": (str, None), "weight": int, "backup": bool,
                   "sessions": int, "connections": int, "connect_failures": int,
                   "bytes_sent": int, "bytes_received": int, "last_check": (dict, None)}
CHECK_MEMBERS = {"at": str, "ok": bool, "detail": (str, None)}




def json_type_ok(value, kind):
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if k is None and value is None:
            return True
        if k is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if k not in (None, int) and isinstance(value, k):
            return True
    return False


def by_title(answer, frontend):
    """The backends of FRONTEND in a `show backends` answer: {title: entry}."""
    entries = answer.get("backends")
    if not isinstance(entries, list):
        raise AssertionError(f"no \"backends\" list in {answer}")
    return {b.get("title"): b for b in entries if b.get("frontend") == frontend}


def frontend_entry(answer, title):
    entries = answer.get("frontends")
    if not isinstance(entries, list):
        raise AssertionError(f"no \"frontends\" list in {answer}")
    found = [f for f in entries if f.get("title") == title]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} frontends titled {title!r} in {answer}")
    return found[0]


def mismatches(entries, want):
    """[(title, member, have, want)] where ENTRIES ({title: entry}) differ from
    WANT ({title: {member: value}}); a missing title is a mismatch too."""
    out = []
    for title, members in want.items():
        entry = entries.get(title)
        if entry is None:
            out.append((title, None, "missing", None))
            continue
        for k, v in members.items():
            if entry.get(k, "<absent>") != v:
                out.append((title, k, entry.get(k, "<absent>"), v))
    return out


def short_dir(test):
    """A fresh directory under /tmp (short enough for a socket path), removed at cleanup."""
    d = tempfile.mkdtemp(prefix="mb-e2e-", dir="/tmp")
    test.addCleanup(harness.remove_temp_dir, d)
    return d


def who_checked(front):
    """A client of CheckedBackends (test_health): the name it answers to WHO."""
    s = harness.connect(front)
    try:
        harness.send_all(s, b"WHO\n")
        return harness.recv_line(s)
    finally:
        s.close()


def who_from(front, source):
    """A client of FRONT from the loopback address SOURCE: the name its backend announces."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(harness.IO_TIMEOUT)
        s.connect(front.sockaddr)
        return harness.recv_line(s)
    finally:
        s.close()


# --------------------------------------------------------------------------
# A control client under another uid: a forked child that switches its
# groups and uid (root only) and talks to the socket; its findings come back
# as JSON through a pipe.

CHILD_TIMEOUT = 20.0


def _talk(path):
    """Connect, send "help" then "show info", read an answer to each (or
    what happens instead).  Runs in the child."""
    out = {"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
           "lines": [], "end": None}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(harness.IO_TIMEOUT)
        try:
            s.connect(path)
        except OSError as e:
            out["connect_error"] = str(e)
            return out
        return _exchange(s, out)


def _exchange(s, out):
    buf = b""
    for command in (b"help\n", b"show info\n"):
        try:
            s.sendall(command)
        except OSError as e:               # closed already: read what it said first
            out.setdefault("send_error", str(e))
        while b"\n" not in buf:
            try:
                data = s.recv(65536)
            except socket.timeout:
                out["end"] = "timeout"
                return out
            except ConnectionResetError:
                out["end"] = "reset"
                return out
            if not data:
                out["end"] = "eof"
                return out
            buf += data
            if len(buf) > 1 << 20:
                out["end"] = "answer too long"
                return out
        line, _, buf = buf.partition(b"\n")
        try:
            out["lines"].append(json.loads(line))
        except ValueError:
            out["lines"].append(line.decode(errors="replace"))
    out["end"] = "open"
    return out


def as_user(path, uid, gid, groups):
    """Fork a child that drops to UID, GID and the supplementary GROUPS, then
    _talk()s to the control socket at PATH; returns its findings (a dict).
    Bounded: a child still running after CHILD_TIMEOUT is killed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # the child: never returns
        status = 1
        try:
            os.close(r)
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            data = json.dumps(_talk(path)).encode()
            status = 0
        except BaseException as e:                # noqa: B902 - reported to the parent
            data = json.dumps({"child_error": repr(e)}).encode()
        try:
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(status)
    os.close(w)
    deadline = time.monotonic() + CHILD_TIMEOUT
    chunks = []
    try:
        for _ in range(1 << 16):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"child (uid {uid}) said nothing within {CHILD_TIMEOUT} s")
            readable, _, _ = select.select([r], [], [], left)
            if not readable:
                continue
            data = os.read(r, 65536)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(r)
        for _ in range(1 << 16):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
    result = json.loads(b"".join(chunks).decode())
    if "child_error" in result:
        raise AssertionError(f"child (uid {uid}): {result['child_error']}")
    return result


# --------------------------------------------------------------------------

class AdminCase(harness.TestCase):
    """Starts a daemon with admin_socket set; self.ctl is a control client."""

    def start(self, sections, admin_group=None, path=None, **options):
        self.path = path or self.admin_socket_path()
        extra = {"admin_socket": f'"{self.path}"'}
        if admin_group is not None:
            extra["admin_group"] = f'"{admin_group}"'
        self.text = harness.config(*sections, **extra, **options)
        self.mb = self.daemon(self.text)
        self.ctl = self.admin(self.path)
        return self.mb

    def simple(self, names="ab", global_options=None, **options):
        """Identifying backends NAMES behind frontend "web" (round-robin
        unless OPTIONS say otherwise)."""
        self.bk = {n: self.ident_backend(n) for n in names}
        self.front = harness.free_addr()
        self.start([self.web(**options)], **(global_options or {}))

    def web(self, **options):
        """The frontend section "web" of self.front and self.bk."""
        return harness.frontend("web", self.front, [(n, b.addr) for n, b in self.bk.items()], **options)

    # -- clients and sessions

    def hold(self, front):
        """A client that stays connected: (socket, the name of its backend)."""
        s = self.connect(front)
        return s, harness.recv_line(s)

    def whos(self, n, front=None):
        return [self.who(front or self.front) for _ in range(n)]

    def echo_intact(self, s, size=1 << 20):
        """SIZE random bytes through the echoing session S come back intact."""
        payload = os.urandom(size)
        sender = harness.Worker(harness.send_all, s, payload, 30.0 * SLOW, name="echo-send")
        sender.start()
        try:
            back = harness.recv_exact(s, size, timeout=30.0 * SLOW)
        finally:
            sender.join(30.0 * SLOW)
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(payload).hexdigest(),
                         "bytes through the live session came back damaged")

    # -- answers

    def assert_members(self, entry, members, what):
        for name, kind in members.items():
            self.assertIn(name, entry, f"{what}: no member {name!r} in {entry}")
            self.assertTrue(json_type_ok(entry[name], kind),
                            f"{what}: {name} = {entry[name]!r} is not of type {kind}")

    def assert_error(self, answer, error, what=None):
        self.assertEqual((answer.get("ok"), answer.get("error")), (False, error),
                         what or f"answer {answer}")

    def poll(self, command, predicate, what, timeout=COUNTERS, ctl=None, explain=None):
        """Send COMMAND until PREDICATE(answer) holds; returns that answer.
        Fails after TIMEOUT seconds, quoting the last answer."""
        ctl = ctl or self.ctl
        deadline = time.monotonic() + timeout
        answer = None
        for _ in range(1 << 16):
            answer = ctl.ok(command)
            if predicate(answer):
                return answer
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)            # between two looks at the counters
        detail = explain(answer) if explain else answer
        self.fail(f"{what}: not within {timeout} s; last answer to {command!r}: {detail}")

    def poll_backends(self, want, frontend="web", timeout=COUNTERS):
        """Poll `show backends FRONTEND` until each backend of WANT ({title:
        {member: value}}) has those values; returns {title: entry}."""
        answer = self.poll(f"show backends {frontend}",
                           lambda a: not mismatches(by_title(a, frontend), want),
                           f"show backends {frontend}: {want}", timeout,
                           explain=lambda a: f"differences (title, member, have, want): "
                                             f"{mismatches(by_title(a, frontend), want)}; {a}")
        return by_title(answer, frontend)

    def poll_frontend(self, title, want, timeout=COUNTERS):
        answer = self.poll("show frontends",
                           lambda a: not mismatches({title: frontend_entry(a, title)}, {title: want}),
                           f"show frontends: {title} {want}", timeout,
                           explain=lambda a: f"differences: "
                                             f"{mismatches({title: frontend_entry(a, title)}, {title: want})}; {a}")
        return frontend_entry(answer, title)

    def action(self, line, **want):
        """An action that must succeed, answering "frontend", "backend" and WANT."""
        answer = self.ctl.ok(line)
        fe_be = line.split()[-2] if line.startswith("set weight") else line.split()[-1]
        fe, _, be = fe_be.partition("/")
        expected = {"frontend": fe, "backend": be, **want}
        got = {k: answer.get(k, "<absent>") for k in expected}
        self.assertEqual(got, expected, f"answer to {line!r}: {answer}")
        return answer

    def assert_serving(self):
        """The daemon runs, a client through the frontend is served, the
        first control client and a new one both get answers."""
        self.assertTrue(self.mb.running(), f"the daemon exited: {self.mb.stderr(3000)}")
        self.assertIn(self.who(self.front), self.bk, "a client through the frontend")
        self.assertEqual(self.ctl.ok("help").get("commands"), HELP, "the first control client")
        fresh = self.admin(self.path)
        self.assertEqual(fresh.ok("show frontends")["frontends"][0]["title"], "web",
                         "a new control client")
        fresh.close()


# --------------------------------------------------------------------------

class Show(AdminCase):
    """The show commands against real traffic."""

    def test_help_lists_every_command(self):
        self.simple()
        answer = self.ctl.ok("help")
        self.assertEqual(answer.get("commands"), HELP)

    def test_show_info_members_and_values(self):
        """Members and types; pid, version, config file, workers, live
        sessions; reloads and last_reload after a SIGHUP; uptime advances."""
        before = time.monotonic()
        self.simple(global_options={"workers": 2})
        s, _ = self.hold(self.front)
        info = self.poll("show info", lambda a: a.get("sessions") == 1, "show info: sessions 1")
        self.assert_members(info, INFO_MEMBERS, "show info")
        self.assert_members(info["descriptors"], DESCRIPTOR_MEMBERS, "show info: descriptors")
        self.assert_members(info["relay_bytes"], RELAY_BYTES_MEMBERS, "show info: relay_bytes")
        self.assertEqual(info["version"], harness.version_from_configure_ac())
        self.assertEqual(info["pid"], self.mb.pid)
        self.assertEqual(info["config_file"], self.mb.config_path)
        self.assertEqual(info["workers"], 2)
        self.assertLessEqual(info["uptime_s"], time.monotonic() - before + 1)
        self.assertGreaterEqual(info["uptime_s"], 0)
        self.assertEqual(info["reloads"], 0)
        self.assertIsNone(info["last_reload"])
        self.assertIn(info["relay"], ("splice", "copy"))
        self.assertEqual(info["relay_bytes"]["path"], info["relay"])
        self.assertGreater(info["descriptors"]["limit"], info["descriptors"]["in_use"])

        self.mb.reload()
        info = self.ctl.ok("show info")
        self.assertEqual(info["reloads"], 1)
        last = info["last_reload"]
        self.assertIsInstance(last, dict, info)
        self.assertEqual((last.get("ok"), last.get("errors")), (True, []), info)
        self.assertRegex(last.get("at", ""), AT)
        at = datetime.datetime.strptime(last["at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - at).total_seconds())
        self.assertLess(skew, 60, f"last_reload.at {last['at']} is not about now (UTC)")
        first = info["uptime_s"]
        self.poll("show info", lambda a: a["uptime_s"] >= first + 1, "uptime_s to advance")

    def test_show_frontends_counts_and_the_held_state(self):
        """connections = clients accepted, sessions = live ones; state
        listening, then held at the frontend's max_connections, listening
        again once below it; another frontend counts apart."""
        a, x = self.ident_backend("a"), self.ident_backend("x")
        front, other = harness.free_addr(), harness.free_addr()
        self.front = front
        self.start([harness.frontend("web", front, [("a", a.addr)], max_connections=2),
                    harness.frontend("other", other, [("x", x.addr)], balance="least-connections")])
        self.assertEqual(self.whos(4), ["a"] * 4)
        s1, _ = self.hold(front)
        web = self.poll_frontend("web", {"connections": 5, "sessions": 1, "state": "listening"})
        self.assert_members(web, FRONTEND_MEMBERS, "show frontends: web")
        self.assertEqual((web["bind_on"], web["balance"], web["failed"]),
                         (str(front), "round-robin", 0))
        entry = frontend_entry(self.ctl.ok("show frontends"), "other")
        self.assert_members(entry, FRONTEND_MEMBERS, "show frontends: other")
        self.assertEqual({k: entry[k] for k in ("bind_on", "balance", "state", "sessions", "connections")},
                         {"bind_on": str(other), "balance": "least-connections", "state": "listening",
                          "sessions": 0, "connections": 0})

        s2, _ = self.hold(front)
        self.poll_frontend("web", {"connections": 6, "sessions": 2, "state": "held"})
        waiting = self.connect(front)
        harness.wait_for(lambda: harness.accept_queue(self.mb, front) == 1, 5 * SLOW,
                         "the third client to wait in the listen backlog")
        self.assertEqual(frontend_entry(self.ctl.ok("show frontends"), "web")["connections"], 6,
                         "a client still in the backlog counted as accepted")
        s1.close()
        self.assertEqual(harness.recv_line(waiting), "a", "the waiting client not served")
        self.poll_frontend("web", {"connections": 7, "sessions": 2, "state": "held"})
        s2.close()
        waiting.close()
        self.poll_frontend("web", {"connections": 7, "sessions": 0, "state": "listening"})
        self.assertEqual(self.who(other), "x")
        self.poll_frontend("other", {"connections": 1, "sessions": 0})
        self.poll_frontend("web", {"connections": 7})

    def test_show_backends_counts_per_backend(self):
        """After 6 finished and 3 live round-robin clients each of a, b, c has
        3 connections and 1 session; members, address, weight, backup, no
        check yet; `show backends FE` lists that frontend's only."""
        bk = {n: self.ident_backend(n) for n in "abcdx"}
        self.bk = bk
        self.front, other = harness.free_addr(), harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", bk["a"].addr), ("b", bk["b"].addr),
                                                 ("c", bk["c"].addr, "weight = 1"),
                                                 ("d", bk["d"].addr, "backup = true weight = 5")]),
                    harness.frontend("other", other, [("x", bk["x"].addr)])])
        self.assertEqual(self.whos(6), list("abcabc"))
        held = [self.hold(self.front) for _ in range(3)]
        self.assertEqual([n for _, n in held], list("abc"))
        want = {n: {"connections": 3, "sessions": 1, "connect_failures": 0} for n in "abc"}
        want["d"] = {"connections": 0, "sessions": 0}
        entries = self.poll_backends(want)
        for n in "abcd":
            e = entries[n]
            self.assert_members(e, BACKEND_MEMBERS, f"show backends: {n}")
            self.assertEqual({k: e[k] for k in ("frontend", "address", "forward_to", "state", "why",
                                                 "last_check")},
                             {"frontend": "web", "address": str(bk[n].addr),
                              "forward_to": str(bk[n].addr), "state": "up", "why": None,
                              "last_check": None}, f"backend {n}")
        self.assertEqual([(entries[n]["weight"], entries[n]["backup"]) for n in "abcd"],
                         [(1, False), (1, False), (1, False), (5, True)])

        every = self.ctl.ok("show backends")["backends"]
        self.assertEqual([(b["frontend"], b["title"]) for b in every],
                         [("web", n) for n in "abcd"] + [("other", "x")])
        only = self.ctl.ok("show backends other")["backends"]
        self.assertEqual([(b["frontend"], b["title"], b["connections"]) for b in only],
                         [("other", "x", 0)])
        for s, _ in held:
            s.close()
        self.poll_backends({n: {"connections": 3, "sessions": 0} for n in "abc"})

    def test_byte_counts_include_a_live_session(self):
        """Known amounts each way: the backend's bytes_sent (to it) and
        bytes_received (from it), and the frontend's, show a session that is
        still open (within 1 s), then the sum with a finished one."""
        backend = self.controlled_backend()
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("app", backend.addr)])])
        up, down = os.urandom(10000), os.urandom(30000)
        c, b = self.established(self.front, backend)          # 4 bytes each way
        harness.send_all(c, up)
        self.assertEqual(harness.recv_exact(b, len(up)), up)
        harness.send_all(b, down)
        self.assertEqual(harness.recv_exact(c, len(down)), down)
        to_backend, from_backend = 4 + len(up), 4 + len(down)
        self.poll_backends({"app": {"sessions": 1, "bytes_sent": to_backend,
                                    "bytes_received": from_backend}})
        self.poll_frontend("web", {"sessions": 1, "bytes_received": to_backend,
                                   "bytes_sent": from_backend})

        # The live session ends; a second one moves 4 + 100 up, 4 + 200 down.
        c.close()
        harness.wait_closed(b)
        b.close()
        c2, b2 = self.established(self.front, backend)
        harness.send_all(c2, b"u" * 100)
        self.assertEqual(harness.recv_exact(b2, 100), b"u" * 100)
        harness.send_all(b2, b"d" * 200)
        self.assertEqual(harness.recv_exact(c2, 200), b"d" * 200)
        c2.close()
        harness.wait_closed(b2)
        b2.close()
        to_backend += 104
        from_backend += 204
        self.poll_backends({"app": {"sessions": 0, "connections": 2, "bytes_sent": to_backend,
                                    "bytes_received": from_backend}})
        self.poll_frontend("web", {"sessions": 0, "connections": 2, "bytes_received": to_backend,
                                   "bytes_sent": from_backend})

    def test_connect_failures_of_a_refusing_backend(self):
        """a refuses: round-robin tries it first for every other client (3 of
        6), each a connect failure; b takes all 6; the frontend failed none."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        a.close()
        self.bk = {"b": b}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", a.addr), ("b", b.addr)])])
        self.assertEqual(self.whos(6), ["b"] * 6)
        self.poll_backends({"a": {"connect_failures": 3, "connections": 0, "sessions": 0,
                                  "state": "up"},
                            "b": {"connect_failures": 0, "connections": 6}})
        self.poll_frontend("web", {"connections": 6, "failed": 0})

    def test_health_checks_state_why_and_last_check(self):
        """With checks: last_check filled in ({at, ok, detail}); a backend
        failing them is "down" with a reason in "why", then "up" again."""
        a, b = self._own(CheckedBackend("a")), self._own(CheckedBackend("b"))
        front = harness.free_addr()
        self.start([frontend_with_checks(front, [(a, False), (b, False)])])
        harness.wait_for(lambda: a.checks >= 1 and b.checks >= 1, 5 * SLOW, "the first checks")
        entries = self.poll("show backends web",
                            lambda ans: all(e.get("last_check") for e in by_title(ans, "web").values()),
                            "last_check filled in for a and b")
        for n, e in by_title(entries, "web").items():
            self.assert_members(e["last_check"], CHECK_MEMBERS, f"{n}: last_check")
            self.assertRegex(e["last_check"]["at"], AT)
            self.assertEqual((e["last_check"]["ok"], e["last_check"]["detail"], e["state"], e["why"]),
                             (True, None, "up", None), f"backend {n}")

        a.healthy.clear()
        down = FALL * INTERVAL + TIMEOUT + SLACK + COUNTERS
        entries = self.poll("show backends web",
                            lambda ans: by_title(ans, "web").get("a", {}).get("state") == "down",
                            "a down by its checks", timeout=down)
        e = by_title(entries, "web")["a"]
        self.assertIsInstance(e["why"], str, e)
        self.assertTrue(e["why"].strip(), f"why is empty: {e}")
        self.assertIs(e["last_check"]["ok"], False, e)
        self.assertEqual(by_title(entries, "web")["b"]["state"], "up")

        a.healthy.set()
        self.poll_backends({"a": {"state": "up", "why": None}},
                           timeout=RISE * INTERVAL + TIMEOUT + SLACK + COUNTERS)


class Actions(AdminCase):
    """disable, drain, enable, set weight, shutdown sessions."""

    def test_disable_drain_enable_steer_new_clients_while_a_live_session_goes_on(self):
        self.simple("abc")
        live, name = self.hold(self.front)
        self.assertEqual(name, "a")
        self.echo_intact(live)

        self.action("disable web/a", state="maint")
        entries = self.poll_backends({"a": {"state": "maint", "sessions": 1}})
        self.assertEqual(entries["a"]["why"], BY_CONTROL_SOCKET)
        # The pick group changed: round-robin starts over among b and c.
        self.assertEqual(self.whos(6), list("bcbcbc"), "new clients while a is in maintenance")
        self.echo_intact(live)

        self.action("enable web/a", state="up")
        self.poll_backends({"a": {"state": "up", "why": None}})
        self.assertEqual(self.whos(6), list("abcabc"), "new clients once a is enabled")

        self.action("drain web/b", state="drain")
        entries = self.poll_backends({"b": {"state": "drain"}})
        self.assertEqual(entries["b"]["why"], BY_CONTROL_SOCKET)
        self.assertEqual(self.whos(6), list("acacac"), "new clients while b drains")
        self.echo_intact(live)
        self.action("enable web/b", state="up")
        self.assertEqual(self.whos(3), list("abc"))

        self.action("disable web/a", state="maint")
        self.echo_intact(live)
        live.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(live), b"", "the live session did not end cleanly")
        self.poll_backends({"a": {"sessions": 0, "state": "maint"}})

    def test_disable_stops_health_checks_drain_keeps_them(self):
        """a gets no client here, only checks: none arrive while it is in
        maintenance (one already under way may), they resume once enabled,
        and go on while it drains."""
        a, b = self._own(CheckedBackend("a")), self._own(CheckedBackend("b"))
        front = harness.free_addr()
        self.start([frontend_with_checks(front, [(a, False), (b, False)])])
        harness.wait_for(lambda: a.checks >= 1 and b.checks >= 1, 5 * SLOW, "the first checks")

        self.action("disable web/a", state="maint")
        a_then, b_then = a.accepted, b.checks
        harness.wait_for(lambda: b.checks >= b_then + 6, 6 * INTERVAL + 5 * SLOW,
                         "six more checks of b")
        self.assertLessEqual(a.accepted, a_then + 1,
                             f"a was checked {a.accepted - a_then} times in maintenance")
        self.poll_backends({"a": {"state": "maint"}})

        self.action("enable web/a")
        enabled = a.accepted
        harness.wait_for(lambda: a.accepted >= enabled + 2, 2 * INTERVAL + 5 * SLOW,
                         "checks of a to resume once enabled")
        self.poll_backends({"a": {"state": "up"}})

        self.action("drain web/a", state="drain")
        drained = a.accepted
        harness.wait_for(lambda: a.accepted >= drained + 3, 3 * INTERVAL + 5 * SLOW,
                         "checks of a to go on while it drains")
        self.poll_backends({"a": {"state": "drain"}})
        self.assertEqual([who_checked(front) for _ in range(4)], ["b"] * 4,
                         "a client sent to a while it drains")

    def test_disabled_backend_is_never_tried_even_when_the_others_refuse(self):
        """b refuses.  With a in maintenance (then draining) a client is
        closed rather than sent to a; enabled, a serves again."""
        a, b = self.ident_backend("a"), self.ident_backend("b")
        b.close()
        self.bk = {"a": a}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", a.addr), ("b", b.addr)])])
        self.assertEqual(self.who(self.front), "a")
        for action, state in (("disable", "maint"), ("drain", "drain")):
            self.action(f"{action} web/a", state=state)
            accepted = a.accepted
            c = self.connect(self.front)
            harness.wait_closed(c)          # closed without a byte: no backend took it
            c.close()
            self.assertEqual(a.accepted, accepted, f"a ({state}) was tried")
        self.poll_backends({"a": {"connections": 1}, "b": {"connect_failures": 2}})
        self.poll_frontend("web", {"failed": 2})
        self.action("enable web/a", state="up")
        self.assertEqual(self.whos(2), ["a", "a"])

    def test_source_hash_skips_a_disabled_backend(self):
        """Clients that hashed to b go elsewhere while b is disabled; the
        others stay put; enabled again, everyone is back where they were."""
        self.simple("abc", balance="source-hash")
        sources = [f"127.0.{i // 200}.{2 + i % 200}" for i in range(30)]
        where = {src: who_from(self.front, src) for src in sources}
        self.assertIn("b", where.values(), f"no source hashed to b: {where}")
        self.action("disable web/b", state="maint")
        during = {src: who_from(self.front, src) for src in sources}
        for src in sources:
            if where[src] == "b":
                self.assertIn(during[src], ("a", "c"), f"{src} still sent to b in maintenance")
            else:
                self.assertEqual(during[src], where[src], f"{src} moved though its backend is up")
        self.action("enable web/b")
        self.assertEqual({src: who_from(self.front, src) for src in sources}, where)

    def test_set_weight_gives_the_new_pattern(self):
        """1:1 alternates; set weight a 3 gives a a b a (smooth round-robin
        starting over); the weight in force is shown; 1 again alternates."""
        self.simple("ab")
        self.assertEqual(self.whos(4), list("abab"))
        self.action("set weight web/a 3", weight=3)
        self.poll_backends({"a": {"weight": 3}, "b": {"weight": 1}})
        self.assertEqual(self.whos(12), list("aabaaabaaaba"))
        self.action("set weight web/a 1", weight=1)
        self.assertEqual(self.whos(4), list("abab"))
        self.action("set weight web/b 256", weight=256)
        self.poll_backends({"b": {"weight": 256}})

    def test_shutdown_sessions_resets_that_backends_sessions_only(self):
        self.simple("ab")
        held = [self.hold(self.front) for _ in range(4)]
        self.assertEqual([n for _, n in held], list("abab"))
        self.poll_backends({"a": {"sessions": 2}, "b": {"sessions": 2}})
        self.action("shutdown sessions web/a", closed=2)
        for s, n in held:
            if n == "a":
                self.assertEqual(harness.wait_closed(s), "reset", "a session of a not reset")
        for s, n in held:
            if n == "b":
                harness.send_all(s, b"still here")
                self.assertEqual(harness.recv_exact(s, 10), b"still here", "a session of b cut")
        self.poll_backends({"a": {"sessions": 0, "state": "up"}, "b": {"sessions": 2}})
        self.assertEqual(self.who(self.front), "a", "a takes new clients after its shutdown")
        self.poll_backends({"a": {"sessions": 0, "connections": 3}})
        self.action("shutdown sessions web/a", closed=0)


class Reloads(AdminCase):

    def test_reload_command_answers_with_the_errors_of_a_bad_file(self):
        """A bad file: ok false, "reload failed: 2 errors", each error
        FILE:LINE; the old configuration serves on; a good file: ok true, its
        new backend is in show backends as soon as the answer came."""
        self.simple("ab")
        good = self.text
        bad = good.replace(f'backend b {{ forward_to = "{self.bk["b"].addr}"',
                           f'backend b {{ forward_to = "{self.bk["b"].addr}" weight = 0', 1)
        bad = bad.replace("frontend web {\n", "frontend web {\n  connect_timeout = 5x\n", 1)
        self.assertNotEqual(bad, good)
        self.mb.write_config(bad)
        answer = self.ctl.command("reload", timeout=RELOAD)
        self.assertEqual((answer["ok"], answer.get("error")), (False, "reload failed: 2 errors"),
                         answer)
        errors = answer.get("errors")
        self.assertIsInstance(errors, list, answer)
        path = self.mb.config_path
        for needle, word in (("connect_timeout = 5x", "connect_timeout"), ("weight = 0", "weight")):
            tag = f"{path}:{harness.line_of(bad, needle)}:"
            self.assertTrue(any(isinstance(e, str) and e.startswith(tag) and word in e for e in errors),
                            f"no error '{tag} ... {word} ...' in {errors}")
        self.assertEqual(len(errors), 2, errors)
        self.assertEqual(self.whos(4), list("abab"), "the previous configuration no longer serves")
        last = self.ctl.ok("show info")["last_reload"]
        self.assertEqual((last["ok"], last["errors"]), (False, errors))

        c = self.ident_backend("c")
        self.bk["c"] = c
        self.mb.write_config(harness.config(self.web(), admin_socket=f'"{self.path}"'))
        answer = self.ctl.command("reload", timeout=RELOAD)
        self.assertEqual((answer["ok"], answer.get("errors")), (True, []), answer)
        entries = by_title(self.ctl.ok("show backends web"), "web")
        self.assertEqual(sorted(entries), ["a", "b", "c"])
        self.assertEqual((entries["c"]["state"], entries["c"]["address"]), ("up", str(c.addr)))
        self.assertIn("c", self.whos(3))
        last = self.ctl.ok("show info")["last_reload"]
        self.assertEqual((last["ok"], last["errors"]), (True, []))

    def test_runtime_state_survives_reloads_unless_the_file_changes_the_weight(self):
        """maint, drain and a runtime weight survive a SIGHUP and a `reload`
        command that keep the backends; a reload that changes that backend's
        weight in the file overrides the runtime weight."""
        bk = {n: self.ident_backend(n) for n in "abcd"}
        self.bk = bk
        self.front = harness.free_addr()

        def text(names, c_weight=None):
            backends = [(n, bk[n].addr, f"weight = {c_weight}" if n == "c" and c_weight else "")
                        for n in names]
            return harness.config(harness.frontend("web", self.front, backends),
                                  admin_socket=f'"{self.path}"')
        self.path = self.admin_socket_path()
        self.mb = self.daemon(text("abc"))
        self.ctl = self.admin(self.path)
        self.action("disable web/a", state="maint")
        self.action("drain web/b", state="drain")
        self.action("set weight web/c 3", weight=3)
        kept = {"a": {"state": "maint", "why": BY_CONTROL_SOCKET},
                "b": {"state": "drain", "why": BY_CONTROL_SOCKET},
                "c": {"state": "up", "weight": 3}}

        self.mb.reload(text("abc"))                           # SIGHUP, the same file
        self.poll_backends(kept)
        self.assertEqual(self.whos(4), ["c"] * 4, "a or b got a client after the SIGHUP")

        self.mb.write_config(text("abcd"))                   # the command, one more backend
        answer = self.ctl.command("reload", timeout=RELOAD)
        self.assertEqual((answer["ok"], answer.get("errors")), (True, []), answer)
        self.poll_backends({**kept, "d": {"state": "up", "weight": 1}})
        names = self.whos(8)
        self.assertLessEqual(set(names), {"c", "d"}, f"a or b got a client after the reload: {names}")
        self.assertIn("d", names)

        self.mb.reload(text("abcd", c_weight=2))             # the file changes c's weight
        kept["c"]["weight"] = 2
        self.poll_backends(kept)
        self.action("enable web/a", state="up")
        self.action("enable web/b", state="up")
        self.assertIn("a", self.whos(8))


class BadInput(AdminCase):
    """Each gets a clear error answer or is closed; after each the daemon
    serves traffic and other control clients (assert_serving)."""

    def test_unknown_command(self):
        self.simple()
        bad = self.admin(self.path)
        self.assert_error(bad.command("foo"), "unknown command 'foo' (try 'help')")
        self.assert_error(bad.command("frobnicate web/a"), "unknown command 'frobnicate' (try 'help')")
        self.assertEqual(bad.ok("help")["commands"], HELP, "the connection stays after an error")
        self.assert_serving()

    def test_missing_and_extra_arguments(self):
        self.simple()
        bad = self.admin(self.path)
        usage = {
            "disable": "usage: disable FRONTEND/BACKEND",
            "disable web/a web/b": "usage: disable FRONTEND/BACKEND",
            "drain": "usage: drain FRONTEND/BACKEND",
            "enable web/a now": "usage: enable FRONTEND/BACKEND",
            "set weight": "usage: set weight FRONTEND/BACKEND WEIGHT",
            "set weight web/a": "usage: set weight FRONTEND/BACKEND WEIGHT",
            "set weight web/a 2 3": "usage: set weight FRONTEND/BACKEND WEIGHT",
            "shutdown sessions": "usage: shutdown sessions FRONTEND/BACKEND",
            "shutdown sessions web/a web/b": "usage: shutdown sessions FRONTEND/BACKEND",
            "show info now": "usage: show info",
            "show frontends web": "usage: show frontends",
            "show backends web other": "usage: show backends [FRONTEND]",
            "reload now": "usage: reload",
            "help me": "usage: help",
        }
        for line, error in usage.items():
            self.assert_error(bad.command(line), error, f"answer to {line!r}")
        self.assertEqual(bad.ok("help")["commands"], HELP, "the connection stays after an error")
        self.poll_backends({n: {"state": "up", "weight": 1} for n in "ab"})
        self.assert_serving()

    def test_no_such_frontend_or_backend_and_target_without_slash(self):
        self.simple()
        bad = self.admin(self.path)
        cases = {
            "disable nosuch/a": "no frontend 'nosuch'",
            "drain web/nosuch": "frontend web has no backend 'nosuch'",
            "enable web": "'web' is not FRONTEND/BACKEND",
            "set weight web 3": "'web' is not FRONTEND/BACKEND",
            "set weight nosuch/a 3": "no frontend 'nosuch'",
            "shutdown sessions web/nosuch": "frontend web has no backend 'nosuch'",
            "disable web/a/b": "frontend web has no backend 'a/b'",
            "show backends nosuch": "no frontend 'nosuch'",
        }
        for line, error in cases.items():
            self.assert_error(bad.command(line), error, f"answer to {line!r}")
        self.poll_backends({n: {"state": "up", "weight": 1} for n in "ab"})
        self.assert_serving()

    def test_bad_weights(self):
        self.simple()
        bad = self.admin(self.path)
        for weight in ("0", "257", "abc", "-1", "3x"):
            self.assert_error(bad.command(f"set weight web/a {weight}"),
                              f"weight: '{weight}' is not a number from 1 to 256",
                              f"answer to set weight web/a {weight}")
        self.poll_backends({"a": {"weight": 1}})
        self.assertEqual(self.whos(4), list("abab"), "a bad weight changed the pattern")
        self.assert_serving()

    def test_empty_line_crlf_and_commands_in_one_write(self):
        """An empty line (also "\\r\\n") is an error and the connection stays;
        "\\r" before "\\n" is ignored; three commands in one write get three
        answers in order."""
        self.simple()
        bad = self.admin(self.path)
        self.assert_error(bad.command(""), "empty command (try 'help')")
        self.assert_error(bad.command("\r"), "empty command (try 'help')")
        bad.send("help\r\n")
        self.assertEqual(bad.answer()["commands"], HELP, "help\\r\\n")
        bad.send("help\nshow info\nfoo\n")
        self.assertEqual(bad.answer()["commands"], HELP)
        self.assertEqual(bad.answer()["pid"], self.mb.pid)
        self.assert_error(bad.answer(), "unknown command 'foo' (try 'help')")
        self.assert_serving()

    def test_line_of_4096_bytes_is_answered_4097_is_refused_and_closed(self):
        self.simple()
        longest = self.admin(self.path)
        answer = longest.command("x" * LINE_LIMIT)
        self.assertIs(answer["ok"], False)
        self.assertTrue(answer.get("error", "").startswith("unknown command 'x"), answer)
        self.assertEqual(longest.ok("help")["commands"], HELP, "closed after a 4096-byte line")

        over = self.admin(self.path)
        over.send("x" * (LINE_LIMIT + 1) + "\n")
        self.assert_error(over.answer(), f"line longer than {LINE_LIMIT} bytes")
        over.wait_closed()
        self.assert_serving()

    def test_long_line_without_newline_is_refused_and_closed(self):
        """64 KiB and no newline: refused once past the limit, not buffered
        waiting for an end of line."""
        self.simple()
        over = self.admin(self.path)
        over.send(b"y" * (64 << 10))
        self.assert_error(over.answer(), f"line longer than {LINE_LIMIT} bytes")
        over.wait_closed()
        self.assert_serving()

    def test_bytes_that_are_not_utf8(self):
        self.simple()
        for raw in (b"show backends \xff\xfe\n", b"disable web/\xe2\x82\n"):
            bad = self.admin(self.path)
            bad.send(raw)
            self.assert_error(bad.answer(), "the line is not UTF-8", f"answer to {raw!r}")
            bad.wait_closed()
        self.assert_serving()

    def test_17th_client_is_refused_and_a_freed_place_is_taken(self):
        self.simple()
        clients = [self.ctl] + [self.admin(self.path) for _ in range(MAX_CLIENTS - 1)]
        for i, c in enumerate(clients):
            self.assertEqual(c.ok("help")["commands"], HELP, f"control client {i + 1}")
        extra = self.admin(self.path)
        self.assert_error(extra.answer(), "too many control clients", "the 17th client")
        extra.wait_closed()
        self.assertIn(self.who(self.front), self.bk, "traffic with 16 control clients")
        for i, c in enumerate(clients):
            self.assertEqual(c.ok("show info")["pid"], self.mb.pid, f"control client {i + 1}")

        clients.pop().close()
        tries = []

        def accepted():
            c = harness.Admin(self.path)
            try:
                answer = c.command("help")
            except AssertionError as e:
                tries.append(str(e))
                return False
            finally:
                c.close()
            tries.append(answer)
            return answer.get("ok") is True
        harness.wait_for(accepted, 5 * SLOW, "a new control client accepted once one of 16 left")
        self.assertEqual(self.ctl.ok("help")["commands"], HELP)
        self.assertIn(self.who(self.front), self.bk)

    def test_silent_client_stays_harmless(self):
        """A client that connects and says nothing is still open (no answer,
        not closed) after a few seconds in which others are served, and can
        still ask.  The 30 s idle close itself: the MB_SLOW_TESTS case."""
        self.simple()
        silent = self.admin(self.path)
        window = time.monotonic() + 3.0
        served = 0
        for _ in range(1 << 16):           # a few seconds of others being served
            if time.monotonic() > window:
                break
            self.assertEqual(self.ctl.ok("show backends")["backends"][0]["title"], "a")
            self.assertIn(self.who(self.front), self.bk)
            served += 1
        self.assertGreater(served, 3)
        self.assertTrue(silent.is_open(), "the silent client was answered or closed")
        self.assertEqual(silent.ok("help")["commands"], HELP)
        self.assert_serving()

    @unittest.skipUnless(os.environ.get("MB_SLOW_TESTS") == "1",
                         OPT_IN + ": takes over 30 s; set MB_SLOW_TESTS=1 to run it")
    def test_silent_client_is_closed_after_30_s(self):
        """Runs only with MB_SLOW_TESTS=1 (it takes about 30 s); otherwise
        skipped, without making the whole file a SKIP (see Runner).  A
        client that says nothing is closed after 30 s, without an answer,
        and not much before; one that asks every 5 s in the meantime stays."""
        self.simple()
        busy = self.ctl                 # assert_serving() asks it again at the end
        silent = self.admin(self.path)
        connected = time.monotonic()
        closed_at = None
        for _ in range(1000):
            if time.monotonic() - connected > IDLE + 15:
                break
            readable, _, _ = select.select([silent], [], [], 5.0)
            if readable:
                silent.wait_closed(timeout=1.0)
                closed_at = time.monotonic() - connected
                break
            self.assertEqual(busy.ok("help")["commands"], HELP)
        self.assertIsNotNone(closed_at, f"the silent client still open after {IDLE + 15:.0f} s")
        self.assertGreaterEqual(closed_at, IDLE - 1, f"closed after {closed_at:.1f} s")
        self.assertLessEqual(closed_at, IDLE + 10, f"closed after {closed_at:.1f} s")
        self.assertGreater(time.monotonic() - connected, IDLE - 1)
        self.assertEqual(busy.ok("help")["commands"], HELP, "the busy client was closed")
        self.assert_serving()

    def test_client_that_leaves_before_its_answer(self):
        """`reload` or `show backends`, then close at once (also while
        another client's reload runs): forgotten; the daemon goes on."""
        self.simple()
        for line in ("reload", "show backends", "reload", "shutdown sessions web/a"):
            c = self.admin(self.path)
            c.send(line + "\n")
            c.close()
        c = self.admin(self.path)
        c.send("reload\n")
        c.close()
        answer = self.ctl.command("reload", timeout=RELOAD)
        self.assertEqual((answer["ok"], answer.get("errors")), (True, []), answer)
        self.assertGreaterEqual(self.ctl.ok("show info")["reloads"], 1)
        self.assert_serving()


class Peers(AdminCase):
    """SO_PEERCRED: uid 0, the daemon's own uid, or a member of admin_group.
    The clients of another uid are forked children that drop to it (root
    only).  The socket file is opened to everyone here (chmod 0666) so that
    the refusal under test is the daemon's, not the file system's."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root: a client of another uid is a child that calls setuid()")
        self.pw, self.gr = unprivileged_identity()
        if self.pw is None:
            self.skipTest("no nobody/nogroup on this system")
        # The children (and an unprivileged daemon) must reach the socket.
        os.chmod(self.tmpdir, 0o711)

    def open_to_everyone(self):
        self.assertTrue(stat.S_ISSOCK(os.stat(self.path).st_mode), f"{self.path} is not a socket")
        os.chmod(os.path.dirname(self.path), 0o711)
        os.chmod(self.path, 0o666)

    def assert_refused(self, result, uid):
        self.assertNotIn("connect_error", result, result)
        self.assertEqual(result["uid"], uid, result)
        self.assertEqual(result["lines"][:1],
                         [{"ok": False, "error": f"permission denied: uid {uid} may not use the "
                                                 f"control socket"}], result)
        self.assertEqual(len(result["lines"]), 1, f"answered after the refusal: {result}")
        self.assertIn(result["end"], ("eof", "reset"), f"not closed after the refusal: {result}")

    def assert_allowed(self, result):
        self.assertNotIn("connect_error", result, result)
        self.assertEqual(len(result["lines"]), 2, result)
        help_answer, info = result["lines"]
        self.assertEqual((help_answer.get("ok"), help_answer.get("commands")), (True, HELP), result)
        self.assertEqual((info.get("ok"), info.get("pid")), (True, self.mb.pid), result)
        self.assertEqual(result["end"], "open", result)

    def test_peer_of_another_uid_is_refused_and_closed(self):
        self.simple()
        self.open_to_everyone()
        result = as_user(self.path, self.pw.pw_uid, self.gr.gr_gid, [])
        self.assertEqual(result["groups"], [], result)
        self.assert_refused(result, self.pw.pw_uid)
        self.assert_serving()

    def test_member_of_admin_group_is_allowed(self):
        """admin_group G: a child with G as a supplementary group, or as its
        primary group, is served; the same uid without G is refused."""
        group = None
        for name in ("users", "staff", "adm", "daemon", "operator", "games"):
            try:
                g = grp.getgrnam(name)
            except KeyError:
                continue
            if g.gr_gid not in (0, self.gr.gr_gid, self.pw.pw_gid):
                group = g
                break
        if group is None:
            self.skipTest("no spare group to use as admin_group")
        self.bk = {n: self.ident_backend(n) for n in "ab"}
        self.front = harness.free_addr()
        self.start([self.web()], admin_group=group.gr_name)
        self.open_to_everyone()
        uid = self.pw.pw_uid
        member = as_user(self.path, uid, self.gr.gr_gid, [group.gr_gid])
        self.assertEqual((member["uid"], member["groups"]), (uid, [group.gr_gid]), member)
        self.assert_allowed(member)
        self.assert_allowed(as_user(self.path, uid, group.gr_gid, []))
        self.assert_refused(as_user(self.path, uid, self.gr.gr_gid, []), uid)
        self.assert_serving()

    def test_unprivileged_daemon_creates_the_socket_as_itself_and_serves_its_own_uid(self):
        """user = nobody: the socket is created after the privilege drop
        (owned by nobody, mode 0660); root and nobody (the daemon's own uid)
        are served; the socket is removed at exit."""
        run = short_dir(self)
        os.chown(run, self.pw.pw_uid, self.gr.gr_gid)
        os.chmod(run, 0o755)
        self.bk = {n: self.ident_backend(n) for n in "ab"}
        self.front = harness.free_addr()
        self.start([self.web()], path=os.path.join(run, "admin.sock"),
                   user=f'"{self.pw.pw_name}"', group=f'"{self.gr.gr_name}"')
        st = os.stat(self.path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid), (self.pw.pw_uid, self.gr.gr_gid),
                         "the socket was not created by the unprivileged daemon")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(self.ctl.ok("show info")["pid"], self.mb.pid, "root refused")
        self.assert_allowed(as_user(self.path, self.pw.pw_uid, self.gr.gr_gid, []))
        self.assert_serving()
        self.assertEqual(self.mb.stop(), 0)
        self.assertFalse(os.path.lexists(self.path), "the socket file is left after exit")


class SocketFile(AdminCase):
    """The socket file: mode, removal, a stale one, one another process answers on."""

    def test_socket_file_mode_0660_and_removed_at_exit(self):
        self.simple()
        self.assertEqual(self.ctl.ok("help")["commands"], HELP)
        st = os.stat(self.path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode), f"{self.path} is not a socket")
        self.assertEqual(oct(stat.S_IMODE(st.st_mode)), oct(0o660))
        self.assertEqual(self.mb.stop(), 0)
        self.assertFalse(os.path.lexists(self.path), "the socket file is left after exit")

    def test_stale_socket_file_is_replaced(self):
        path = self.admin_socket_path()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()                  # the file stays; nobody answers on it
        os.chmod(path, 0o600)
        self.bk = {"a": self.ident_backend("a")}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", self.bk["a"].addr)])], path=path)
        self.assertEqual(self.ctl.ok("help")["commands"], HELP)
        st = os.stat(path)
        self.assertEqual(oct(stat.S_IMODE(st.st_mode)), oct(0o660), "the stale file is still there")
        self.assert_serving()

    def test_another_process_answering_is_a_startup_error(self):
        """A Python server listens on the path: the daemon exits 1 naming
        the path, never sends READY=1, and leaves that socket alone."""
        path = self.admin_socket_path()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(harness.close_quietly, server)
        server.bind(path)
        server.listen(8)
        server.settimeout(0.1)
        stop = threading.Event()
        self.addCleanup(stop.set)

        def answer():
            for _ in range(1 << 16):                # 0.1 s accept timeouts: bounded
                if stop.is_set():
                    return
                try:
                    conn, _ = server.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                with conn:
                    try:
                        conn.sendall(b'{"ok":false,"error":"not a mini-balancer"}\n')
                    except OSError:
                        pass
        answering = threading.Thread(target=answer, daemon=True, name="other-server")
        answering.start()
        self.addCleanup(answering.join, 2)

        a = self.ident_backend("a")
        text = harness.config(harness.frontend("web", harness.free_addr(), [("a", a.addr)]),
                              admin_socket=f'"{path}"')
        mb = harness.Daemon(self, text).launch()
        deadline = time.monotonic() + harness.READY_TIMEOUT
        for _ in range(1 << 16):
            mb.notify.poll(0.05)
            if "READY=1" in mb.notify.lines:
                self.fail(f"the daemon started (READY=1) though another process answers on "
                          f"{path}; stderr:\n{mb.stderr(3000)}")
            if not mb.running() or time.monotonic() > deadline:
                break
        self.assertEqual(mb.wait(), 1, f"exit status; stderr:\n{mb.stderr(3000)}")
        mb.notify.poll(0)
        self.assertNotIn("READY=1", mb.notify.lines)
        err = mb.stderr()
        self.assertIn(path, err)
        self.assertIn("another process answers on it", err)
        # Our socket is still ours: the daemon neither removed nor replaced it.
        other = harness.Admin(path)
        try:
            self.assert_error(other.answer(), "not a mini-balancer")
        finally:
            other.close()


class _Result(unittest.TextTestResult):
    """Keeps opt-in skips (OPT_IN reasons) out of `skipped`, saying so."""

    def addSkip(self, test, reason):
        if not reason.startswith(OPT_IN):
            super().addSkip(test, reason)
            return
        self.stream.write(f"\nnot run: {test.id()}: {reason}\n")
        self.stream.flush()


class Runner(harness.Runner):
    """harness.Runner (exit 77 when something was skipped), except that an
    opt-in test left out (MB_SLOW_TESTS unset) does not turn the whole file
    into a SKIP: every other test ran, and the log says which one did not."""
    resultclass = _Result


if __name__ == "__main__":
    unittest.main(testRunner=Runner)
