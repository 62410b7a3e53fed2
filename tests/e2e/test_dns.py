#!/usr/bin/env python3
"""Backend names that change (DESIGN.md "Backend names that change (DNS)"),
end to end against a real DNS server: resolve_interval re-resolves host
names (a moved name takes new sessions, live ones stay; a failed lookup
keeps the last addresses and warns once; a name missing at start-up is a
down backend until it resolves), discover builds backends from SRV
records (added, removed, re-weighted, re-prioritised), and the control
socket's "lookup" and "discover" members say what the last lookup found.

The DNS server is dnsmasq (Debian package dnsmasq-base) on 127.0.0.1:53 of
a network namespace of our own, so that the daemon's resolver (glibc's,
through GResolver) asks it and nothing else.  Run as a script, this file
is two processes (netns.py):

  * outside: creates the namespace mbdns-<pid>-dns (lo up) and
    /etc/netns/<ns>/ with resolv.conf (nameserver 127.0.0.1),
    nsswitch.conf (hosts: files dns, so that no nss-resolve or mdns asks a
    resolver outside) and hosts (localhost only), which `ip netns exec`
    bind-mounts over /etc; runs itself again inside and relays its exit
    status.  Whatever happens (failure, SIGTERM, SIGINT) it then kills any
    process still in the namespace, deletes the namespace and removes
    /etc/netns/<ns> (and /etc/netns if it made it).
  * inside: the unittest run.  The backends (in threads), the clients, the
    daemon and dnsmasq all live on the namespace's loopback, where the
    whole of 127/8 is local: backends sit on 127.0.0.2, 127.0.0.3 ... so
    which backend answers shows which address a name resolved to.

Skipped (77) unless run as root with `ip` (iproute2) and dnsmasq installed,
or when this machine cannot create a network namespace.

dnsmasq re-reads its --addn-hosts file (the A records) on SIGHUP, but not
its --srv-host options: an SRV change restarts it with new options.  Each
change is confirmed with a DNS query of our own before the test starts
counting the daemon's time to notice it."""

import datetime
import os
import random
import shutil
import signal
import socket
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402
from test_admin import AdminCase, by_title, frontend_entry, json_type_ok  # noqa: E402

EX_CONFIG = 78
SLOW = 6 if harness.VALGRIND else 1
INTERVAL = 1.0                              # resolve_interval of every test
RESOLVE = "1s"
# The daemon must notice a change within one interval (and a lookup); this
# covers it with room for a busy machine.
WAIT = (INTERVAL * 5 + 5) * SLOW
POLL = 0.1                                  # between two looks while waiting
DNS_READY = 10.0 * SLOW                     # dnsmasq started until it answers
DNS_TIMEOUT = 0.5                           # one query of ours
SRV_NAME = "_app._tcp.test"
LOOKUP_MEMBERS = {"name": str, "at": (str, None), "ok": bool, "result": str}

# Addresses of the namespace's loopback (backends of one name share a port).
A, B, C = "127.0.0.2", "127.0.0.3", "127.0.0.4"

DNSMASQ = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n"
NSSWITCH_CONF = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


# --------------------------------------------------------------------------
# DNS on the wire: one question over UDP, the answer's A and SRV records.

QTYPE_A, QTYPE_SRV = 1, 33
RCODE_NXDOMAIN = 3


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg, i):
    """The name at offset I of MSG (compression pointers followed) and the
    offset just after it."""
    labels, end = [], None
    for _ in range(128):                        # a pointer loop ends here
        n = msg[i]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = i + 2
            i = ((n & 0x3F) << 8) | msg[i + 1]
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else i + 1)
        labels.append(msg[i + 1:i + 1 + n].decode("ascii"))
        i += 1 + n
    raise ValueError("a DNS name with too many labels or a pointer loop")


