#!/usr/bin/env python3
"""The status page (GET / of stats_listen, src/status.html) in a real browser.

Headless Chromium loads the page, lets it run for a few seconds of virtual
time (--virtual-time-budget: timers run at once, virtual time stands still
while a fetch is pending, so "two refreshes" costs no wall time), and dumps
the DOM it rendered (--dump-dom) or a screenshot.  The assertions use the
attributes the working spec fixes: data-frontend on each card, data-frontend
+ data-backend on each backend row with a class="state" cell, body
data-ready="1" and data-updated = the taken_at rendered.

Two servers stand behind the page:
  * FakeServer: http.server in a thread, serving src/status.html at / and a
    status.json the test scripts answer by answer (states changing between
    two refreshes of one page, a daemon that stops answering, strings that
    look like markup);
  * the real daemon with stats_listen, once the binary accepts that option
    (`mini-balancer -t` says so); until then that class is skipped.
Both classes reach the page through base_url() only.

Skipped (77) when /usr/bin/chromium is missing (Debian package chromium);
while the daemon has no stats_listen the file is a SKIP too (harness.Runner:
something was skipped), with the fake server's tests run and reported in
its log.
The screenshots go to tests/e2e/status-page.png (fake data) and
tests/e2e/status-page-daemon.png in the build tree (not committed)."""

import functools
import http.server
import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
import zlib
from html.parser import HTMLParser

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Wall-clock bound of one browser run: it takes 2-4 s on an idle machine,
# much more on two busy cores or under valgrind.
BROWSER_TIMEOUT = 90.0
# Virtual time the page runs before the dump: the first fetch at 0 s, the
# refreshes at 2 s and 4 s (PERIOD_MS in the page).
TWO_REFRESHES_MS = 5000
ONE_REFRESH_MS = 3000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WINDOW = (1280, 900)
PAGE_PATH = "/org/mini-balancer/status.html"   # the GResource (for the record)


def page_source():
    with open(os.path.join(harness.srcdir(), "src", "status.html"), "rb") as f:
        return f.read()


def build_dir():
    """The top of the build tree: $MB_BINARY is <builddir>/src/mini-balancer."""
    binary = os.environ.get("MB_BINARY")
    if binary:
        return os.path.dirname(os.path.dirname(os.path.abspath(binary)))
    return os.getcwd()


def screenshot_path(name):
    directory = os.path.join(build_dir(), "tests", "e2e")
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, name)


def require_chromium():
    if not os.access(CHROMIUM, os.X_OK):
        raise unittest.SkipTest(f"{CHROMIUM} is not installed (Debian package chromium): "
                                "the status page is tested in a real browser")


# --------------------------------------------------------------------------
# The browser

