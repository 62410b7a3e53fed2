#!/usr/bin/env python3
"""Statistics over HTTP (stats_listen), end to end: DESIGN.md section
"Statistics over HTTP" (the metric names are the contract) and the working
spec of issue 14 (routes, limits, /status.json, the order of the families).

The daemon runs with stats_listen on a fresh loopback address (and
admin_socket where a test changes state through the control socket).  Tests
generate traffic, then scrape /metrics with a small HTTP client (http.client,
bounded) and parse every sample with the Prometheus text parser below into
{name: {labels: value}}, checking each counter against what the test did.
Counters may be up to 1 s old (bytes of live sessions): tests poll for them,
bounded, never sleep.  promtool and a real Prometheus server (Debian package
`prometheus`) are used where installed; those two tests are skipped, saying
why, where they are not.

MB_SLOW_TESTS=1 also runs the 30 s slow-request case, which
test_stats_slow.py runs on its own (make check runs both)."""

import collections
import datetime
import http.client
import itertools
import json
import math
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_health import CheckedBackend, frontend_with_checks, FALL, INTERVAL, TIMEOUT, SLACK, RISE  # noqa: E402
from test_admin import Runner, OPT_IN  # noqa: E402

SLOW = 6 if harness.VALGRIND else 1
COUNTERS = 3.0 * SLOW            # counters are at most 1 s old: this covers it
HTTP_TIMEOUT = 5.0 * SLOW        # one HTTP operation
SERVE = 5.0 * SLOW               # a client through the balancer, end to end
REFUSE = 5.0 * SLOW              # a huge request is refused (answer or close) within this
IDLE = 30.0                      # the stats server closes an unfinished exchange this old
MAX_HTTP = 64                    # HTTP connections at once
BODY_LIMIT = 16 << 20            # the largest answer the client here accepts
PROMETHEUS_READY = 60.0 * SLOW   # a Prometheus server starting on 2 shared cores
PROMETHEUS_VALUE = 30.0 * SLOW   # its query API returning the value scraped at 1 s intervals

P = "mini_balancer_"
# The families of DESIGN.md in the order of the working spec, with their types.
FAMILIES = [
    ("build_info", "gauge"), ("start_time_seconds", "gauge"), ("reloads_total", "counter"),
    ("frontend_sessions", "gauge"), ("frontend_connections_total", "counter"),
    ("frontend_failed_total", "counter"), ("frontend_bytes_received_total", "counter"),
    ("frontend_bytes_sent_total", "counter"), ("frontend_proxy_errors_total", "counter"),
    ("backend_up", "gauge"), ("backend_state", "gauge"), ("backend_weight", "gauge"),
    ("backend_sessions", "gauge"), ("backend_connections_total", "counter"),
    ("backend_connect_failures_total", "counter"), ("backend_bytes_sent_total", "counter"),
    ("backend_bytes_received_total", "counter"), ("backend_connect_seconds", "histogram"),
    ("backend_check_failures_total", "counter"),
    # Added after the spec's families, at the end: their order stays a prefix.
    ("relay_bytes_total", "counter"),
    ("backend_lookup_ok", "gauge"), ("backend_lookup_timestamp_seconds", "gauge"),
]
FRONTEND_FAMILIES = [n for n, _ in FAMILIES if n.startswith("frontend_")]
BACKEND_COUNTERS = ["backend_connections_total", "backend_connect_failures_total",
                    "backend_bytes_sent_total", "backend_bytes_received_total",
                    "backend_check_failures_total"]
STATES = ["up", "down", "drain", "maint"]
BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, math.inf]

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
ALLOW = {"GET", "HEAD"}
AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")     # UTC, ISO 8601
# XML namespace names, which a page that builds SVG in script must spell out:
# identifiers, never fetched.  Any other "http://" or "https://" is a URL.
NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml",
              "http://www.w3.org/1999/xlink", "http://www.w3.org/2000/xmlns/")


# --------------------------------------------------------------------------
# The Prometheus text exposition format 0.0.4, parsed strictly enough to
# catch what a scraper would reject.