def dns_query(name, qtype, server=("127.0.0.1", 53), timeout=DNS_TIMEOUT):
    """Ask SERVER one question: (rcode, [record]) with A records as
    "a.b.c.d" and SRV records as (priority, weight, port, target), or None
    when nothing answers within TIMEOUT (or the port is closed)."""
    qid = random.getrandbits(16)
    packet = (struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name)
              + struct.pack("!2H", qtype, 1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        deadline = time.monotonic() + timeout
        try:
            s.connect(server)
            s.send(packet)
            for _ in range(16):                 # stray datagrams: a few, then give up
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                s.settimeout(left)
                msg = s.recv(4096)
                if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                    break
            else:
                return None
        except (socket.timeout, ConnectionRefusedError):
            return None
    _, flags, qdcount, ancount, _, _ = struct.unpack("!6H", msg[:12])
    i = 12
    for _ in range(qdcount):
        _, i = _read_name(msg, i)
        i += 4
    records = []
    for _ in range(ancount):
        _, i = _read_name(msg, i)
        rtype, _, _, rdlength = struct.unpack("!HHIH", msg[i:i + 10])
        i += 10
        if rtype == QTYPE_A and qtype == QTYPE_A:
            records.append(socket.inet_ntoa(msg[i:i + 4]))
        elif rtype == QTYPE_SRV and qtype == QTYPE_SRV:
            priority, weight, port = struct.unpack("!3H", msg[i:i + 6])
            records.append((priority, weight, port, _read_name(msg, i + 6)[0]))
        i += rdlength
    return flags & 0x0F, sorted(records)


# --------------------------------------------------------------------------
# The DNS server

class Dnsmasq:
    """dnsmasq on 127.0.0.1:53 of the namespace, authoritative for .test
    (--local: a name it does not know there is NXDOMAIN, never forwarded),
    TTL 0 on everything it answers.  A records come from a hosts file
    (set_hosts(): rewritten, then SIGHUP), SRV records of SRV_NAME from
    --srv-host options (restart()).  Every change is waited for with our
    own queries until dnsmasq answers what we asked for.  Stopped at the
    test's cleanup; its log then joins the daemon's in a failure report."""

    def __init__(self, test):
        self.test = test
        self.hosts_path = os.path.join(test.tmpdir, "dns-hosts")
        self.log_path = os.path.join(test.tmpdir, "dnsmasq.log")
        self.out_path = os.path.join(test.tmpdir, "dnsmasq.out")
        self.hosts = {}          # name -> [address]
        self.absent = set()      # names that must be NXDOMAIN
        self.srv = []            # [(target, port, priority, weight)] of SRV_NAME
        self.proc = None
        test.addCleanup(self._cleanup)

    def argv(self):
        argv = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                f"--addn-hosts={self.hosts_path}", "--local=/test/", "--local-ttl=0",
                "--bind-interfaces", "--listen-address=127.0.0.1", "--port=53",
                "--pid-file=", "--log-queries", f"--log-facility={self.log_path}"]
        argv += [f"--srv-host={SRV_NAME},{t},{port},{prio},{weight}"
                 for t, port, prio, weight in self.srv]
        return argv

    def _write_hosts(self):
        tmp = self.hosts_path + ".new"
        with open(tmp, "w") as f:
            for name, addrs in self.hosts.items():
                for a in addrs:
                    f.write(f"{a} {name}\n")
        os.replace(tmp, self.hosts_path)

    def start(self, hosts=None, srv=None, absent=()):
        if hosts is not None:
            self.hosts = {n: list(a) for n, a in hosts.items()}
        if srv is not None:
            self.srv = list(srv)
        self.absent = set(absent) - set(self.hosts)
        self._write_hosts()
        self.proc = harness.spawn(self.argv(), self.out_path)
        self._wait_serving("dnsmasq started")
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (bounded, then SIGKILL); afterwards nothing answers on port 53."""
        if self.proc is not None:
            harness.stop_process(self.proc)
        answer = dns_query("probe.test", QTYPE_A)
        if answer is not None:
            raise AssertionError(f"dnsmasq stopped, yet port 53 still answers: {answer}")

    def restart(self, srv=None, hosts=None, absent=()):
        """A new dnsmasq with new --srv-host options (a SIGHUP does not re-read them)."""
        self.stop()
        self.start(hosts=hosts, srv=srv, absent=absent)

    def set_hosts(self, hosts, absent=()):
        """Replace the A records (names in HOSTS, names dropped become
        NXDOMAIN), SIGHUP, and wait until dnsmasq answers the new ones."""
        dropped = set(self.hosts) - set(hosts)
        self.hosts = {n: list(a) for n, a in hosts.items()}
        self.absent = (self.absent | dropped | set(absent)) - set(self.hosts)
        self._write_hosts()
        self.proc.send_signal(signal.SIGHUP)
        self._wait_serving("dnsmasq after SIGHUP")

    def mismatch(self):
        """None when every answer is the one asked for, else what differs."""
        for name, addrs in self.hosts.items():
            have = dns_query(name, QTYPE_A)
            if have != (0, sorted(addrs)):
                return f"{name} A: answered {have}, want (0, {sorted(addrs)})"
        for name in sorted(self.absent):
            have = dns_query(name, QTYPE_A)
            if have is None or have[0] != RCODE_NXDOMAIN:
                return f"{name} A: answered {have}, want NXDOMAIN"
        want = sorted((prio, weight, port, t) for t, port, prio, weight in self.srv)
        have = dns_query(SRV_NAME, QTYPE_SRV)
        if want and have != (0, want) or not want and have is not None and have[1]:
            return f"{SRV_NAME} SRV: answered {have}, want (0, {want})"
        return None

    def _wait_serving(self, what):
        deadline = time.monotonic() + DNS_READY
        for _ in range(1 << 16):
            if self.proc.poll() is not None:
                raise AssertionError(f"{what}: dnsmasq exited with status {self.proc.returncode}"
                                     f":\n{harness._tail(self.out_path, 4000)}")
            wrong = self.mismatch()
            if wrong is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not serving the records asked for within "
                                     f"{DNS_READY} s: {wrong}")
            time.sleep(POLL)

    def _cleanup(self):
        if self.proc is not None:
            harness.stop_process(self.proc)
        logs = getattr(self.test, "daemon_logs", None)
        if logs is not None:
            logs.append(f"--- dnsmasq ({' '.join(self.argv())}):\n"
                        f"{harness._tail(self.out_path, 2000)}"
                        f"{harness._tail(self.log_path, 6000)}--- end of dnsmasq log\n")


# --------------------------------------------------------------------------
# The namespace: netns.py makes it (the outer process) and its /etc files

ETC = {"resolv.conf": RESOLV_CONF, "nsswitch.conf": NSSWITCH_CONF, "hosts": HOSTS}


def setUpModule():
    ns = netns.names()["dns"]
    with open("/etc/resolv.conf") as f:
        text = f.read()
    if text != RESOLV_CONF:
        raise AssertionError(f"inside {ns}, /etc/resolv.conf is not ours "
                             f"(ip netns exec did not bind-mount it): {text!r}")


# --------------------------------------------------------------------------
# Tests

def parse_at(text):
    """An ISO 8601 time (UTC when it names no zone) as an aware datetime."""
    at = datetime.datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=datetime.timezone.utc)


def warnings_about(lines, name):
    """The warning lines of the daemon's log (harness.LOG_LINE) naming NAME."""
    out = []
    for line in lines:
        m = harness.LOG_LINE.match(line)
        if m and m.group(2) == "warning" and name in m.group(3):
            out.append(line)
    return out