def kill_group(proc):
    """Kill what is left of the process group of PROC (started with
    start_new_session: its pid is the group's id) and reap PROC."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    harness._live_processes.discard(proc)


def chromium(test, url, *args, budget_ms=TWO_REFRESHES_MS, timeout=BROWSER_TIMEOUT):
    """Run headless Chromium on URL with ARGS (--dump-dom, --screenshot=...)
    in a fresh profile and home of its own; returns its stdout (text).
    Fails when it runs longer than TIMEOUT or exits non-zero; its whole
    process group is killed and its directory removed in any case."""
    home = harness.make_temp_dir()
    try:
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-default-apps", "--user-data-dir=" + os.path.join(home, "profile"),
                f"--virtual-time-budget={budget_ms}", *args, url]
        # Its NSS database and caches go to the temporary home, not to ours.
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, "config"),
                   XDG_CACHE_HOME=os.path.join(home, "cache"))
        out_path, err_path = os.path.join(home, "stdout"), os.path.join(home, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, cwd=home, close_fds=True, start_new_session=True)
        harness._live_processes.add(proc)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"chromium still running after {timeout} s on {url}; stderr "
                                 f"ends:\n{harness._tail(err_path, 3000)}") from None
        finally:
            kill_group(proc)
        if proc.returncode != 0:
            raise AssertionError(f"chromium exited with status {proc.returncode} on {url}; "
                                 f"stderr ends:\n{harness._tail(err_path, 3000)}")
        with open(out_path, "rb") as f:
            return f.read(1 << 24).decode(errors="replace")
    finally:
        harness.remove_temp_dir(home)


# --------------------------------------------------------------------------
# The DOM Chromium dumped, parsed into a small tree

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, predicate):
        return [n for n in self.walk() if predicate(n)]

    def find(self, predicate, what):
        found = self.find_all(predicate)
        if len(found) != 1:
            raise AssertionError(f"expected one {what} in the page, found {len(found)}")
        return found[0]


class _TreeBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html):
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


class Page:
    """What one rendering of the page shows."""

    def __init__(self, html):
        self.html = html
        self.dom = parse(html)
        self.body = self.dom.find(lambda n: n.tag == "body", "<body>")

    @property
    def ready(self):
        return self.body.attrs.get("data-ready") == "1"

    @property
    def updated(self):
        return self.body.attrs.get("data-updated")

    def cards(self):
        """{frontend title: its card}."""
        found = self.dom.find_all(lambda n: "data-frontend" in n.attrs and "data-backend" not in n.attrs)
        return {n.attrs["data-frontend"]: n for n in found}

    def rows(self):
        """{(frontend, backend): its row}."""
        found = self.dom.find_all(lambda n: n.tag == "tr" and "data-backend" in n.attrs)
        return {(n.attrs.get("data-frontend"), n.attrs["data-backend"]): n for n in found}

    def states(self):
        """{frontend: {backend: the text of the row's class="state" cell}}."""
        out = {title: {} for title in self.cards()}
        for (fe, be), row in self.rows().items():
            cell = row.find(lambda n: "state" in n.classes(), f"state cell in row {fe}/{be}")
            out.setdefault(fe, {})[be] = cell.text().strip()
        return out

    def problem(self):
        """The text of the visible alert (a failed fetch), or None."""
        found = self.dom.find_all(lambda n: n.attrs.get("role") == "alert")
        shown = [n for n in found if "hidden" not in n.attrs]
        return shown[0].text().strip() if shown else None

    def excerpt(self, limit=3000):
        start = self.html.find("<body")
        return self.html[max(start, 0):max(start, 0) + limit]


# --------------------------------------------------------------------------
# status.json as the daemon writes it (spec "/status.json")

T0 = 1795849200.0        # 2026-11-28T01:00:00Z


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def backend_entry(fe, title, state, i):
    why = {"up": None, "down": "connection refused", "drain": BY_CONTROL,
           "maint": BY_CONTROL}[state]
    check = None
    if state != "maint":
        check = {"at": iso(T0 + 299), "ok": state != "down",
                 "detail": "connection refused" if state == "down" else None}
    return {"frontend": fe, "title": title, "address": f"10.0.{i}.{10 + i}:8080",
            "forward_to": f"app{i}.internal:8080", "state": state, "why": why,
            "weight": 1 + i, "backup": i == 3, "sessions": 0 if state == "down" else 3 + i,
            "connections": 1200 * (i + 1), "connect_failures": 7 if state == "down" else 0,
            "bytes_sent": 3 * 1024 ** 2 * (i + 1) + 12345,
            "bytes_received": 5 * 1024 ** 3 * (i + 1) + 678, "last_check": check}


BY_CONTROL = "set with the control socket"


def fake_status(states, taken_at=T0 + 300):
    """A status.json: STATES is {frontend: {backend: state}} in order; each
    frontend gets five minutes of history shaped like a day's traffic."""
    frontends, backends, history = [], [], {}
    for k, (fe, bes) in enumerate(states.items()):
        samples, sent, received, conns = [], 0, 0, 0
        for s in range(300):
            sessions = int(40 + 25 * math.sin(s / 23 + k) + 10 * math.sin(s / 5))
            received += 2000 * sessions + 50000 * (s % 60 == 0)
            sent += 30000 * sessions
            conns += sessions // 4
            samples.append({"t": taken_at - 299 + s, "sessions": sessions,
                            "bytes_received": received, "bytes_sent": sent, "connections": conns})
        history[fe] = samples
        frontends.append({"title": fe, "bind_on": f"0.0.0.0:{8080 + k}", "balance": "round-robin",
                          "state": "listening", "sessions": samples[-1]["sessions"],
                          "connections": conns, "failed": 3 * k, "bytes_received": received,
                          "bytes_sent": sent})
        backends += [backend_entry(fe, be, st, i) for i, (be, st) in enumerate(bes.items())]
    return {"version": "0.1.0", "taken_at": iso(taken_at), "start_time": iso(T0 - 86400 - 3723),
            "uptime_s": 86400 + 3723 + 300, "sessions": sum(f["sessions"] for f in frontends),
            "reloads": {"ok": 2, "failed": 1}, "frontends": frontends, "backends": backends,
            "history": history}


class FakeServer:
    """The stats server's two routes on 127.0.0.1:<ephemeral> in a thread:
    / is src/status.html, /status.json answers from a script (serve()).
    `requests` lists every path asked for, in order."""

    def __init__(self, page):
        self.page = page
        self.requests = []
        self._answers = [(503, b"nothing scripted\n")]
        self._served = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = harness.IO_TIMEOUT

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with fake._lock:
                    fake.requests.append(self.path)
                    if path == "/status.json":
                        code, body = fake._answers[min(fake._served, len(fake._answers) - 1)]
                        fake._served += 1
                    elif path == "/":
                        code, body = 200, fake.page
                    else:
                        code, body = 404, b"not found\n"
                kind = {"/": "text/html; charset=utf-8", "/status.json": "application/json"}
                self.send_response(code)
                self.send_header("Content-Type", kind.get(path, "text/plain") if code == 200
                                 else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True, name="fake-stats")
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.server.server_address[1]

    def serve(self, *answers):
        """The answers to the next status.json requests, in turn (the last one
        repeats): a dict (200, as JSON), bytes (200, as they are) or an HTTP
        status (an error)."""
        def answer(a):
            if isinstance(a, dict):
                return 200, json.dumps(a).encode()
            if isinstance(a, bytes):
                return 200, a
            return a, b"unavailable\n"
        script = [answer(a) for a in answers]
        with self._lock:
            self._answers, self._served = script, 0

    @property
    def served(self):
        with self._lock:
            return self._served

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --------------------------------------------------------------------------
# What every server's page must do

class StatusPageCase(harness.TestCase):

    def setUp(self):
        require_chromium()
        super().setUp()

    def base_url(self):
        raise NotImplementedError

    def render(self, budget_ms=TWO_REFRESHES_MS):
        """The page at base_url() after BUDGET_MS of virtual time."""
        page = Page(chromium(self, self.base_url(), "--dump-dom", budget_ms=budget_ms))
        self.assertTrue(page.ready, "body has no data-ready=\"1\": the page rendered no "
                                    f"status.json; it shows:\n{page.excerpt()}")
        return page

    def assert_shows(self, page, expected):
        """EXPECTED: {frontend: {backend: state}}: every card, every row, each
        state, and nothing else."""
        self.assertEqual(sorted(page.cards()), sorted(expected),
                         f"frontend cards; the page shows:\n{page.excerpt()}")
        self.assertEqual(page.states(), expected, "backend rows and their states")

    def screenshot(self, name):
        path = screenshot_path(name)
        if os.path.exists(path):
            os.unlink(path)
        chromium(self, self.base_url(), f"--screenshot={path}",
                 "--window-size=%d,%d" % WINDOW, "--hide-scrollbars", budget_ms=ONE_REFRESH_MS)
        self.assert_png(path)
        sys.stderr.write(f"\nscreenshot: {path}\n")
        return path

    def assert_png(self, path):
        """A PNG of the window's size whose pixels are not all alike."""
        self.assertTrue(os.path.exists(path), f"chromium wrote no screenshot at {path}")
        with open(path, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 1000, f"{path}: {len(data)} bytes")
        self.assertEqual(data[:8], PNG_SIGNATURE, f"{path} is not a PNG")
        chunks, pos = {}, 8
        while pos + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            chunks.setdefault(kind, []).append(data[pos + 8:pos + 8 + length])
            pos += 12 + length
        self.assertIn(b"IEND", chunks, f"{path}: truncated PNG")
        width, height = struct.unpack(">II", chunks[b"IHDR"][0][:8])
        self.assertEqual((width, height), WINDOW, f"{path}: size")
        pixels = zlib.decompress(b"".join(chunks[b"IDAT"]))
        self.assertGreater(len(set(pixels)), 32, f"{path}: an almost uniform image (a blank page?)")


# --------------------------------------------------------------------------
# Against the fake server

STATES = {"web": {"app1": "up", "app2": "up", "app3": "drain", "spare": "up"},
          "db": {"primary": "up", "replica": "maint"}}


def with_state(states, fe, be, state):
    changed = {f: dict(b) for f, b in states.items()}
    changed[fe][be] = state
    return changed


class FakeServerPage(StatusPageCase):

    def setUp(self):
        super().setUp()
        self.fake = FakeServer(page_source())
        self.addCleanup(self.fake.close)

    def base_url(self):
        return self.fake.url

    def test_every_frontend_and_backend_with_its_state(self):
        status = fake_status(STATES)
        self.fake.serve(status)
        page = self.render()
        self.assert_shows(page, STATES)
        self.assertEqual(page.updated, status["taken_at"])
        self.assertGreaterEqual(self.fake.served, 2, "the page did not refresh itself")

        text = " ".join(page.body.text().split())
        for word in ("0.1.0", "1d 1h 07m", "2 ok, 1 failed"):
            self.assertIn(word, text, "the header")
        web = page.cards()["web"]
        self.assertIn("0.0.0.0:8080", web.text())
        self.assertIn("listening", web.text())
        charts = web.find_all(lambda n: n.tag == "svg")
        self.assertEqual(len(charts), 2, "a sessions chart and a bytes per second chart")
        for chart in charts:
            paths = chart.find_all(lambda n: n.tag == "path" and len(n.attrs.get("d", "")) > 100)
            self.assertTrue(paths, "a chart without a line over the history")
            self.assertTrue(chart.attrs.get("aria-label"), "a chart without a label")

        row = page.rows()[("web", "app1")]
        cells = [c for c in row.children if isinstance(c, Node)]
        texts = [" ".join(c.text().split()) for c in cells]
        app1 = status["backends"][0]
        self.assertEqual(texts[:4], ["app1", "10.0.0.10:8080", "up", ""])
        self.assertIn("3.0 MiB", texts)                          # bytes_sent 3 MiB + 12345
        exact = [c.attrs.get("title") for c in cells]
        self.assertIn(f"{app1['bytes_sent']:,} bytes", exact, "the exact count in a title")
        self.assertIn(f"{app1['bytes_received']:,} bytes", exact)
        self.assertIn(BY_CONTROL, page.rows()[("web", "app3")].text(), "why a backend is not up")

    def test_a_backend_down_shows_in_the_next_rendering(self):
        self.fake.serve(fake_status(STATES))
        self.assert_shows(self.render(), STATES)
        down = with_state(STATES, "web", "app2", "down")
        status = fake_status(down, taken_at=T0 + 330)
        self.fake.serve(status)
        page = self.render()
        self.assert_shows(page, down)
        self.assertEqual(page.updated, status["taken_at"])
        self.assertIn("connection refused", page.rows()[("web", "app2")].text())

    def test_the_page_refreshes_itself(self):
        """One page: its first status.json has app2 up, the later ones down."""
        down = with_state(STATES, "web", "app2", "down")
        later = fake_status(down, taken_at=T0 + 302)
        self.fake.serve(fake_status(STATES), later)
        page = self.render()
        self.assert_shows(page, down)
        self.assertEqual(page.updated, later["taken_at"])

    def test_a_daemon_not_answering_is_shown_and_retried(self):
        status = fake_status(STATES)
        self.fake.serve(status, 503)
        page = self.render(ONE_REFRESH_MS)
        problem = page.problem()
        self.assertIsNotNone(problem, f"no alert after a failed fetch:\n{page.excerpt()}")
        self.assertRegex(problem, r"^daemon not answering since \d\d:\d\d:\d\d")
        self.assertIn("503", problem)
        self.assert_shows(page, STATES)          # the last data stays, marked stale
        self.assertIn("stale", page.body.classes())

        self.fake.serve(status, 503, fake_status(STATES, taken_at=T0 + 304))
        page = self.render(TWO_REFRESHES_MS)
        self.assertGreaterEqual(self.fake.served, 3, "no retry after a failed fetch")
        self.assertIsNone(page.problem(), "the alert stays after the daemon answered again")
        self.assertEqual(page.updated, iso(T0 + 304))
        self.assertNotIn("stale", page.body.classes())

    def test_not_json_is_shown(self):
        self.fake.serve(fake_status(STATES), b"<html>a proxy's error page</html>")
        page = self.render(ONE_REFRESH_MS)
        self.assertIsNotNone(page.problem(), "no alert after an answer that is not JSON")

    def test_strings_are_text_not_markup(self):
        evil = '<i class="injected">x</i>&amp;"\'<script>window.pwned=1</script>'
        status = fake_status({"web": {"app1": "up", "b" + evil: "down"}, "f" + evil: {"c": "up"}})
        status["backends"][1]["why"] = evil
        status["version"] = evil
        self.fake.serve(status)
        page = self.render(ONE_REFRESH_MS)
        self.assertEqual(page.dom.find_all(lambda n: "injected" in n.classes()), [],
                         "a string from status.json became markup")
        self.assertEqual(len(page.dom.find_all(lambda n: n.tag == "script")), 1)
        self.assertIn(("web", "b" + evil), page.rows())
        self.assertIn("f" + evil, page.cards())
        self.assertIn(evil, " ".join(page.body.text().split()))

    def test_no_external_resource(self):
        """Nothing in the page names a URL but the relative status.json it
        fetches and two relative links; loading it asks for nothing else."""
        html = page_source().decode()
        for word in ("http:", "https:", "//", "url(", "@import", "src=", "srcset", "<link",
                     "<iframe", "<object", "<embed", "<img", "xlink:href", "ws:"):
            self.assertNotIn(word, html, f"{word!r} in src/status.html")
        fetched = re.findall(r"fetch\(([^,)]*)", html)
        self.assertEqual(fetched, ['"status.json"'], "what the page fetches")
        self.assertEqual(sorted(set(re.findall(r"href=\"([^\"]*)\"", html))),
                         ["metrics", "status.json"], "links")
        self.assertIn("default-src 'none'", html, "the Content-Security-Policy")

        self.fake.serve(fake_status(STATES))
        self.render()
        asked = {p for p in self.fake.requests} - {"/favicon.ico"}
        self.assertEqual(asked, {"/", "/status.json"}, "what the browser asked for")

    def test_screenshot(self):
        self.fake.serve(fake_status(with_state(STATES, "web", "app2", "down")))
        self.screenshot("status-page.png")


# --------------------------------------------------------------------------
# Against the daemon

@functools.lru_cache(maxsize=None)
def daemon_without_stats():
    """None when the daemon accepts stats_listen, else why not."""
    addr = harness.free_addr()
    d = harness.make_temp_dir()
    try:
        path = os.path.join(d, "stats.conf")
        with open(path, "w") as f:
            f.write(harness.config(harness.frontend("web", harness.free_addr(),
                                                    [("a", harness.free_addr())]),
                                   stats_listen=f'"{addr}"'))
        result = harness.run(["-t", "-c", path])
    finally:
        harness.remove_temp_dir(d)
    if result.returncode == 0:
        return None
    return ("the daemon does not accept stats_listen yet (mini-balancer -t exits "
            f"{result.returncode}: {result.stderr.strip()[:200]})")


# Health checks that notice a stopped backend quickly.
CHECK = "  health_check { interval = 200ms timeout = 200ms fall = 2 rise = 1 }\n"


class DaemonPage(StatusPageCase):

    def setUp(self):
        super().setUp()
        reason = daemon_without_stats()
        if reason:
            self.skipTest(reason)
        self.stats = harness.free_addr()
        self.admin_path = self.admin_socket_path()
        self.backends = {"web": {n: self.ident_backend(n) for n in ("app1", "app2")},
                         "db": {"primary": self.ident_backend("primary")}}
        sections = []
        for fe, bes in self.backends.items():
            text = harness.frontend(fe, harness.free_addr(), [(n, b.addr) for n, b in bes.items()])
            sections.append(text.replace("\n", "\n" + CHECK, 1))
        self.mb = self.daemon(harness.config(*sections, stats_listen=f'"{self.stats}"',
                                             admin_socket=f'"{self.admin_path}"'))
        self.expected = {fe: {n: "up" for n in bes} for fe, bes in self.backends.items()}
        self.wait_states(self.expected)

    def base_url(self):
        return f"http://{self.stats}/"

    def get(self, path):
        with urllib.request.urlopen(self.base_url() + path.lstrip("/"),
                                    timeout=harness.IO_TIMEOUT) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read(1 << 24)

    def status(self):
        return json.loads(self.get("status.json")[2])

    def wait_states(self, expected, timeout=10.0):
        """Until status.json says EXPECTED (so does the page then)."""
        def now():
            s = self.status()
            got = {f["title"]: {} for f in s["frontends"]}
            for b in s["backends"]:
                got.setdefault(b["frontend"], {})[b["title"]] = b["state"]
            return got
        harness.wait_for(lambda: now() == expected, timeout, f"status.json to show {expected}")

    def test_serves_the_page(self):
        status, kind, body = self.get("/")
        self.assertEqual(status, 200)
        self.assertTrue(kind.startswith("text/html"), kind)
        self.assertEqual(body, page_source(), f"GET / is not src/status.html ({PAGE_PATH})")

    def test_every_frontend_and_backend_with_its_state(self):
        page = self.render()
        self.assert_shows(page, self.expected)
        self.assertRegex(page.updated or "", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_a_disabled_backend_shows_maint(self):
        self.assert_shows(self.render(), self.expected)
        self.admin(self.admin_path).ok("disable web/app2")
        expected = with_state(self.expected, "web", "app2", "maint")
        self.wait_states(expected)
        self.assert_shows(self.render(), expected)

    def test_a_stopped_backend_shows_down(self):
        self.assert_shows(self.render(), self.expected)
        self.backends["web"]["app1"].close()
        expected = with_state(self.expected, "web", "app1", "down")
        self.wait_states(expected)
        page = self.render()
        self.assert_shows(page, expected)

    def test_screenshot(self):
        self.screenshot("status-page-daemon.png")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
