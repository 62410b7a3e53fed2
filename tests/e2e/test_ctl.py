#!/usr/bin/env python3
"""mini-balancerctl against a fake control socket: the line it sends, its
output (tables, one-liners, --json as received), its errors on stderr and its
exit status (0 ok, 1 refused, 64 usage, 69 unreachable / no valid answer in
time).  The fake daemon is a unix socket server in a thread of this test that
answers canned lines and records what it received; tests against the real
daemon live beside the daemon's control socket tests."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RUN_TIMEOUT = 20.0   # one mini-balancerctl run, whatever happens

HANG = object()      # accept, read the command, never answer
CLOSE = object()     # accept, read the command, close without a word


def ctl_binary():
    """Absolute path of mini-balancerctl under test ($MB_CTL)."""
    path = os.environ.get("MB_CTL", "")
    if not path:
        raise AssertionError("MB_CTL is not set (path of the mini-balancerctl binary)")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"MB_CTL={path!r} is not an executable file")
    return path


class FakeDaemon:
    """A control socket in a thread.  reply(line) gives the bytes to send
    (sent as they are: add the newline), HANG or CLOSE.  With greet, the
    reply is sent and the connection closed before anything is read, as the
    daemon does for a refused peer.  With accept=False nothing is ever
    accepted: connects wait in the backlog."""

    def __init__(self, path, reply, greet=False, accept=True):
        self.path = path
        self.reply = reply
        self.greet = greet
        self.received = []          # what each connection sent, in order
        self.saw_eof = []           # whether the client closed after its answer
        self._stop = threading.Event()
        self._conns = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(path)
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(1 if not accept else 16)
        self.sock.settimeout(0.2)
        self.thread = None
        if accept:
            self.thread = threading.Thread(target=self._accept_loop, daemon=True,
                                           name="fake-daemon")
            self.thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(harness.IO_TIMEOUT)
        try:
            if self.greet:
                conn.sendall(self.reply(b""))
                return
            data = b""
            while b"\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.received.append(data)
            answer = self.reply(data)
            if answer is HANG:
                self._stop.wait(RUN_TIMEOUT)
                return
            if answer is CLOSE:
                return
            conn.sendall(answer)
            # The client reads one answer and goes: EOF, and nothing more.
            rest = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    self.saw_eof.append(rest)
                    return
                rest += chunk
        except OSError:
            pass
        finally:
            harness.close_quietly(conn)

    def close(self):
        self._stop.set()
        harness.close_quietly(self.sock)
        for conn in self._conns:
            harness.close_quietly(conn)
        if self.thread is not None:
            self.thread.join(5)


def canned(*lines):
    """A reply giving LINES (str) one per connection, newline added; the
    last one for every further connection."""
    answers = [l.encode() + b"\n" for l in lines]

    def reply(_line):
        return answers.pop(0) if len(answers) > 1 else answers[0]
    return reply


class CtlCase(harness.TestCase):
    """Runs mini-balancerctl; no tests of its own."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.tmpdir, "admin.sock")

    def fake(self, reply, **kw):
        daemon = FakeDaemon(self.path, reply, **kw)
        self.addCleanup(daemon.close)
        return daemon

    def ctl(self, *args, socket_path=None):
        """Runs mini-balancerctl -s SOCKET ARGS; (status, stdout, stderr, seconds)."""
        argv = [ctl_binary(), "-s", socket_path or self.path, *args]
        start = time.monotonic()
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=RUN_TIMEOUT, env=dict(os.environ, LC_ALL="C.UTF-8"))
        return (proc.returncode, proc.stdout.decode(), proc.stderr.decode(),
                time.monotonic() - start)

    def assert_unreachable(self, result, *words):
        status, out, err, _ = result
        self.assertEqual(status, 69, f"stdout: {out!r} stderr: {err!r}")
        self.assertEqual(out, "")
        self.assertTrue(err.startswith("mini-balancerctl: "), err)
        self.assertIn(self.path, err, "the message must name the socket")
        for w in words:
            self.assertIn(w, err)