class DnsCase(AdminCase):
    """A dnsmasq (self.dns, not started) and a control client per daemon."""

    def setUp(self):
        super().setUp()
        self.dns = Dnsmasq(self)
        self.front = harness.free_addr()

    def web(self, backends, **options):
        """Frontend "web" on self.front re-resolving every INTERVAL."""
        options.setdefault("resolve_interval", RESOLVE)
        return harness.frontend("web", self.front, backends, **options)

    def backends(self, frontend="web"):
        return by_title(self.ctl.ok(f"show backends {frontend}"), frontend)

    def lookup(self, title, frontend="web"):
        entry = self.backends(frontend).get(title)
        self.assertIsNotNone(entry, f"no backend {frontend}/{title} in show backends")
        return entry.get("lookup", "<absent>")

    def assert_lookup(self, value, name, ok, what):
        """VALUE is a lookup object for NAME whose last lookup succeeded (OK)
        or failed; returns it."""
        self.assertIsInstance(value, dict, f"{what}: lookup is {value!r}, want an object")
        for member, kind in LOOKUP_MEMBERS.items():
            self.assertIn(member, value, f"{what}: no member {member!r} in lookup {value}")
            self.assertTrue(json_type_ok(value[member], kind),
                            f"{what}: lookup.{member} = {value[member]!r} is not of type {kind}")
        self.assertEqual((value["name"], value["ok"]), (name, ok), f"{what}: lookup {value}")
        if value["at"] is not None:
            try:
                at = parse_at(value["at"])
            except ValueError:
                self.fail(f"{what}: lookup.at {value['at']!r} is not an ISO 8601 time")
            skew = abs((datetime.datetime.now(datetime.timezone.utc) - at).total_seconds())
            self.assertLess(skew, 300, f"{what}: lookup.at {value['at']} is not about now")
        self.assertTrue(value["result"], f"{what}: lookup.result is empty: {value}")
        return value

    def poll_lookup(self, title, predicate, what, frontend="web"):
        """Poll show backends until PREDICATE(lookup of TITLE); returns that lookup."""
        answer = self.poll(f"show backends {frontend}",
                           lambda a: predicate(by_title(a, frontend).get(title, {}).get("lookup")),
                           what, timeout=WAIT,
                           explain=lambda a: by_title(a, frontend).get(title))
        return by_title(answer, frontend)[title]["lookup"]

    def until_reaches(self, name, what, front=None):
        """New clients, one every POLL seconds, until one reaches backend
        NAME; returns what the others reached (fails after WAIT s)."""
        front = front or self.front
        seen = []
        deadline = time.monotonic() + WAIT
        for _ in range(1 << 16):
            got = self.who(front)
            if got == name:
                return seen
            seen.append(got)
            if time.monotonic() > deadline:
                break
            time.sleep(POLL)
        self.fail(f"{what}: no client reached {name} within {WAIT} s; "
                  f"they reached {seen[:20]}{' ...' if len(seen) > 20 else ''}")

    def hold(self, front=None, want=None):
        """A client that stays connected (to backend WANT when given: a few
        tries); returns (socket, backend name)."""
        for _ in range(10):
            s = self.connect(front or self.front)
            name = harness.recv_line(s)
            if want is None or name == want:
                return s, name
            s.close()
        self.fail(f"no client reached {want} in 10 tries")

    def assert_echoes(self, s, what):
        payload = f"still there {random.getrandbits(32)}\n".encode()
        harness.send_all(s, payload)
        self.assertEqual(harness.recv_exact(s, len(payload)), payload, what)