class Scrape:
    """One /metrics answer, parsed.  samples: {name: {labels: value}} with
    labels a sorted tuple of (name, value) pairs; order: [(name, labels,
    value)] as they came; families: names in the order of their first HELP
    or TYPE line; types and help: {family: text}.  Anything malformed (a
    bad line, a sample of a family without TYPE, a duplicate sample, a
    family's lines not together, no final newline) raises AssertionError."""

    NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
    LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
    SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$")
    TYPES = ("counter", "gauge", "histogram", "summary", "untyped")

    def __init__(self, text):
        self.text = text
        self.families = []
        self.types = {}
        self.help = {}
        self.samples = collections.defaultdict(dict)
        self.order = []
        self._current = None
        self._finished = set()
        self._parse()

    def _fail(self, number, line, why):
        raise AssertionError(f"/metrics line {number}: {why}: {line[:200]!r}")

    def _enter(self, family, number, line):
        if family == self._current:
            return
        if family in self._finished:
            self._fail(number, line, f"the lines of family {family} are not all together")
        if self._current is not None:
            self._finished.add(self._current)
        self._current = family

    def _family_of(self, name):
        kind = self.types.get(name)
        if kind is not None and kind not in ("histogram", "summary"):
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                base = name[:-len(suffix)]
                kind = self.types.get(base)
                if kind == "histogram" or (kind == "summary" and suffix != "_bucket"):
                    return base
        if self.types.get(name) == "summary":
            return name
        return None

    def _labels(self, text, number, line):
        labels, i, n = {}, 0, len(text)
        for _ in range(n + 1):
            while i < n and text[i] in " \t":
                i += 1
            if i == n:
                break
            m = self.LABEL.match(text, i)
            if not m:
                self._fail(number, line, "bad label name")
            name, i = m.group(0), m.end()
            while i < n and text[i] in " \t":
                i += 1
            if text[i:i + 1] != "=":
                self._fail(number, line, f"no '=' after label {name}")
            i += 1
            while i < n and text[i] in " \t":
                i += 1
            if text[i:i + 1] != '"':
                self._fail(number, line, f"label {name}: value not quoted")
            i += 1
            value = []
            for _ in range(n + 1):
                if i >= n:
                    self._fail(number, line, f"label {name}: unterminated value")
                c = text[i]
                if c == "\\":
                    escaped = {"\\": "\\", '"': '"', "n": "\n"}.get(text[i + 1:i + 2])
                    if escaped is None:
                        self._fail(number, line, f"label {name}: bad escape")
                    value.append(escaped)
                    i += 2
                elif c == '"':
                    i += 1
                    break
                elif c == "\n":
                    self._fail(number, line, f"label {name}: raw newline")
                else:
                    value.append(c)
                    i += 1
            if name in labels:
                self._fail(number, line, f"label {name} twice")
            labels[name] = "".join(value)
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] == ",":
                i += 1
                continue
            if i < n:
                self._fail(number, line, "expected ',' or '}' between labels")
        return labels

    def _parse(self):
        if self.text and not self.text.endswith("\n"):
            raise AssertionError(f"/metrics does not end with a newline: ...{self.text[-80:]!r}")
        for number, line in enumerate(self.text.split("\n")[:-1], 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                words = line.split(None, 3)
                if len(words) >= 3 and words[1] in ("HELP", "TYPE"):
                    name = words[2]
                    if not self.NAME.fullmatch(name):
                        self._fail(number, line, "bad metric name")
                    self._enter(name, number, line)
                    if name not in self.families:
                        self.families.append(name)
                    rest = words[3] if len(words) > 3 else ""
                    if words[1] == "HELP":
                        if name in self.help:
                            self._fail(number, line, f"a second HELP for {name}")
                        self.help[name] = rest.replace("\\n", "\n").replace("\\\\", "\\")
                    else:
                        if name in self.types:
                            self._fail(number, line, f"a second TYPE for {name}")
                        if rest not in self.TYPES:
                            self._fail(number, line, f"unknown type {rest!r}")
                        if any(self._family_of(s) == name for s, _, _ in self.order):
                            self._fail(number, line, f"TYPE of {name} after its samples")
                        self.types[name] = rest
                continue                    # any other comment
            m = self.SAMPLE.match(line)
            if not m:
                self._fail(number, line, "not a sample line")
            name, labels_text, value_text = m.group(1), m.group(2), m.group(3)
            family = self._family_of(name)
            if family is None:
                self._fail(number, line, f"sample {name} of no family with a TYPE line before it")
            self._enter(family, number, line)
            labels = self._labels(labels_text[1:-1], number, line) if labels_text else {}
            try:
                value = float(value_text)
            except ValueError:
                self._fail(number, line, f"bad value {value_text!r}")
            key = tuple(sorted(labels.items()))
            if key in self.samples[name]:
                self._fail(number, line, "the same sample twice")
            self.samples[name][key] = value
            self.order.append((name, key, value))

    def get(self, name, **labels):
        """The value of NAME{LABELS}, or None when there is no such sample."""
        return self.samples.get(name, {}).get(tuple(sorted(labels.items())))

    def lines_of(self, *names, limit=80):
        """The sample lines of the families NAMES, for messages."""
        out = [l for l in self.text.splitlines()
               if not l.startswith("#") and any(l.startswith(n) for n in names)]
        return "\n".join(out[:limit])


def key(name, **labels):
    return (P + name, tuple(sorted(labels.items())))


def fe(name, frontend="web"):
    return key(name, frontend=frontend)


def be(name, backend, frontend="web", **more):
    return key(name, frontend=frontend, backend=backend, **more)


def differences(scrape, want):
    """[(sample, have, want)] where SCRAPE differs from WANT ({key: value})."""
    out = []
    for (name, labels), value in want.items():
        have = scrape.samples.get(name, {}).get(labels)
        if have != value:
            out.append((f"{name}{dict(labels)}", have, value))
    return out


def counters_decreased(before, after):
    """Counter and histogram samples present in both scrapes that went down."""
    out = []
    for name, labels, value in before.order:
        family = before._family_of(name)
        if before.types.get(family) not in ("counter", "histogram"):
            continue
        now = after.samples.get(name, {}).get(labels)
        if now is not None and now < value:
            out.append((f"{name}{dict(labels)}", value, now))
    return out


def media(content_type):
    """A Content-Type as (type, {parameter: value}), lower case."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


# --------------------------------------------------------------------------
# HTTP clients, each bounded in time and size; whatever goes wrong raises
# AssertionError.

Response = collections.namedtuple("Response", "status reason headers body")


def request(addr, method="GET", path="/", headers=None, body=None, timeout=HTTP_TIMEOUT):
    """One request on a fresh connection: Response with headers lower-cased."""
    conn = http.client.HTTPConnection(addr.host, addr.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read(BODY_LIMIT + 1)
        if len(data) > BODY_LIMIT:
            raise AssertionError(f"{method} http://{addr}{path}: an answer over {BODY_LIMIT} bytes")
        merged = {}
        for k, v in r.getheaders():
            k = k.lower()
            merged[k] = f"{merged[k]}, {v}" if k in merged else v
        return Response(r.status, r.reason, merged, data)
    except (OSError, http.client.HTTPException) as e:
        raise AssertionError(f"{method} http://{addr}{path}: {e!r}") from None
    finally:
        conn.close()


def raw_exchange(addr, data, timeout=HTTP_TIMEOUT):
    """Send DATA (a whole request ending the connection's use, e.g. with
    "Connection: close") and read until the server closes: (status line,
    headers {lower: value}, body bytes after the head)."""
    s = harness.connect(addr, timeout=timeout)
    try:
        harness.send_all(s, data, timeout)
        got = harness.recv_until_eof(s, timeout, limit=BODY_LIMIT)
    finally:
        s.close()
    head, sep, body = got.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no complete HTTP head in the answer to {data[:60]!r}: {got[:300]!r}")
    lines = head.decode("iso-8859-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def next_answer(s, timeout):
    """What the server does next on S: (status, head) once a response head
    has come, or ("closed", what came before) when it closes (EOF or reset).
    Neither within TIMEOUT: AssertionError.  Uses select(): safe while
    another thread sends on S."""
    deadline = time.monotonic() + timeout
    buf = b""
    for _ in range(1 << 20):
        if b"\r\n\r\n" in buf:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"neither an answer nor a close within {timeout} s "
                                 f"(got {buf[:200]!r})")
        readable, _, _ = select.select([s], [], [], min(left, 0.2))
        if not readable:
            continue
        try:
            data = s.recv(65536)
        except (socket.timeout, BlockingIOError):
            continue
        except (ConnectionResetError, BrokenPipeError):
            return "closed", buf
        if not data:
            return "closed", buf
        buf += data
        if len(buf) > 1 << 20:
            raise AssertionError(f"a response head over 1 MiB: {buf[:200]!r}")
    first = buf.split(b"\r\n", 1)[0]
    m = re.match(rb"HTTP/1\.[01] (\d{3})", first)
    if not m:
        raise AssertionError(f"not an HTTP response: {first[:200]!r}")
    return int(m.group(1)), buf


class Flood(harness.Worker):
    """A thread sending CHUNKS (bytes each) on S until all are sent, stop()
    is called, the peer closes or LIMIT seconds pass.  `sent` counts the
    bytes sent so far; join() returns (sent, "done" | "stopped" | "closed"
    | "timeout").  select() first: never blocked in send(), so another
    thread may read S meanwhile."""

    def __init__(self, s, chunks, limit, name="flood"):
        self.sock = s
        self.chunks = chunks
        self.limit = limit
        self.sent = 0
        self._stopping = threading.Event()
        super().__init__(self._send, name=name)

    def stop(self):
        self._stopping.set()

    def _send(self):
        deadline = time.monotonic() + self.limit
        for chunk in self.chunks:
            view = memoryview(chunk)
            for _ in range(1 << 24):
                if not view:
                    break
                if self._stopping.is_set():
                    return self.sent, "stopped"
                if time.monotonic() > deadline:
                    return self.sent, "timeout"
                _, writable, _ = select.select([], [self.sock], [], 0.2)
                if not writable:
                    continue
                try:
                    n = self.sock.send(view)
                except (socket.timeout, BlockingIOError):
                    continue
                except OSError:
                    return self.sent, "closed"
                self.sent += n
                view = view[n:]
        return self.sent, "done"


def is_open(s):
    """Neither closed nor sent anything, looked at without waiting."""
    readable, _, _ = select.select([s], [], [], 0)
    return not readable


# --------------------------------------------------------------------------

class StatsCase(harness.TestCase):
    """Starts a daemon with stats_listen (self.stats) and, with admin=True,
    admin_socket (self.ctl a control client)."""

    def start(self, sections, admin=False, **options):
        self.stats = harness.free_addr()
        extra = {"stats_listen": f'"{self.stats}"'}
        self.ctl = None
        if admin:
            self.path = self.admin_socket_path()
            extra["admin_socket"] = f'"{self.path}"'
        self.text = harness.config(*sections, **extra, **options)
        self.started_at = time.time()
        self.mb = self.daemon(self.text)
        self.ready_at = time.time()
        if admin:
            self.ctl = self.admin(self.path)
        return self.mb

    def simple(self, names="abc", admin=False, extra_backends=(), **frontend_options):
        """Identifying backends NAMES behind frontend "web" (round-robin)."""
        self.bk = {n: self.ident_backend(n) for n in names}
        self.front = harness.free_addr()
        backends = [(n, b.addr) for n, b in self.bk.items()] + list(extra_backends)
        self.start([harness.frontend("web", self.front, backends, **frontend_options)], admin=admin)

    # -- scraping

    def scrape(self):
        r = request(self.stats, "GET", "/metrics")
        self.assertEqual(r.status, 200, f"GET /metrics: {r.status} {r.reason}: {r.body[:300]!r}")
        self.assertEqual(media(r.headers.get("content-type")), media(METRICS_TYPE),
                         f"GET /metrics: Content-Type {r.headers.get('content-type')!r}")
        try:
            text = r.body.decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail(f"/metrics is not UTF-8: {e}")
        return Scrape(text)

    def poll_metrics(self, want, timeout=COUNTERS, what=None):
        """Scrape until every sample of WANT ({key: value}) has that value;
        returns that scrape.  Fails after TIMEOUT seconds naming the
        differences and quoting the samples of those families."""
        deadline = time.monotonic() + timeout
        scrape = None
        for _ in range(1 << 16):
            scrape = self.scrape()
            if not differences(scrape, want):
                return scrape
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)            # between two looks at the counters
        names = sorted({name for name, _ in want})
        self.fail(f"{what or 'metrics'}: not within {timeout} s; differences (sample, have, "
                  f"want): {differences(scrape, want)}\nthose families now:\n"
                  f"{scrape.lines_of(*names)}")

    def poll_scrape(self, predicate, what, timeout=COUNTERS):
        deadline = time.monotonic() + timeout
        scrape = None
        for _ in range(1 << 16):
            scrape = self.scrape()
            if predicate(scrape):
                return scrape
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.fail(f"{what}: not within {timeout} s; last scrape:\n{scrape.text[:6000]}")

    def assert_not_decreased(self, before, after, what):
        down = counters_decreased(before, after)
        self.assertEqual(down, [], f"{what}: counters went down (sample, before, after)")

    def status_json(self):
        r = request(self.stats, "GET", "/status.json")
        self.assertEqual(r.status, 200, f"GET /status.json: {r.status} {r.reason}: {r.body[:300]!r}")
        self.assertEqual(media(r.headers.get("content-type"))[0], "application/json",
                         f"GET /status.json: Content-Type {r.headers.get('content-type')!r}")
        try:
            value = json.loads(r.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self.fail(f"/status.json is not JSON ({e}): {r.body[:300]!r}")
        self.assertIsInstance(value, dict, f"/status.json is not an object: {r.body[:300]!r}")
        return value

    def buckets(self, m, frontend, backend):
        """[(le as a float, count)] of FRONTEND/BACKEND's connect histogram, in order."""
        out = []
        for name, labels, value in m.order:
            d = dict(labels)
            if name == P + "backend_connect_seconds_bucket" and d.get("frontend") == frontend \
                    and d.get("backend") == backend:
                self.assertEqual(set(d), {"frontend", "backend", "le"}, f"labels of {name}: {d}")
                out.append((float(d["le"]), value))
        return out

    # -- traffic

    def whos(self, n, front=None):
        return [self.who(front or self.front) for _ in range(n)]

    def hold(self, front=None):
        """A client that stays connected: (socket, the name of its backend)."""
        s = self.connect(front or self.front)
        return s, harness.recv_line(s)

    def echo(self, s, size):
        data = os.urandom(size)
        harness.send_all(s, data)
        self.assertEqual(harness.recv_exact(s, size), data, "the echo came back damaged")

    def served(self, what="a client through the balancer"):
        """One client through the frontend, end to end within SERVE seconds:
        its backend's name, an echo, a half-close answered by EOF."""
        try:
            s = harness.connect(self.front, timeout=SERVE)
        except OSError as e:
            self.fail(f"{what}: cannot connect to {self.front}: {e}")
        try:
            name = harness.recv_line(s, timeout=SERVE)
            harness.send_all(s, b"ping\n", SERVE)
            self.assertEqual(harness.recv_exact(s, 5, SERVE), b"ping\n", what)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(harness.recv_until_eof(s, SERVE), b"", what)
        finally:
            s.close()
        self.assertIn(name, self.bk, what)

    def assert_serving(self, what):
        """After WHAT: the daemon runs, a client is served end to end, and
        the stats server answers GET /metrics on a new connection."""
        self.assertTrue(self.mb.running(), f"the daemon exited after {what}: {self.mb.stderr(3000)}")
        self.served(f"a client through the balancer after {what}")
        r = request(self.stats, "GET", "/metrics")
        self.assertEqual(r.status, 200, f"GET /metrics after {what}: {r.status} {r.reason}")


# --------------------------------------------------------------------------

class Families(StatsCase):
    """The exposition before any traffic: every family, in order, with HELP
    and TYPE; one series per frontend and backend in configuration order."""

    def test_every_family_with_help_and_type_in_order_and_every_series_at_zero(self):
        x = self.ident_backend("x")
        self.bk = {n: self.ident_backend(n) for n in "ab"}
        self.front, api = harness.free_addr(), harness.free_addr()
        self.start([harness.frontend("web", self.front, [(n, b.addr) for n, b in self.bk.items()]),
                    harness.frontend("api", api, [("x", x.addr, "weight = 7")])])
        m = self.scrape()
        want_families = [P + n for n, _ in FAMILIES]
        self.assertEqual(m.families, want_families, "the families and their order")
        for name, kind in FAMILIES:
            self.assertEqual(m.types.get(P + name), kind, f"# TYPE of {P + name}")
            self.assertTrue((m.help.get(P + name) or "").strip(), f"# HELP of {P + name} missing or empty")

        frontends = [dict(labels)["frontend"] for name, labels, _ in m.order
                     if name == P + "frontend_connections_total"]
        self.assertEqual(frontends, ["web", "api"], "frontends in configuration order")
        backends = [(dict(labels)["frontend"], dict(labels)["backend"]) for name, labels, _ in m.order
                    if name == P + "backend_connections_total"]
        self.assertEqual(backends, [("web", "a"), ("web", "b"), ("api", "x")],
                         "backends in configuration order")

        want = {key("reloads_total", result="ok"): 0, key("reloads_total", result="failed"): 0,
                key("relay_bytes_total", path="splice"): 0, key("relay_bytes_total", path="copy"): 0}
        for f in ("web", "api"):
            for name in FRONTEND_FAMILIES:
                want[fe(name, f)] = 0
        for f, b in backends:
            want[be("backend_up", b, f)] = 1
            want[be("backend_weight", b, f)] = 7 if b == "x" else 1
            want[be("backend_sessions", b, f)] = 0
            for name in BACKEND_COUNTERS:
                want[be(name, b, f)] = 0
            for state in STATES:
                want[be("backend_state", b, f, state=state)] = 1 if state == "up" else 0
            want[be("backend_connect_seconds_count", b, f)] = 0
            want[be("backend_connect_seconds_sum", b, f)] = 0
        self.assertEqual(differences(m, want), [], "(sample, have, want) before any traffic")

        # Four state lines per backend, in up, down, drain, maint order.
        states = [dict(labels)["state"] for name, labels, _ in m.order
                  if name == P + "backend_state" and dict(labels)["backend"] == "a"]
        self.assertEqual(states, STATES, "backend_state lines of web/a")
        self.assertEqual(len(m.samples[P + "backend_state"]), 4 * 3)
        for f, b in backends:
            buckets = self.buckets(m, f, b)
            self.assertEqual([le for le, _ in buckets], BUCKETS, f"{f}/{b}: the buckets' le, in order")
            self.assertEqual([v for _, v in buckets], [0] * len(BUCKETS), f"{f}/{b}: empty histogram")

    def test_build_info_and_start_time(self):
        """build_info{version} 1 with configure.ac's version, the only
        sample; start_time_seconds between just before the start and READY=1."""
        self.simple("a")
        m = self.scrape()
        version = harness.version_from_configure_ac()
        self.assertIsNotNone(version, "no version in configure.ac")
        self.assertEqual(dict(m.samples[P + "build_info"]), {(("version", version),): 1.0},
                         f"build_info: {m.lines_of(P + 'build_info')}")
        start = m.get(P + "start_time_seconds")
        self.assertIsNotNone(start, "no mini_balancer_start_time_seconds sample")
        self.assertGreaterEqual(start, self.started_at - 1.0,
                                f"start_time_seconds {start} before the daemon was started "
                                f"({self.started_at:.3f})")
        self.assertLessEqual(start, self.ready_at + 1.0,
                             f"start_time_seconds {start} after it was ready ({self.ready_at:.3f})")
        self.assertEqual(m.get(P + "start_time_seconds"), self.scrape().get(P + "start_time_seconds"),
                         "start_time_seconds moved between two scrapes")


class Counters(StatsCase):
    """Each counter against the traffic the test generated."""

    def test_round_robin_connections_per_frontend_and_backend(self):
        """9 clients, round-robin over a, b, c: 9 accepted, 3 per backend,
        none failed, no connect failure, no session left; the backends'
        names (2 bytes each) are the bytes both ways."""
        self.simple("abc")
        self.assertEqual(self.whos(9), list("abcabcabc"))
        want = {fe("frontend_connections_total"): 9, fe("frontend_failed_total"): 0,
                fe("frontend_sessions"): 0, fe("frontend_bytes_received_total"): 0,
                fe("frontend_bytes_sent_total"): 18, fe("frontend_proxy_errors_total"): 0}
        for n in "abc":
            want.update({be("backend_connections_total", n): 3,
                         be("backend_connect_failures_total", n): 0,
                         be("backend_sessions", n): 0,
                         be("backend_bytes_sent_total", n): 0,
                         be("backend_bytes_received_total", n): 6})
        self.poll_metrics(want)

    def test_failed_clients_when_every_backend_refuses(self):
        """a and b refuse: each of 4 clients tries both and is closed
        without a byte: 4 accepted, 4 failed, 4 connect failures each."""
        a, b = harness.free_addr(), harness.free_addr()       # nothing listens there
        self.bk = {}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", a), ("b", b)])])
        for i in range(4):
            c = self.connect(self.front)
            harness.wait_closed(c)          # no backend took it
            c.close()
        want = {fe("frontend_connections_total"): 4, fe("frontend_failed_total"): 4,
                fe("frontend_sessions"): 0}
        for n in "ab":
            want.update({be("backend_connect_failures_total", n): 4,
                         be("backend_connections_total", n): 0,
                         be("backend_connect_seconds_count", n): 0})
        self.poll_metrics(want)

    def test_connect_failures_of_a_refusing_backend(self):
        """a refuses: round-robin tries it first for every other client (3
        of 6), each a connect failure; b takes all 6; none failed."""
        dead = harness.free_addr()
        self.bk = {"b": self.ident_backend("b")}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", dead), ("b", self.bk["b"].addr)])])
        self.assertEqual(self.whos(6), ["b"] * 6)
        self.poll_metrics({be("backend_connect_failures_total", "a"): 3,
                           be("backend_connections_total", "a"): 0,
                           be("backend_connect_failures_total", "b"): 0,
                           be("backend_connections_total", "b"): 6,
                           be("backend_connect_seconds_count", "b"): 6,
                           be("backend_connect_seconds_count", "a"): 0,
                           fe("frontend_connections_total"): 6,
                           fe("frontend_failed_total"): 0})

    def test_bytes_both_ways_include_a_live_session(self):
        """Known amounts each way through a session that stays open show in
        the frontend's and the backend's byte counters (within 1 s), with one
        session in both gauges; then the sum with a second, finished one."""
        backend = self.controlled_backend()
        self.bk = {}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("app", backend.addr)])])
        up, down = os.urandom(10000), os.urandom(30000)
        c, b = self.established(self.front, backend)          # 4 bytes each way
        harness.send_all(c, up)
        self.assertEqual(harness.recv_exact(b, len(up)), up)
        harness.send_all(b, down)
        self.assertEqual(harness.recv_exact(c, len(down)), down)
        to_backend, from_backend = 4 + len(up), 4 + len(down)
        self.poll_metrics({fe("frontend_bytes_received_total"): to_backend,
                           fe("frontend_bytes_sent_total"): from_backend,
                           be("backend_bytes_sent_total", "app"): to_backend,
                           be("backend_bytes_received_total", "app"): from_backend,
                           fe("frontend_sessions"): 1, be("backend_sessions", "app"): 1,
                           fe("frontend_connections_total"): 1},
                          what="the bytes of a live session")

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
        self.poll_metrics({fe("frontend_bytes_received_total"): to_backend,
                           fe("frontend_bytes_sent_total"): from_backend,
                           be("backend_bytes_sent_total", "app"): to_backend,
                           be("backend_bytes_received_total", "app"): from_backend,
                           fe("frontend_sessions"): 0, be("backend_sessions", "app"): 0,
                           fe("frontend_connections_total"): 2,
                           be("backend_connections_total", "app"): 2},
                          what="the bytes of two finished sessions")

    def test_sessions_gauges_follow_live_sessions(self):
        """Three held clients (a, b, c), then one of them leaving: the
        frontend's and each backend's sessions gauge."""
        self.simple("abc")
        held = [self.hold() for _ in range(3)]
        self.assertEqual([n for _, n in held], list("abc"))
        want = {fe("frontend_sessions"): 3}
        want.update({be("backend_sessions", n): 1 for n in "abc"})
        self.poll_metrics(want, what="three live sessions")
        held[1][0].close()
        want[fe("frontend_sessions")] = 2
        want[be("backend_sessions", "b")] = 0
        self.poll_metrics(want, what="b's session over")

    def test_connect_seconds_histogram(self):
        """After 9 round-robin clients over a, b and a refusing c: each
        backend's buckets are cumulative and non-decreasing in le order,
        +Inf == _count == its connections_total, _sum > 0 where it had
        connections; c (never connected) has an empty histogram."""
        dead = harness.free_addr()
        self.simple("ab", extra_backends=[("c", dead)])
        names = self.whos(9)
        self.assertLessEqual(set(names), {"a", "b"})
        m = self.poll_scrape(
            lambda s: sum(s.get(P + "backend_connections_total", frontend="web", backend=n) or 0
                          for n in "abc") == 9,
            "9 connections in backend_connections_total")
        for n in "abc":
            buckets = self.buckets(m, "web", n)
            self.assertEqual([le for le, _ in buckets], BUCKETS, f"{n}: the buckets' le, in order")
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), f"{n}: buckets not cumulative: {buckets}")
            count = m.get(P + "backend_connect_seconds_count", frontend="web", backend=n)
            total = m.get(P + "backend_connections_total", frontend="web", backend=n)
            seconds = m.get(P + "backend_connect_seconds_sum", frontend="web", backend=n)
            self.assertEqual((values[-1], count), (total, total),
                             f"{n}: +Inf bucket and _count against connections_total\n"
                             f"{m.lines_of(P + 'backend_connect_seconds', P + 'backend_connections')}")
            if n == "c":
                self.assertEqual((total, seconds), (0, 0), "c never accepted a connection")
            else:
                self.assertGreater(total, 0, f"{n} got no client: {names}")
                self.assertGreater(seconds, 0, f"{n}: _sum")
                # Loopback connects: every one of them within 10 s.
                self.assertEqual(values[-2], total, f"{n}: connects over 10 s on loopback?")
                self.assertLess(seconds, total * 10, f"{n}: _sum {seconds} s")
        self.assertEqual(m.get(P + "backend_connect_failures_total", frontend="web", backend="c"), 3)