class Ctl(CtlCase):
    """Against a fake control socket: every output and exit status."""

    # ---- what is sent

    def test_the_line_sent_is_the_joined_words(self):
        daemon = self.fake(canned('{"ok":true,"frontend":"web","backend":"app1","weight":3}'))
        status, out, err, _ = self.ctl("set", "weight", "web/app1", "3")
        self.assertEqual((status, out, err), (0, "web/app1: weight 3\n", ""))
        self.assertEqual(daemon.received, [b"set weight web/app1 3\n"])
        # One command, one answer, then the client goes away without more.
        harness.wait_for(lambda: daemon.saw_eof, harness.IO_TIMEOUT, "the client's EOF")
        self.assertEqual(daemon.saw_eof, [b""])

    def test_words_after_double_dash_and_with_spaces(self):
        daemon = self.fake(canned('{"ok":false,"error":"weight: \'-1\' is not a number from 1 to 256"}'))
        status, _, err, _ = self.ctl("--", "set", "weight", "web/app 1", "-1")
        self.assertEqual(status, 1, err)
        self.assertEqual(daemon.received, [b"set weight web/app 1 -1\n"])
        self.assertEqual(err, "mini-balancerctl: weight: '-1' is not a number from 1 to 256\n")

    def test_options_after_the_command(self):
        daemon = self.fake(canned('{"ok":true,"frontend":"web","backend":"app1","state":"drain"}'))
        status, out, _, _ = self.ctl("drain", "web/app1", "--json")
        self.assertEqual(status, 0)
        self.assertEqual(daemon.received, [b"drain web/app1\n"])
        self.assertEqual(out, '{"ok":true,"frontend":"web","backend":"app1","state":"drain"}\n')

    # ---- human output

    def test_show_frontends_table(self):
        daemon = self.fake(canned(
            '{"ok":true,"frontends":[{"title":"web","bind_on":"127.0.0.1:7070",'
            '"balance":"round-robin","state":"listening","sessions":3,"connections":120,'
            '"failed":0,"bytes_received":1000,"bytes_sent":2000},{"title":"api",'
            '"bind_on":"[::1]:8443","balance":"least-connections","state":"held",'
            '"sessions":10000,"connections":12345678901234,"failed":7,'
            '"bytes_received":9876543210123,"bytes_sent":5}]}'))
        status, out, err, _ = self.ctl("show", "frontends")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(daemon.received, [b"show frontends\n"])
        self.assertEqual(out.splitlines(), [
            "FRONTEND  BIND_ON         BALANCE            STATE      SESSIONS     CONNECTIONS"
            "  FAILED  BYTES_RECEIVED  BYTES_SENT",
            "web       127.0.0.1:7070  round-robin        listening         3             120"
            "       0            1000        2000",
            "api       [::1]:8443      least-connections  held          10000  12345678901234"
            "       7   9876543210123           5",
        ])

    def test_show_backends_table(self):
        daemon = self.fake(canned(
            '{"ok":true,"backends":[{"frontend":"web","title":"app1","address":"127.0.0.1:8080",'
            '"forward_to":"127.0.0.1:8080","state":"up","why":null,"weight":1,"backup":false,'
            '"sessions":1,"connections":60,"connect_failures":0,"bytes_sent":500,'
            '"bytes_received":1000,"last_check":null},{"frontend":"web","title":"app2",'
            '"address":"127.0.0.1:9090","forward_to":"127.0.0.1:9090","state":"maint",'
            '"why":"set with the control socket","weight":3,"backup":true,"sessions":0,'
            '"connections":0,"connect_failures":2,"bytes_sent":0,"bytes_received":0,'
            '"last_check":null}]}'))
        status, out, err, _ = self.ctl("show", "backends", "web")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(daemon.received, [b"show backends web\n"])
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertEqual(lines[0].split(), [
            "FRONTEND", "BACKEND", "ADDRESS", "STATE", "WEIGHT", "BACKUP", "SESSIONS",
            "CONNECTIONS", "CONNECT_FAILURES", "BYTES_SENT", "BYTES_RECEIVED", "LAST_CHECK", "WHY"])
        self.assertEqual(lines[1].split(), [
            "web", "app1", "127.0.0.1:8080", "up", "1", "no", "1", "60", "0", "500", "1000",
            "-", "-"])
        self.assertEqual(lines[2].split()[:12], [
            "web", "app2", "127.0.0.1:9090", "maint", "3", "yes", "0", "0", "2", "0", "0", "-"])
        self.assertTrue(lines[2].endswith("  set with the control socket"), lines[2])
        # Aligned: each header starts where its cells start (left) or ends
        # where they end (right-aligned numbers).
        self.assertEqual(lines[1].index("127.0.0.1:8080"), lines[0].index("ADDRESS"))
        self.assertEqual(lines[2].index("maint"), lines[0].index("STATE"))
        end = lines[0].index("BYTES_RECEIVED") + len("BYTES_RECEIVED")
        self.assertEqual(lines[1][end - 4:end], "1000")

    def test_show_info(self):
        self.fake(canned(
            '{"ok":true,"version":"0.1.0","pid":1234,"uptime_s":56,"config_file":'
            '"/etc/mini-balancer/mini-balancer.conf","workers":2,"sessions":3,"reloads":1,'
            '"last_reload":{"ok":true,"at":"2026-11-28T06:45:17Z","errors":[]},'
            '"descriptors":{"limit":65536,"in_use":40,"reserve":64,"sessions":3,"pipes":2},'
            '"relay":"splice"}'))
        status, out, err, _ = self.ctl("show", "info")
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        # Values aligned after the longest key, "descriptors.sessions".
        self.assertEqual(lines[0], "version:              0.1.0")
        self.assertIn("pid:                  1234", lines)
        self.assertIn("last_reload.at:       2026-11-28T06:45:17Z", lines)
        self.assertIn("last_reload.errors:   -", lines)
        self.assertIn("descriptors.sessions: 3", lines)
        self.assertEqual(lines[-1], "relay:                splice")

    def test_actions(self):
        cases = [
            (["disable", "web/app1"], '{"ok":true,"frontend":"web","backend":"app1","state":"maint"}',
             "web/app1: maint\n"),
            (["enable", "web/app1"], '{"ok":true,"frontend":"web","backend":"app1","state":"up"}',
             "web/app1: up\n"),
            (["shutdown", "sessions", "web/app1"],
             '{"ok":true,"frontend":"web","backend":"app1","closed":2}',
             "web/app1: 2 sessions closed\n"),
            (["reload"], '{"ok":true,"errors":[]}', "reloaded\n"),
        ]
        for words, answer, expected in cases:
            with self.subTest(words=words):
                path = os.path.join(self.tmpdir, f"{words[0]}.sock")
                daemon = FakeDaemon(path, canned(answer))
                self.addCleanup(daemon.close)
                status, out, err, _ = self.ctl(*words, socket_path=path)
                self.assertEqual((status, out, err), (0, expected, ""))
                self.assertEqual(daemon.received, [" ".join(words).encode() + b"\n"])

    # ---- refusals: exit 1, the error on stderr

    def test_refused_command(self):
        self.fake(canned('{"ok":false,"error":"frontend web has no backend \'nosuch\'"}'))
        status, out, err, _ = self.ctl("disable", "web/nosuch")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err, "mini-balancerctl: frontend web has no backend 'nosuch'\n")

    def test_reload_errors_are_printed(self):
        self.fake(canned('{"ok":false,"error":"reload failed: 2 errors","errors":'
                         '["/etc/x.conf:3: option \'bind_on\': bad address","/etc/x.conf:9: '
                         'frontend api: no backend"]}'))
        status, out, err, _ = self.ctl("reload")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err.splitlines(), [
            "mini-balancerctl: reload failed: 2 errors",
            "/etc/x.conf:3: option 'bind_on': bad address",
            "/etc/x.conf:9: frontend api: no backend",
        ])

    def test_refused_before_reading(self):
        """A peer the daemon refuses gets its answer at once and is closed:
        that answer is what counts, not the broken send."""
        self.fake(lambda _: b'{"ok":false,"error":"permission denied: uid 1000 may not use '
                            b'the control socket"}\n', greet=True)
        # A command larger than the socket's buffer: the client is still
        # sending when the daemon closes, so its send fails for sure.
        status, out, err, _ = self.ctl("show", "info", *(["x" * 100000] * 8))
        self.assertEqual((status, out), (1, ""), err)
        self.assertEqual(err, "mini-balancerctl: permission denied: uid 1000 may not use "
                              "the control socket\n")

    # ---- --json

    def test_json_prints_the_answer_as_received(self):
        raw = '{ "ok" : true,"zeta":1, "alpha":[ ], "n":12345678901234567}'
        self.fake(canned(raw))
        status, out, err, _ = self.ctl("--json", "show", "info")
        self.assertEqual((status, out, err), (0, raw + "\n", ""))

    def test_json_refused(self):
        raw = '{"ok":false,"error":"no frontend \'x\'"}'
        self.fake(canned(raw))
        status, out, err, _ = self.ctl("--json", "show", "backends", "x")
        self.assertEqual((status, out), (1, raw + "\n"))
        self.assertEqual(err, "mini-balancerctl: no frontend 'x'\n")

    # ---- usage: 64, nothing sent

    def test_usage_errors(self):
        daemon = self.fake(canned('{"ok":true}'))
        for args in ([], ["--no-such-option", "help"], ["--timeout", "0", "help"],
                     ["--timeout", "abc", "help"], ["--timeout", "86401", "help"],
                     ["show\ninfo"], ["reload\r"], [" ", ""], ["-s", "", "help"],
                     ["disable", b"web/caf\xe9"]):
            with self.subTest(args=args):
                status, out, err, _ = self.ctl(*args)   # a later -s overrides ctl()'s
                self.assertEqual(status, 64, f"stdout: {out!r} stderr: {err!r}")
                self.assertEqual(out, "")
                self.assertTrue(err.startswith("mini-balancerctl: "), err)
                self.assertIn("--help", err)
        self.assertEqual(daemon.received, [], "a usage error must send nothing")

    def test_help_and_version(self):
        proc = subprocess.run([ctl_binary(), "--help"], capture_output=True, timeout=RUN_TIMEOUT)
        self.assertEqual(proc.returncode, 0)
        text = proc.stdout.decode()
        self.assertIn("/mini-balancer/admin.sock", text, "--help names the default socket")
        for command in ("show backends [FRONTEND]", "set weight FRONTEND/BACKEND WEIGHT",
                        "shutdown sessions FRONTEND/BACKEND", "reload"):
            self.assertIn(command, text)
        proc = subprocess.run([ctl_binary(), "-V"], capture_output=True, timeout=RUN_TIMEOUT)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout.decode(),
                         f"mini-balancerctl {harness.version_from_configure_ac()}\n")

    # ---- unreachable or no valid answer: 69, the path named

    def test_missing_socket(self):
        self.assert_unreachable(self.ctl("show", "info"), "cannot connect",
                                "No such file or directory")

    def test_socket_nobody_listens_on(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        s.close()   # a stale socket file
        self.assert_unreachable(self.ctl("show", "info"), "cannot connect", "Connection refused")

    def test_not_a_socket(self):
        with open(self.path, "w") as f:
            f.write("x")
        self.assert_unreachable(self.ctl("show", "info"), "cannot connect")

    def test_socket_path_too_long(self):
        path = "/tmp/" + "x" * 110
        status, out, err, _ = self.ctl("help", socket_path=path)
        self.assertEqual((status, out), (69, ""))
        self.assertIn(path, err)
        self.assertIn("at most 107 bytes", err)

    def test_server_that_never_answers(self):
        daemon = self.fake(lambda _: HANG)
        result = self.ctl("--timeout", "1", "reload")
        self.assert_unreachable(result, "no answer within 1 s")
        self.assertGreaterEqual(result[3], 0.9)
        self.assertLess(result[3], 5.0, "--timeout 1 must bound the wait")
        self.assertEqual(daemon.received, [b"reload\n"])

    def test_server_that_never_accepts(self):
        self.fake(None, accept=False)
        result = self.ctl("--timeout", "1", "show", "info")
        self.assert_unreachable(result, "no answer within 1 s")
        self.assertLess(result[3], 5.0, "--timeout 1 must bound the wait")

    def test_server_closes_without_answering(self):
        self.fake(lambda _: CLOSE)
        self.assert_unreachable(self.ctl("show", "info"), "closed the connection without answering")

    def test_answer_not_json(self):
        cases = ((b"hello\n", "not JSON"), (b"[1,2]\n", "not a JSON object"),
                 (b'{"result":"ok"}\n', '"ok"'), (b"\n", "not a JSON object"),
                 (b'{"ok":true,"x":"\xff"}\n', "not UTF-8"))
        for i, (raw, says) in enumerate(cases):
            with self.subTest(raw=raw):
                path = os.path.join(self.tmpdir, f"s{i}.sock")
                daemon = FakeDaemon(path, lambda _, raw=raw: raw)
                self.addCleanup(daemon.close)
                status, out, err, _ = self.ctl("show", "info", socket_path=path)
                self.assertEqual((status, out), (69, ""), err)
                self.assertIn(path, err)
                self.assertIn(says, err)

    def test_answer_without_newline(self):
        self.fake(lambda _: b'{"ok":true}')   # and EOF
        self.assert_unreachable(self.ctl("show", "info"), "without a newline")

    def test_answer_too_long(self):
        # 17 MiB without a newline: refused once past 16 MiB, not buffered on.
        self.fake(lambda _: b'{"ok":true,"x":"' + b"a" * (17 << 20))
        self.assert_unreachable(self.ctl("--timeout", "10", "show", "info"),
                                "longer than 16777216 bytes")


class CtlAgainstTheDaemon(CtlCase):
    """The same tool against the real daemon: what an operator (and the
    unit's ExecReload=) sees."""

    def start_daemon(self, *backends):
        self.front = harness.free_addr()
        self.config_text = lambda extra="": harness.config(
            harness.frontend("web", self.front, [(b.name, b.addr) for b in backends]) + extra,
            admin_socket=f'"{self.path}"')
        return self.daemon(self.config_text())

    def test_show_and_actions_with_exit_codes(self):
        a, b = self.ident_backend("a"), self.ident_backend("b")
        self.start_daemon(a, b)
        for _ in range(4):
            self.who(self.front)
        status, out, err, _ = self.ctl("show", "backends")
        self.assertEqual(status, 0, err)
        rows = [line.split() for line in out.splitlines()]
        self.assertEqual(rows[0][:8], ["FRONTEND", "BACKEND", "ADDRESS", "STATE", "WEIGHT", "BACKUP",
                                       "SESSIONS", "CONNECTIONS"])
        self.assertEqual({r[1]: (r[3], r[7]) for r in rows[1:]}, {"a": ("up", "2"), "b": ("up", "2")})
        self.assertEqual(self.ctl("drain", "web/a")[:2], (0, "web/a: drain\n"))
        self.assertEqual([self.who(self.front) for _ in range(2)], ["b", "b"])
        status, out, err, _ = self.ctl("disable", "web/nosuch")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("frontend web has no backend 'nosuch'", err)
        status, out, err, _ = self.ctl("--json", "show", "frontends")
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out)["frontends"][0]["connections"], 6)

    def test_reload_fails_visibly_on_a_bad_file(self):
        """What systemctl reload runs (ExecReload=mini-balancerctl reload):
        exit 1 and the file's errors, FILE:LINE, on stderr; then 0 once the
        file is good again."""
        a = self.ident_backend("a")
        mb = self.start_daemon(a)
        with open(mb.config_path, "a") as f:
            f.write("frontend broken {\n  bind_on = \"nowhere\"\n}\n")
        status, out, err, _ = self.ctl("reload")
        self.assertEqual(status, 1, f"stdout: {out!r} stderr: {err!r}")
        self.assertIn("reload failed", err)
        self.assertRegex(err, re.escape(mb.config_path) + r":\d+: frontend broken")
        self.assertEqual(self.who(self.front), "a", "the old configuration keeps serving")
        with open(mb.config_path, "w") as f:
            f.write(self.config_text())
        self.assertEqual(self.ctl("reload")[:2], (0, "reloaded\n"))

    def test_daemon_gone(self):
        mb = self.start_daemon(self.ident_backend("a"))
        self.assertEqual(mb.stop(), 0)
        self.assert_unreachable(self.ctl("show", "info"))


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