class Reresolve(DnsCase):
    """resolve_interval: names resolved again while the daemon runs."""

    def test_changed_address_takes_new_sessions_and_keeps_live_ones(self):
        """app.test moves from A to B: within an interval or so new clients
        reach B (the backend on B's address, same port), and no longer A;
        a session opened to A before goes on through A."""
        a = self.ident_backend("a", addr=harness.Addr(A, 0))
        self.ident_backend("b", addr=harness.Addr(B, a.addr.port))
        self.dns.start({"app.test": [A]})
        self.start([self.web([("app", f"app.test:{a.addr.port}")])])
        self.assertEqual([self.who(self.front) for _ in range(3)], ["a"] * 3,
                         "clients before the name moved")
        live, _ = self.hold(want="a")

        self.dns.set_hosts({"app.test": [B]})
        changed = time.monotonic()
        earlier = self.until_reaches("b", "app.test moved to " + B)
        took = time.monotonic() - changed
        sys.stderr.write(f"\nnew sessions reached the new address {took:.2f} s after dnsmasq "
                         f"answered it (resolve_interval {RESOLVE}; before: {earlier})\n")
        self.assertEqual([self.who(self.front) for _ in range(6)], ["b"] * 6,
                         "clients after the first one reached the new address")
        self.assert_echoes(live, "the session opened to the old address")
        lookup = self.poll_lookup("app", lambda v: isinstance(v, dict) and B in v.get("result", ""),
                                  f"lookup.result naming {B}")
        self.assert_lookup(lookup, "app.test", True, "after the move")
        self.assertNotIn(A, lookup["result"], f"the old address still in lookup {lookup}")

    def test_failed_lookup_keeps_last_address_and_warns_once(self):
        """dnsmasq stopped: lookups fail, new clients still reach the last
        address, and the failure is one warning however many lookups fail;
        once the name resolved again, the next failure warns again."""
        a = self.ident_backend("a", addr=harness.Addr(A, 0))
        self.dns.start({"app.test": [A]})
        self.start([self.web([("app", f"app.test:{a.addr.port}")])])
        self.poll_lookup("app", lambda v: isinstance(v, dict) and v.get("ok") is True
                         and v.get("at") is not None, "a first successful lookup")

        mark = self.mb.stderr_mark()
        self.dns.stop()
        first = self.poll_lookup("app", lambda v: isinstance(v, dict) and v.get("ok") is False,
                                 "lookup.ok false with dnsmasq stopped")
        self.assert_lookup(first, "app.test", False, "dnsmasq stopped")
        # Three more failed lookups (lookup.at moves on) while clients keep
        # reaching the last address.
        failed_at = {first["at"]}
        reached = []
        deadline = time.monotonic() + WAIT
        for _ in range(1 << 16):
            reached.append(self.who(self.front))
            lookup = self.lookup("app")
            self.assertIs(lookup.get("ok"), False, f"lookup with dnsmasq stopped: {lookup}")
            failed_at.add(lookup["at"])
            if len(failed_at) >= 4:
                break
            self.assertLess(time.monotonic(), deadline,
                            f"not four failed lookups within {WAIT} s (lookup.at seen: "
                            f"{sorted(failed_at, key=str)})")
            time.sleep(POLL)
        self.assertEqual(set(reached), {"a"}, "clients while lookups fail")
        warned = warnings_about(self.mb.log_lines(mark), "app.test")
        self.assertEqual(len(warned), 1, f"warnings about app.test over {len(failed_at)} failed "
                                         f"lookups: {warned}; log:\n{self.mb.stderr_since(mark)}")

        self.dns.start()
        self.poll_lookup("app", lambda v: isinstance(v, dict) and v.get("ok") is True,
                         "lookup.ok true with dnsmasq back")
        again = self.mb.stderr_mark()
        self.dns.stop()
        self.mb.wait_log(r" warning: .*app\.test", timeout=WAIT, since=again,
                         what="a warning about app.test after it had resolved again")
        self.assertEqual(self.who(self.front), "a")

    def test_name_missing_at_start_is_down_until_it_resolves(self):
        """late.test does not resolve at start-up: the daemon starts anyway,
        the backend is down ("no address") and a client is closed; once
        the name resolves the backend is up and takes clients."""
        late = self.ident_backend("late", addr=harness.Addr(A, 0))
        self.dns.start({"other.test": [B]}, absent=["late.test"])
        self.start([self.web([("late", f"late.test:{late.addr.port}")])])
        entry = self.backends()["late"]
        self.assertEqual(entry["state"], "down", f"a backend whose name does not resolve: {entry}")
        self.assertIn("no address", entry["why"] or "", f"why it is down: {entry}")
        self.assert_lookup(entry.get("lookup", "<absent>"), "late.test", False, "late.test missing")

        s = self.connect(self.front)
        self.assertIn(harness.wait_closed(s), ("eof", "reset"))
        self.assertEqual(late.accepted, 0, "a backend without an address got a connection")

        self.dns.set_hosts({"other.test": [B], "late.test": [A]})
        self.poll_backends({"late": {"state": "up"}}, timeout=WAIT)
        self.assertEqual([self.who(self.front) for _ in range(3)], ["late"] * 3)
        self.assert_lookup(self.lookup("late"), "late.test", True, "late.test added")