class States(StatsCase):
    """up/state/weight gauges and check failures, following health checks
    and the control socket."""

    def test_failing_health_checks_down_then_up_and_check_failures(self):
        a, b = self._own(CheckedBackend("a")), self._own(CheckedBackend("b"))
        self.bk = {}
        self.front = harness.free_addr()
        self.start([frontend_with_checks(self.front, [(a, False), (b, False)])])
        harness.wait_for(lambda: a.checks >= 1 and b.checks >= 1, 5 * SLOW, "the first checks")
        up = {n: {be("backend_up", n): 1, be("backend_state", n, state="up"): 1,
                  be("backend_state", n, state="down"): 0,
                  be("backend_state", n, state="drain"): 0,
                  be("backend_state", n, state="maint"): 0} for n in "ab"}
        m1 = self.poll_metrics({**up["a"], **up["b"], be("backend_check_failures_total", "a"): 0,
                                be("backend_check_failures_total", "b"): 0}, what="both up")

        a.healthy.clear()
        down = {be("backend_up", "a"): 0, be("backend_state", "a", state="up"): 0,
                be("backend_state", "a", state="down"): 1,
                be("backend_state", "a", state="drain"): 0,
                be("backend_state", "a", state="maint"): 0}
        m2 = self.poll_metrics({**down, **up["b"]}, timeout=FALL * INTERVAL + TIMEOUT + SLACK + COUNTERS,
                               what="a down by its checks")
        failures = m2.get(P + "backend_check_failures_total", frontend="web", backend="a")
        self.assertGreaterEqual(failures, FALL, "a is down with fewer failed checks than fall")
        self.assertEqual(m2.get(P + "backend_check_failures_total", frontend="web", backend="b"), 0)
        self.assert_not_decreased(m1, m2, "a going down")
        m3 = self.poll_scrape(
            lambda s: (s.get(P + "backend_check_failures_total", frontend="web", backend="a") or 0) > failures,
            "check failures of a to go on counting while it is down",
            timeout=2 * INTERVAL + TIMEOUT + SLACK + COUNTERS)

        a.healthy.set()
        m4 = self.poll_metrics(up["a"], timeout=RISE * INTERVAL + TIMEOUT + SLACK + COUNTERS,
                               what="a up again")
        self.assert_not_decreased(m3, m4, "a coming back")

    def test_weight_gauge_from_the_file_and_set_weight(self):
        self.bk = {n: self.ident_backend(n) for n in "abc"}
        self.front = harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", self.bk["a"].addr), ("b", self.bk["b"].addr),
                                                 ("c", self.bk["c"].addr, "weight = 5")])],
                   admin=True)
        self.poll_metrics({be("backend_weight", "a"): 1, be("backend_weight", "b"): 1,
                           be("backend_weight", "c"): 5})
        self.assertEqual(self.ctl.ok("set weight web/a 3").get("weight"), 3)
        self.assertEqual(self.ctl.ok("set weight web/c 256").get("weight"), 256)
        self.poll_metrics({be("backend_weight", "a"): 3, be("backend_weight", "b"): 1,
                           be("backend_weight", "c"): 256}, what="weights after set weight")

    def test_drain_and_maint_through_the_control_socket(self):
        """disable -> maint, drain -> drain (up 0 for both, exactly one state
        line 1 each), enable -> up again."""
        self.simple("abc", admin=True)

        def states(n, current):
            out = {be("backend_up", n): 1 if current == "up" else 0}
            out.update({be("backend_state", n, state=s): 1 if s == current else 0 for s in STATES})
            return out
        self.ctl.ok("disable web/a")
        self.ctl.ok("drain web/b")
        m = self.poll_metrics({**states("a", "maint"), **states("b", "drain"), **states("c", "up")},
                              what="a in maint, b draining")
        for n in "abc":
            self.assertEqual(sum(m.get(P + "backend_state", frontend="web", backend=n, state=s)
                                 for s in STATES), 1, f"{n}: not exactly one state")
        self.assertEqual(self.whos(3), ["c"] * 3)
        self.ctl.ok("enable web/a")
        self.ctl.ok("enable web/b")
        self.poll_metrics({**states("a", "up"), **states("b", "up"), **states("c", "up")},
                          what="a and b enabled")