class Discover(DnsCase):
    """discover: the backends are the SRV records of a name."""

    def start_discovering(self, srv):
        self.targets = {"b1": self.ident_backend("b1", addr=harness.Addr(A, 0)),
                        "b2": self.ident_backend("b2", addr=harness.Addr(B, 0)),
                        "b3": self.ident_backend("b3", addr=harness.Addr(C, 0))}
        self.dns.start({f"{n}.test": [b.addr.host] for n, b in self.targets.items()},
                       srv=[self.record(*r) for r in srv])
        self.start([self.web([], discover=f'"{SRV_NAME}"')])

    def record(self, name, priority, weight):
        return (f"{name}.test", self.targets[name].addr.port, priority, weight)

    def title(self, name):
        return f"{name}.test:{self.targets[name].addr.port}"

    def change(self, srv):
        """New SRV records: dnsmasq restarted with them."""
        self.dns.restart(srv=[self.record(*r) for r in srv])

    def poll_plan(self, want, what, gone=()):
        """Poll show backends until the titles are exactly those of WANT
        ({name: {member: value}}) with those values; returns {name: entry}.
        The names in GONE were removed: the contract does not say whether
        one still shows while its live sessions last, so it may, but not
        as "up"."""
        titles = {self.title(n): members for n, members in want.items()}
        removed = {self.title(n) for n in gone}

        def matches(answer):
            have = by_title(answer, "web")
            return (set(have) - removed == set(titles)
                    and all(have[t].get("state") != "up" for t in removed & set(have))
                    and all(have[t].get(k) == v
                            for t, members in titles.items() for k, v in members.items()))
        answer = self.poll("show backends web", matches, what, timeout=WAIT,
                           explain=lambda a: {t: {k: e.get(k) for k in
                                                  ("state", "why", "weight", "backup", "lookup")}
                                              for t, e in by_title(a, "web").items()})
        have = by_title(answer, "web")
        return {n: have[self.title(n)] for n in want}

    def counts(self, n):
        seq = [self.who(self.front) for _ in range(n)]
        return {name: seq.count(name) for name in sorted(set(seq))}, seq

    def test_srv_records_are_the_backends(self):
        """Two SRV targets are two backends titled target:port, taking
        clients in turn; then, each time with dnsmasq restarted on new
        records: a third added takes clients at once, the first removed
        takes no new session while its live one goes on, weights 3:1 give
        exactly 30 and 10 of 40 clients, and a target at a higher priority
        number is a backup that takes no client while a primary is up."""
        up = {"state": "up", "backup": False}
        self.start_discovering([("b1", 0, 1), ("b2", 0, 1)])
        plan = self.poll_plan({"b1": {**up, "weight": 1}, "b2": {**up, "weight": 1}},
                              "the two SRV targets as backends")
        for name, entry in plan.items():
            self.assert_lookup(entry.get("lookup", "<absent>"), f"{name}.test", True,
                               f"discovered backend {name}")
            self.assertIn(self.targets[name].addr.host, entry["lookup"]["result"], entry)
        discover = frontend_entry(self.ctl.ok("show frontends"), "web").get("discover", "<absent>")
        self.assert_lookup(discover, SRV_NAME, True, "show frontends: discover")
        seq = [self.who(self.front) for _ in range(6)]
        self.assertEqual(sorted(seq), ["b1"] * 3 + ["b2"] * 3, f"round-robin over b1, b2: {seq}")
        self.assertTrue(all(x != y for x, y in zip(seq, seq[1:])), f"not alternating: {seq}")

        # b3 added (SRV weight 0 counts as 1): it takes clients at once.
        self.change([("b1", 0, 1), ("b2", 0, 1), ("b3", 0, 0)])
        self.poll_plan({n: {**up, "weight": 1} for n in ("b1", "b2", "b3")}, "b3 added")
        counts, seq = self.counts(9)
        self.assertEqual(counts, {"b1": 3, "b2": 3, "b3": 3}, f"round-robin over three: {seq}")

        # b1 removed: out of the plan, no new session, its live one goes on.
        live, _ = self.hold(want="b1")
        b1_before = self.targets["b1"].accepted
        self.change([("b2", 0, 1), ("b3", 0, 0)])
        self.poll_plan({"b2": {**up, "weight": 1}, "b3": {**up, "weight": 1}}, "b1 removed",
                       gone=["b1"])
        counts, seq = self.counts(12)
        self.assertEqual(counts, {"b2": 6, "b3": 6}, f"clients after b1 was removed: {seq}")
        self.assertEqual(self.targets["b1"].accepted, b1_before, "b1 got a new session")
        self.assert_echoes(live, "the live session to the removed b1")

        # Re-weighted 3:1: smooth weighted round-robin is exact over 4 n clients.
        self.change([("b2", 0, 3), ("b3", 0, 1)])
        self.poll_plan({"b2": {**up, "weight": 3}, "b3": {**up, "weight": 1}}, "b2 weight 3",
                       gone=["b1"])
        counts, seq = self.counts(40)
        self.assertEqual(counts, {"b2": 30, "b3": 10}, f"weights 3:1 over 40 clients: {seq}")

        # Re-prioritised: b3 (weight 1000, scaled to 256) becomes a backup.
        b3_before = self.targets["b3"].accepted
        self.change([("b2", 0, 3), ("b3", 10, 1000)])
        self.poll_plan({"b2": {**up, "weight": 3},
                        "b3": {"state": "up", "backup": True, "weight": 256}},
                       "b3 a backup at a higher priority number", gone=["b1"])
        counts, seq = self.counts(10)
        self.assertEqual(counts, {"b2": 10}, f"clients with b3 a backup: {seq}")
        self.assertEqual(self.targets["b3"].accepted, b3_before, "the backup b3 got a client")
        self.assert_echoes(live, "the live session to the removed b1, at the end")


    def test_reload_keeps_discovered_backends_and_their_state(self):
        """A reload that changes the frontend (another option, a written
        backend added) keeps the discovered backends: the same objects,
        their counters and a state set with the control socket; the
        written backend comes first, the discovered ones after it; and the
        next SRV refresh still updates them."""
        up = {"state": "up", "backup": False}
        self.start_discovering([("b1", 0, 1), ("b2", 0, 1)])
        self.poll_plan({"b1": {**up, "weight": 1}, "b2": {**up, "weight": 1}}, "two SRV targets")
        counts, seq = self.counts(4)
        self.assertEqual(counts, {"b1": 2, "b2": 2}, f"before the reload: {seq}")
        b1 = self.title("b1")
        self.ctl.ok(f"drain web/{b1}")
        written = self.ident_backend("w")
        text = harness.config(self.web([("w", written.addr)], discover=f'"{SRV_NAME}"',
                                       idle_timeout="5m"),
                              admin_socket=f'"{self.path}"')
        self.mb.reload(text)
        listing = self.ctl.ok("show backends web")["backends"]
        titles = [b["title"] for b in listing]
        self.assertEqual(titles, ["w", b1, self.title("b2")], f"the backends after the reload: {listing}")
        have = by_title(self.ctl.ok("show backends web"), "web")
        self.assertEqual(have[b1]["state"], "drain", f"b1's drain after the reload: {have[b1]}")
        self.assertEqual(have[b1]["connections"], 2, f"b1's counter after the reload: {have[b1]}")
        counts, seq = self.counts(6)
        self.assertEqual(counts, {"b2": 3, "w": 3}, f"after the reload, b1 drained: {seq}")
        # The refresh still follows the records.
        self.change([("b1", 0, 1), ("b2", 0, 2)])
        b2 = self.title("b2")
        self.poll("show backends web",
                  lambda a: (by_title(a, "web").get(b2, {}).get("weight") == 2
                             and by_title(a, "web").get(b1, {}).get("state") == "drain"
                             and "w" in by_title(a, "web")),
                  "b2 re-weighted after the reload, b1 still drained, w kept", timeout=WAIT,
                  explain=lambda a: {t: {k: e.get(k) for k in ("state", "weight")}
                                     for t, e in by_title(a, "web").items()})