class Reloads(StatsCase):

    def test_counters_of_kept_backends_survive_a_reload_and_never_decrease(self):
        """Traffic to a, b, c and a live session on a; a reload drops c, adds
        d and changes the frontend: a's, b's and the frontend's counters
        are what they were, then go on from there (the live session's bytes
        too); no counter ever goes down."""
        self.bk = {n: self.ident_backend(n) for n in "abcd"}
        self.front = harness.free_addr()

        def web(names, **options):
            return harness.frontend("web", self.front, [(n, self.bk[n].addr) for n in names], **options)
        self.start([web("abc")])
        self.assertEqual(self.whos(6), list("abcabc"))
        live, name = self.hold()
        self.assertEqual(name, "a")
        self.echo(live, 1000)
        want = {fe("frontend_connections_total"): 7, fe("frontend_sessions"): 1,
                fe("frontend_bytes_received_total"): 1000, fe("frontend_bytes_sent_total"): 1014,
                be("backend_connections_total", "a"): 3, be("backend_sessions", "a"): 1,
                be("backend_bytes_sent_total", "a"): 1000, be("backend_bytes_received_total", "a"): 1006,
                be("backend_connections_total", "b"): 2, be("backend_bytes_received_total", "b"): 4,
                be("backend_connections_total", "c"): 2}
        m1 = self.poll_metrics(want, what="before the reload")

        text = harness.config(web("abd", connect_timeout="4s"), stats_listen=f'"{self.stats}"')
        self.mb.reload(text)
        m2 = self.scrape()
        kept = {k: v for k, v in want.items() if dict(k[1]).get("backend") != "c"}
        kept[key("reloads_total", result="ok")] = 1
        kept[be("backend_connections_total", "d")] = 0
        self.assertEqual(differences(m2, kept), [], "(sample, have, want) right after the reload")
        self.assert_not_decreased(m1, m2, "the reload")

        self.echo(live, 500)
        names = self.whos(6)
        self.assertEqual(sorted(names), sorted("aabbdd"), "round-robin over a, b, d")
        want = {fe("frontend_connections_total"): 13, fe("frontend_sessions"): 1,
                fe("frontend_bytes_received_total"): 1500, fe("frontend_bytes_sent_total"): 1526,
                be("backend_connections_total", "a"): 5, be("backend_sessions", "a"): 1,
                be("backend_bytes_sent_total", "a"): 1500, be("backend_bytes_received_total", "a"): 1510,
                be("backend_connections_total", "b"): 4, be("backend_bytes_received_total", "b"): 8,
                be("backend_connections_total", "d"): 2, be("backend_bytes_received_total", "d"): 4,
                key("reloads_total", result="ok"): 1}
        m3 = self.poll_metrics(want, what="after the reload and more traffic")
        self.assert_not_decreased(m2, m3, "traffic after the reload")
        self.assert_not_decreased(m1, m3, "the reload and the traffic after it")

        self.mb.reload(text)                     # the same file again
        m4 = self.scrape()
        self.assert_not_decreased(m3, m4, "a second reload")
        self.assertEqual(m4.get(P + "reloads_total", result="ok"), 2)

    def test_reloads_total_follows_good_and_bad_reloads(self):
        self.simple("ab")
        good = self.text
        bad = good.replace("frontend web {\n", "frontend web {\n  connect_timeout = 5x\n", 1)
        self.assertNotEqual(bad, good)

        def reloads(ok, failed, what):
            return self.poll_metrics({key("reloads_total", result="ok"): ok,
                                      key("reloads_total", result="failed"): failed}, what=what)
        reloads(0, 0, "no reload yet")
        self.mb.reload(good)
        reloads(1, 0, "after a good reload")
        self.mb.reload(bad, expect_ok=False)
        reloads(1, 1, "after a bad reload")
        self.mb.reload(bad, expect_ok=False)
        reloads(1, 2, "after a second bad reload")
        self.mb.reload(good)
        m = reloads(2, 2, "after a good reload again")
        self.assertEqual(self.whos(2), list("ab"))
        self.assertEqual(m.get(P + "frontend_connections_total", frontend="web"), 0)

    def test_stats_listen_change_needs_a_restart(self):
        """A reload with another stats_listen is applied with a warning
        naming stats_listen; the server stays on the first address."""
        self.simple("a")
        other = harness.free_addr()
        changed = self.text.replace(f'stats_listen = "{self.stats}"', f'stats_listen = "{other}"')
        self.assertNotEqual(changed, self.text)
        self.mb.reload(changed)
        self.mb.wait_log(r"warning: .*\bstats_listen\b", since=self.mb.reloads[-1].log_mark,
                         what="a warning naming stats_listen")
        self.assertEqual(self.scrape().get(P + "reloads_total", result="ok"), 1)
        with self.assertRaises(AssertionError, msg=f"the stats server moved to {other}"):
            request(other, "GET", "/metrics", timeout=2.0)
        self.assert_serving("a reload changing stats_listen")