class LookupMember(DnsCase):
    """show backends "lookup" and show frontends "discover"."""

    def test_lookup_members_of_names_literals_and_interval_zero(self):
        a = self.ident_backend("a", addr=harness.Addr(A, 0))
        lit = self.ident_backend("lit", addr=harness.Addr(B, 0))
        self.dns.start({"app.test": [A]})
        once = harness.frontend("once", harness.free_addr(), [("app", f"app.test:{a.addr.port}")])
        self.start([self.web([("app", f"app.test:{a.addr.port}"), ("lit", str(lit.addr))]),
                    once])
        lookup = self.poll_lookup("app", lambda v: isinstance(v, dict) and v.get("ok") is True
                                  and v.get("at") is not None, "lookup of app.test done")
        self.assert_lookup(lookup, "app.test", True, "web/app")
        self.assertIn(A, lookup["result"], lookup)
        entries = self.backends()
        self.assertIn("lookup", entries["lit"], f"no member lookup: {entries['lit']}")
        self.assertIsNone(entries["lit"]["lookup"], "an IP literal backend")
        once_app = self.backends("once")["app"]
        self.assertIn("lookup", once_app, f"no member lookup: {once_app}")
        self.assertIsNone(once_app["lookup"], "a name under resolve_interval 0")
        fronts = self.ctl.ok("show frontends")
        for title in ("web", "once"):
            entry = frontend_entry(fronts, title)
            self.assertIn("discover", entry, f"show frontends {title}: {entry}")
            self.assertIsNone(entry["discover"], f"show frontends {title} without discover")

        self.dns.stop()
        failed = self.poll_lookup("app", lambda v: isinstance(v, dict) and v.get("ok") is False,
                                  "lookup.ok false with dnsmasq stopped")
        self.assert_lookup(failed, "app.test", False, "dnsmasq stopped")
        self.assertIsNotNone(failed["at"], f"a failed lookup has finished too: {failed}")
        self.assertEqual(self.who(self.front), "a")

        self.dns.start()
        back = self.poll_lookup("app", lambda v: isinstance(v, dict) and v.get("ok") is True,
                                "lookup.ok true with dnsmasq back")
        self.assert_lookup(back, "app.test", True, "dnsmasq back")
        self.assertGreaterEqual(parse_at(back["at"]), parse_at(failed["at"]), (failed, back))