class Tools(StatsCase):
    """promtool and a real Prometheus server, where installed."""

    def rich_state(self):
        """Two frontends, a refusing backend, one in maint, a runtime weight,
        a live session, some finished ones."""
        dead = harness.free_addr()
        x = self.ident_backend("x")
        self.bk = {n: self.ident_backend(n) for n in "ab"}
        self.front, api = harness.free_addr(), harness.free_addr()
        self.start([harness.frontend("web", self.front, [("a", self.bk["a"].addr), ("b", self.bk["b"].addr),
                                                 ("dead", dead)]),
                    harness.frontend("api", api, [("x", x.addr, "backup = false")])], admin=True)
        self.whos(6)
        self.who(api)
        self.hold()
        self.ctl.ok("disable web/b")
        self.ctl.ok("set weight web/a 4")
        return self.poll_metrics({fe("frontend_connections_total"): 7, fe("frontend_sessions"): 1,
                                  fe("frontend_connections_total", "api"): 1,
                                  be("backend_state", "b", state="maint"): 1,
                                  be("backend_weight", "a"): 4})

    def test_promtool_check_metrics_passes(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool is not installed (Debian package prometheus): "
                          "cannot check the exposition with it")
        m = self.rich_state()
        try:
            r = subprocess.run([promtool, "check", "metrics"], input=m.text.encode(),
                               capture_output=True, timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            self.fail("promtool check metrics still running after 30 s")
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 0, f"promtool check metrics: exit {r.returncode}:\n{out}\n"
                                          f"--- the scrape:\n{m.text[:8000]}")
        self.assertEqual(out.strip(), "", f"promtool check metrics said:\n{out}")

    def test_real_prometheus_server_scrapes_frontend_connections(self):
        """Debian's prometheus on a loopback port, scraping stats_listen every
        second: its query API returns the number of clients the test sent."""
        prometheus = shutil.which("prometheus") or (
            "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None)
        if prometheus is None:
            self.skipTest("prometheus is not installed (Debian package prometheus): "
                          "no real Prometheus server to scrape the daemon")
        self.simple("ab")
        pdir = harness.make_temp_dir()
        self.addCleanup(harness.remove_temp_dir, pdir)
        web = harness.free_addr()
        config_path = os.path.join(pdir, "prometheus.yml")
        with open(config_path, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: mini-balancer\n"
                    f"    static_configs:\n      - targets: ['{self.stats}']\n")
        log = os.path.join(pdir, "prometheus.log")
        proc = harness.spawn([prometheus, f"--config.file={config_path}",
                              f"--storage.tsdb.path={os.path.join(pdir, 'data')}",
                              f"--web.listen-address={web}", "--log.level=info"], log, cwd=pdir)
        self.addCleanup(harness.stop_process, proc)

        def log_tail():
            try:
                with open(log, "rb") as f:
                    return f.read()[-4000:].decode(errors="replace")
            except OSError:
                return ""

        def ready():
            if proc.poll() is not None:
                self.fail(f"prometheus exited with status {proc.returncode}:\n{log_tail()}")
            try:
                return request(web, "GET", "/-/ready", timeout=2.0).status == 200
            except AssertionError:
                return False
        try:
            harness.wait_for(ready, PROMETHEUS_READY, f"prometheus ready on {web}")
        except AssertionError as e:
            self.fail(f"{e}; its log:\n{log_tail()}")

        n = 7
        self.assertEqual(self.whos(n), list("abababa"))
        query = "/api/v1/query?" + urllib.parse.urlencode(
            {"query": P + 'frontend_connections_total{frontend="web"}'})
        deadline = time.monotonic() + PROMETHEUS_VALUE
        answer = None
        for _ in range(1 << 16):
            r = request(web, "GET", query)
            answer = r.body.decode(errors="replace")
            if r.status == 200:
                data = json.loads(answer)
                values = [float(s["value"][1]) for s in data.get("data", {}).get("result", [])
                          if s.get("metric", {}).get("job") == "mini-balancer"]
                if values == [n]:
                    return
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)             # between two queries; scrapes come every second
        targets = request(web, "GET", "/api/v1/targets").body.decode(errors="replace")
        self.fail(f"Prometheus did not return {n} for frontend_connections_total within "
                  f"{PROMETHEUS_VALUE} s; last answer: {answer[:1000]}\ntargets: {targets[:2000]}\n"
                  f"its log:\n{log_tail()}")