class ConfigChecks(DnsCase):
    """What is a configuration error, with and without resolve_interval."""

    def check(self, text):
        path = os.path.join(self.tmpdir, "mb.conf")
        with open(path, "w") as f:
            f.write(text)
        return path, harness.run(["-t", "-c", path])

    def test_unresolvable_name_without_interval_is_a_config_error(self):
        self.dns.start({"app.test": [A]}, absent=["late.test"])
        for interval in (None, "0"):
            with self.subTest(resolve_interval=interval):
                options = {} if interval is None else {"resolve_interval": interval}
                text = harness.config(harness.frontend(
                    "web", self.front, [("late", f"late.test:{harness.free_addr().port}")],
                    **options))
                path, r = self.check(text)
                self.assertEqual(r.returncode, EX_CONFIG, r)
                line = harness.line_of(text, "late.test")
                self.assertTrue(harness.config_error_line(r.stderr, path, line, "forward_to"),
                                f"expected '{path}:{line}:' naming forward_to; {r}")
        # The same name with an interval is no error at all.
        text = harness.config(self.web([("late", f"late.test:{harness.free_addr().port}")]))
        path, r = self.check(text)
        self.assertEqual(r.returncode, 0, r)

    def test_discover_without_interval_is_a_config_error(self):
        self.dns.start({"app.test": [A]})
        for interval in (None, "0"):
            with self.subTest(resolve_interval=interval):
                options = {"discover": f'"{SRV_NAME}"'}
                if interval is not None:
                    options["resolve_interval"] = interval
                text = harness.config(harness.frontend("web", self.front, [], **options))
                path, r = self.check(text)
                self.assertEqual(r.returncode, EX_CONFIG, r)
                lines = {harness.line_of(text, "discover"), harness.line_of(text, "frontend web")}
                self.assertTrue(any(harness.config_error_line(r.stderr, path, n, "discover")
                                    for n in lines),
                                f"expected '{path}:LINE:' (LINE one of {sorted(lines)}) naming "
                                f"discover; {r}")


if __name__ == "__main__":
    netns.main("mbdns", ["dns"], "dns", [("dnsmasq", DNSMASQ, "dnsmasq-base")], etc=ETC)