class StatusJson(StatsCase):

    def start_two(self):
        self.bk = {n: self.ident_backend(n) for n in "ab"}
        x = self.ident_backend("x")
        self.front, self.api = harness.free_addr(), harness.free_addr()
        self.start([harness.frontend("web", self.front, [(n, b.addr) for n, b in self.bk.items()]),
                    harness.frontend("api", self.api, [("x", x.addr)])], admin=True)

    def test_frontends_and_backends_are_those_of_the_control_socket(self):
        """With no traffic in between, /status.json's frontends and backends
        equal `show frontends` and `show backends` taken around it."""
        self.start_two()
        self.whos(5)
        self.who(self.api)
        live, _ = self.hold()
        self.echo(live, 3000)
        deadline = time.monotonic() + COUNTERS
        for _ in range(1 << 16):
            before = (self.ctl.ok("show frontends")["frontends"], self.ctl.ok("show backends")["backends"])
            status = self.status_json()
            after = (self.ctl.ok("show frontends")["frontends"], self.ctl.ok("show backends")["backends"])
            got = (status.get("frontends"), status.get("backends"))
            if before == after and got == before:
                break
            if time.monotonic() > deadline:
                self.assertEqual(got[0], after[0], "/status.json frontends against show frontends")
                self.assertEqual(got[1], after[1], "/status.json backends against show backends")
                self.fail(f"the control socket's answers kept changing without traffic: "
                          f"{before} then {after}")
            time.sleep(0.05)
        self.assertEqual([f["title"] for f in status["frontends"]], ["web", "api"])
        self.assertEqual([(b["frontend"], b["title"]) for b in status["backends"]],
                         [("web", "a"), ("web", "b"), ("api", "x")])
        self.assertEqual(status["frontends"][0]["sessions"], 1)

    def test_top_level_members_history_and_reloads(self):
        """version, taken_at, start_time, uptime_s, sessions, reloads; a
        history per frontend of at least 2 samples, one a second, counters
        cumulative, the last one catching up with the traffic."""
        self.start_two()
        self.whos(4)
        live, _ = self.hold()
        self.mb.reload()
        status = self.status_json()
        self.assertEqual(status.get("version"), harness.version_from_configure_ac())
        for member in ("taken_at", "start_time"):
            self.assertRegex(str(status.get(member)), AT, f"{member}: {status.get(member)!r}")
        start = datetime.datetime.strptime(status["start_time"][:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertGreaterEqual(start, math.floor(self.started_at) - 1, "start_time before the start")
        self.assertLessEqual(start, self.ready_at + 1, "start_time after READY=1")
        uptime = status.get("uptime_s")
        self.assertTrue(isinstance(uptime, int) and not isinstance(uptime, bool), f"uptime_s {uptime!r}")
        self.assertLessEqual(uptime, time.time() - self.started_at + 1)
        self.assertGreaterEqual(uptime, 0)
        self.assertEqual(status.get("sessions"), 1, "sessions: the live one")
        self.assertEqual(status.get("reloads"), {"ok": 1, "failed": 0})

        def history_ok(s):
            h = s.get("history")
            return isinstance(h, dict) and all(isinstance(h.get(t), list) and len(h[t]) >= 2
                                              for t in ("web", "api")) \
                and h["web"][-1].get("connections") == 5 and h["web"][-1].get("sessions") == 1
        deadline = time.monotonic() + 5 * SLOW
        for _ in range(1 << 16):
            status = self.status_json()
            if history_ok(status) or time.monotonic() > deadline:
                break
            time.sleep(0.1)             # samples come once a second
        history = status.get("history")
        self.assertTrue(history_ok(status), f"history: no 2 samples per frontend, the last one with "
                                            f"web's 5 connections and 1 session, within 5 s: {history}")
        self.assertEqual(sorted(history), ["api", "web"], "history: one member per frontend")
        for title, samples in history.items():
            for sample in samples:
                self.assertEqual(sorted(sample), ["bytes_received", "bytes_sent", "connections",
                                                  "sessions", "t"], f"{title}: a sample {sample}")
            ts = [s["t"] for s in samples]
            self.assertEqual(ts, sorted(set(ts)), f"{title}: sample times not increasing: {ts}")
            self.assertLess(abs(ts[-1] - time.time()), 10, f"{title}: the last sample is not recent")
            for member in ("connections", "bytes_received", "bytes_sent"):
                values = [s[member] for s in samples]
                self.assertEqual(values, sorted(values), f"{title}: {member} not cumulative: {values}")
        self.assertEqual(history["web"][-1]["sessions"], 1)


class HttpSemantics(StatsCase):

    def test_status_page_is_self_contained_html(self):
        self.simple("ab")
        r = request(self.stats, "GET", "/")
        self.assertEqual(r.status, 200, f"GET /: {r.status} {r.reason}")
        self.assertEqual(media(r.headers.get("content-type")), media(HTML_TYPE), r.headers)
        self.assertIn("no-store", r.headers.get("cache-control", ""), r.headers)
        page = r.body.decode("utf-8")
        self.assertRegex(page.lower(), r"<html", "not an HTML page")
        self.assertIn("status.json", page, "the page does not fetch /status.json")
        text = page
        for ns in NAMESPACES:
            text = text.replace(ns, "")
        for scheme in ("http://", "https://"):
            i = text.find(scheme)
            self.assertEqual(i, -1, f"an external URL in the page: ...{text[max(0, i - 80):i + 80]!r}")
        off_page = []
        for m in re.finditer(r"""\b(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", page, re.I):
            attr, value = m.group(1).lower(), next(v for v in m.groups()[1:] if v is not None)
            if value.startswith("data:"):
                continue
            tag = re.match(r"<\s*([a-zA-Z][a-zA-Z0-9-]*)", page[page.rfind("<", 0, m.start()):])
            external = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//)", value)
            if attr == "href" and not external and not (tag and tag.group(1).lower() == "link"):
                continue                # a link within the page or to another path here
            off_page.append(m.group(0))
        self.assertEqual(off_page, [], "src= or href= loading something from off the page")
        self.assertNotRegex(page, r"@import|url\(\s*['\"]?(?!data:|#)", "a CSS resource off the page")

    def test_unknown_paths_are_404(self):
        self.simple("a")
        for path in ("/nosuch", "/metrics/x", "/status.json.bak", "/index.html", "/" + "z" * 4000):
            for method in ("GET", "HEAD"):
                r = request(self.stats, method, path)
                self.assertEqual(r.status, 404, f"{method} {path[:40]}: {r.status} {r.reason}")
                self.assertIn("no-store", r.headers.get("cache-control", ""), f"{method} {path[:40]}")
                if method == "GET":
                    self.assertEqual(r.body, b"not found\n", f"GET {path[:40]}")

    def test_other_methods_are_405_with_allow(self):
        self.simple("a")
        for method, path in (("POST", "/metrics"), ("PUT", "/"), ("DELETE", "/status.json"),
                             ("OPTIONS", "/metrics"), ("PATCH", "/")):
            r = request(self.stats, method, path)
            self.assertEqual(r.status, 405, f"{method} {path}: {r.status} {r.reason}")
            allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
            self.assertEqual(allow, ALLOW, f"{method} {path}: Allow {r.headers.get('allow')!r}")
            self.assertIn("no-store", r.headers.get("cache-control", ""), f"{method} {path}")

    def test_head_works_on_every_route(self):
        self.simple("a")
        for path, kind in (("/metrics", METRICS_TYPE), ("/", HTML_TYPE), ("/status.json", None)):
            get = request(self.stats, "GET", path)
            status, headers, body = raw_exchange(
                self.stats, f"HEAD {path} HTTP/1.1\r\nHost: stats\r\nConnection: close\r\n\r\n".encode())
            self.assertRegex(status, r"^HTTP/1\.[01] 200 ", f"HEAD {path}")
            self.assertEqual(media(headers.get("content-type"))[0],
                             media(get.headers.get("content-type"))[0], f"HEAD {path}: Content-Type")
            if kind:
                self.assertEqual(media(headers.get("content-type")), media(kind), f"HEAD {path}")
            self.assertIn("no-store", headers.get("cache-control", ""), f"HEAD {path}")
            self.assertEqual(body, b"", f"HEAD {path} sent a body")

    def test_cache_control_no_store_on_every_answer(self):
        self.simple("a")
        for method, path in (("GET", "/metrics"), ("GET", "/"), ("GET", "/status.json"),
                             ("GET", "/nosuch"), ("POST", "/metrics")):
            r = request(self.stats, method, path)
            self.assertIn("no-store", r.headers.get("cache-control", ""),
                          f"{method} {path} ({r.status}): {r.headers}")


class BadInput(StatsCase):
    """Each bad client is answered with an error or closed, within a bound;
    after each, traffic flows end to end and the stats server answers."""

    def refused(self, head, chunks, accept, what):
        """Send HEAD then CHUNKS from a thread while waiting (REFUSE s) for
        an answer or a close.  Fails unless the outcome is in ACCEPT (status
        codes and/or "closed"); returns (outcome, bytes sent, seconds)."""
        s = self.connect(self.stats, sndbuf=64 << 10)
        s.settimeout(0.5)
        sender = Flood(s, itertools.chain([head], chunks), 60.0 * SLOW)
        started = time.monotonic()
        sender.start()
        try:
            outcome, got = next_answer(s, REFUSE)
        except AssertionError as e:
            self.fail(f"{what}: {e}")
        finally:
            sender.stop()
            sent, _ = sender.join(10)
        took = time.monotonic() - started
        self.assertIn(outcome, accept, f"{what}: answered {got[:300]!r} after {sent} bytes sent")
        s.close()
        return outcome, sent, took

    def test_unknown_paths_methods_and_garbage(self):
        self.simple("ab")
        cases = [
            (b"BREW /metrics HTTP/1.1\r\nHost: s\r\n\r\n", "an unknown method"),
            (b"GET /../../../etc/passwd HTTP/1.1\r\nHost: s\r\n\r\n", "a path outside"),
            (b"GET /%00%ff HTTP/1.1\r\nHost: s\r\n\r\n", "a path with NUL"),
            (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64) + b"\r\n\r\n",
             "a TLS ClientHello"),
            (b"\x00\xff\xfe\xfd garbage\r\n\r\n", "binary garbage"),
            (b"GET /metrics HTTP/1.1\r\nHost: s\r\nContent-Length: -1\r\n\r\n",
             "a negative Content-Length"),
        ]
        for data, what in cases:
            s = self.connect(self.stats)
            harness.send_all(s, data)
            outcome, got = next_answer(s, HTTP_TIMEOUT)
            self.assertTrue(outcome == "closed" or 400 <= outcome < 600,
                            f"{what}: answered {got[:200]!r}")
            s.close()
            self.assert_serving(what)

    def test_huge_headers_are_refused(self):
        """1 MiB of headers (many lines; one line) and a 1 MiB request
        line: 431 (414 or 400 for the request line) or closed, within 5 s."""
        self.simple("ab")
        lines = (f"X-Filler-{i:04d}: {'f' * 1000}\r\n".encode() for i in range(1040))
        outcome, _, took = self.refused(b"GET /metrics HTTP/1.1\r\nHost: s\r\n",
                                        itertools.chain(lines, [b"\r\n"]), (431, "closed"),
                                        "1 MiB of header lines")
        self.assert_serving("1 MiB of header lines")
        self.refused(b"GET /metrics HTTP/1.1\r\nHost: s\r\nX-Big: ",
                     [b"b" * (1 << 20), b"\r\n\r\n"], (431, "closed"), "a 1 MiB header line")
        self.assert_serving("a 1 MiB header line")
        self.refused(b"GET /", [b"p" * (1 << 20), b" HTTP/1.1\r\nHost: s\r\n\r\n"],
                     (400, 414, 431, "closed"), "a 1 MiB request line")
        self.assert_serving("a 1 MiB request line")

    def test_huge_bodies_are_refused_without_reading_them(self):
        """100 MiB announced (Content-Length, or chunked): 413 (405 for a
        POST) or closed, within 5 s, long before the body could be sent."""
        self.simple("ab")
        total = 100 << 20
        mib = b"x" * (1 << 20)
        for head, accept, what in (
                (b"GET /metrics HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n" % total,
                 (413, "closed"), "GET with a 100 MiB Content-Length"),
                (b"POST /metrics HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n" % total,
                 (405, 413, "closed"), "POST with a 100 MiB Content-Length"),
                (b"GET /status.json HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n",
                 (413, "closed"), "GET with a chunked body")):
            chunk = b"100000\r\n" + mib + b"\r\n" if b"chunked" in head else mib
            outcome, sent, took = self.refused(head, itertools.repeat(chunk, 100), accept, what)
            self.assertLess(sent, total, f"{what}: the server read the whole body ({sent} bytes) "
                                         f"before answering {outcome}")
            self.assertLess(took, REFUSE, what)
            self.assert_serving(what)

    def test_100_idle_http_clients(self):
        """100 clients connect and say nothing: the 65th and later are closed
        at once, the first 64 stay open; traffic flows meanwhile; once they
        are gone the server answers again."""
        self.simple("ab")
        clients = []
        for i in range(100):
            try:
                clients.append(self.connect(self.stats))
            except OSError as e:
                self.fail(f"idle HTTP client {i + 1}: cannot connect: {e}")
        closed = {}

        def look():
            for i, s in enumerate(clients):
                if i in closed:
                    continue
                readable, _, _ = select.select([s], [], [], 0)
                if not readable:
                    continue
                try:
                    s.settimeout(0.5)
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    closed[i] = "reset"
                    continue
                if not data:
                    closed[i] = "eof"
            return len(closed) >= 100 - MAX_HTTP
        harness.wait_for(look, 10 * SLOW, f"{100 - MAX_HTTP} of 100 idle HTTP clients closed")
        self.served("a client through the balancer with 100 idle HTTP clients")
        self.served("another one")
        look()
        self.assertEqual(sorted(closed), list(range(MAX_HTTP, 100)),
                         "the clients closed (0-based connect order)")
        self.assertEqual([i for i in range(MAX_HTTP) if not is_open(clients[i])], [],
                         "among the first 64, answered or closed")
        for s in clients:
            s.close()
        tries = []

        def answers():
            try:
                r = request(self.stats, "GET", "/metrics", timeout=2.0)
            except AssertionError as e:
                tries.append(str(e))
                return False
            return r.status == 200
        harness.wait_for(answers, 10 * SLOW, "GET /metrics answered once the idle clients left")
        self.assert_serving("100 idle HTTP clients")

    def test_client_that_never_reads_its_responses(self):
        """Requests for /metrics pipelined, their answers never read, until
        the connection is stuck (no progress for a second) or the server
        closes it; the server may not take them all (that would be answers
        piling up without bound).  Meanwhile clients through the balancer
        are served and other scrapes answered."""
        self.simple("ab")
        stuck = self.connect(self.stats, rcvbuf=4096)
        stuck.settimeout(0.5)
        many = itertools.repeat(b"GET /metrics HTTP/1.1\r\nHost: s\r\n\r\n" * 100, 20000)
        sender = Flood(stuck, many, 60.0 * SLOW, name="no-reader")
        sender.start()
        try:
            seen = []

            def stalled():
                if not sender.is_alive():
                    return True
                now = time.monotonic()
                seen.append((now, sender.sent))
                earlier = [n for t, n in seen if t <= now - 1.0]
                return bool(earlier) and earlier[-1] == sender.sent and sender.sent > 0
            harness.wait_for(stalled, 30.0 * SLOW,
                             "the non-reading client to be stuck (or closed by the server)")
            window = time.monotonic() + 3.0 * SLOW
            served = 0
            for _ in range(1 << 16):       # a few seconds of others being served meanwhile
                if time.monotonic() > window:
                    break
                self.served(f"a client while an HTTP client does not read ({served} served)")
                r = request(self.stats, "GET", "/metrics")
                self.assertEqual(r.status, 200, "another scrape while one client does not read")
                served += 1
            self.assertGreater(served, 2)
        finally:
            sender.stop()
            sent, end = sender.join(10)
        sys.stderr.write(f"\nthe non-reading client sent {sent} bytes of requests ({end})\n")
        self.assertNotEqual(end, "done", f"the server took {sent} bytes of requests whose answers "
                                         f"nobody read")
        stuck.close()
        self.assert_serving("a client that never read its responses")

    def test_half_request_line_stays_harmless(self):
        """Half a request line ("GET /metr") and nothing more: not answered,
        not closed for a few seconds in which others are served; the rest of
        the request is then answered.  The 30 s close itself: the MB_SLOW_TESTS case."""
        self.simple("ab")
        slow = self.connect(self.stats)
        harness.send_all(slow, b"GET /metr")
        window = time.monotonic() + 3.0
        served = 0
        for _ in range(1 << 16):
            if time.monotonic() > window:
                break
            self.served()
            self.assertEqual(request(self.stats, "GET", "/metrics").status, 200)
            served += 1
        self.assertGreater(served, 2)
        self.assertTrue(is_open(slow), "the half request was answered or closed within 3 s")
        harness.send_all(slow, b"ics HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n")
        outcome, got = next_answer(slow, HTTP_TIMEOUT)
        self.assertEqual(outcome, 200, f"the completed request: {got[:200]!r}")
        self.assert_serving("a slow request")

    @unittest.skipUnless(os.environ.get("MB_SLOW_TESTS") == "1",
                         OPT_IN + ": takes over 30 s; set MB_SLOW_TESTS=1 to run it")
    def test_half_request_line_is_closed_after_30_s(self):
        """Runs only with MB_SLOW_TESTS=1 (test_stats_slow.py).  Half a
        request line, then nothing: closed after 30 s (not much before,
        not much after); others are served every few seconds meanwhile."""
        self.simple("ab")
        slow = self.connect(self.stats)
        harness.send_all(slow, b"GET /metr")
        sent = time.monotonic()
        closed_at = None
        for _ in range(1000):
            if time.monotonic() - sent > IDLE + 15:
                break
            readable, _, _ = select.select([slow], [], [], 5.0)
            if readable:
                outcome, got = next_answer(slow, 1.0)
                closed_at = time.monotonic() - sent
                self.assertIn(outcome, ("closed", 408), f"answered {got[:200]!r}")
                if outcome != "closed":
                    harness.wait_closed(slow, 2.0)
                break
            self.served()
            self.assertEqual(request(self.stats, "GET", "/metrics").status, 200)
        self.assertIsNotNone(closed_at, f"the half request still open after {IDLE + 15:.0f} s")
        self.assertGreaterEqual(closed_at, IDLE - 1, f"closed after {closed_at:.1f} s")
        self.assertLessEqual(closed_at, IDLE + 10, f"closed after {closed_at:.1f} s")
        self.assert_serving("a half request line left for 30 s")


class Startup(StatsCase):
    """stats_listen at start: bind failures and configuration errors."""

    def text(self, stats, front=None):
        self.front = front or harness.free_addr()
        back = harness.free_addr()
        return harness.config(harness.frontend("web", self.front, [("a", back)]), stats_listen=f'"{stats}"')

    def assert_valid(self, text, what):
        r = harness.run(["-t", "-c", self.write_conf(text)])
        self.assertEqual(r.returncode, 0, f"{what}: -t should accept it: {r}")
        self.assertIn("configuration OK", r.stdout, r)

    def assert_refused(self, addr):
        try:
            s = harness.connect(addr, timeout=2.0)
        except ConnectionRefusedError:
            return
        s.close()
        self.fail(f"something listens on {addr} after the daemon exited")

    def test_valid_forms_check_ok(self):
        self.assert_valid(self.text(harness.free_addr()), "stats_listen = 127.x.y.z:port")
        self.assert_valid(self.text(f"*:{harness.free_addr().port}"), "stats_listen = *:port")
        if harness.have_ipv6():
            self.assert_valid(self.text(harness.free_addr(socket.AF_INET6)), "stats_listen = [::1]:port")

    def test_bind_failure_exits_1_naming_the_address(self):
        taken = harness.free_addr()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(taken.sockaddr)
        holder.listen(1)
        text = self.text(taken)
        self.assert_valid(text, "a stats_listen address taken by another socket (-t binds nothing)")
        r = harness.run(["-c", self.write_conf(text)])
        self.assertEqual(r.returncode, 1, r)
        self.assertNotIn("READY=1", r.notifications, r)
        self.assertTrue(any(str(taken) in line and "stats_listen" in line
                            for line in r.stderr.splitlines()),
                        f"no stderr line naming stats_listen and {taken}: {r}")
        self.assert_refused(self.front)

    def test_overlapping_a_frontend_is_a_configuration_error(self):
        """stats_listen on a frontend's address, or *:that port: exit 78 with
        FILE:LINE naming stats_listen, with and without -t; nothing bound."""
        front = harness.free_addr()
        self.assert_valid(self.text(harness.free_addr(), front), "stats_listen apart from the frontend")
        for stats in (str(front), f"*:{front.port}"):
            text = self.text(stats, front)
            path = self.write_conf(text)
            lines = [n for n, l in enumerate(text.splitlines(), 1)
                     if "stats_listen" in l or "bind_on" in l or l.startswith("frontend web")]
            for args in (["-t", "-c", path], ["-c", path]):
                r = harness.run(args)
                self.assertEqual(r.returncode, 78, f"stats_listen = {stats}: {' '.join(args)}: {r}")
                self.assertTrue(any(harness.config_error_line(r.stderr, path, n, "stats_listen")
                                    for n in lines),
                                f"stats_listen = {stats}: no '{path}:LINE:' error naming "
                                f"stats_listen: {r}")
                self.assertNotIn("READY=1", r.notifications, r)
            self.assert_refused(front)

    def test_bad_values_are_configuration_errors(self):
        self.assert_valid(self.text(harness.free_addr()), "a good stats_listen")
        for value in ("nonsense", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:-5"):
            text = self.text(value)
            path = self.write_conf(text)
            number = next(n for n, l in enumerate(text.splitlines(), 1) if "stats_listen" in l)
            r = harness.run(["-t", "-c", path])
            self.assertEqual(r.returncode, 78, f"stats_listen = {value!r}: {r}")
            self.assertTrue(harness.config_error_line(r.stderr, path, number, "stats_listen"),
                            f"stats_listen = {value!r}: no '{path}:{number}:' error naming it: {r}")


if __name__ == "__main__":
    unittest.main(testRunner=Runner)
