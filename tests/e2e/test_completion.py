#!/usr/bin/env python3
"""bash completion of mini-balancer and mini-balancerctl (completions/), run
in a real bash with bash-completion's helpers loaded; the targets come from a
fake control socket answering `show frontends` and `show backends`.  Skipped
(77) where bash or bash-completion is missing."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_ctl import CLOSE, HANG, FakeDaemon, ctl_binary  # noqa: E402

BASH_COMPLETION = os.environ.get("MB_BASH_COMPLETION",
                                 "/usr/share/bash-completion/bash_completion")

# Completes the last of the words given, as bash would after a <Tab>:
# COMP_WORDS split as bash splits them (at COMP_WORDBREAKS, "=" and ":" too),
# COMP_LINE as typed.
RUNNER = r'''
source "$MB_BASH_COMPLETION" >/dev/null 2>&1 || exit 3
source "$1" || exit 3
func=$2
shift 2
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$MB_LINE
COMP_POINT=${#COMP_LINE}
"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''

FRONTENDS = (b'{"ok":true,"frontends":[{"title":"web","bind_on":"127.0.0.1:7070"},'
             b'{"title":"db","bind_on":"127.0.0.1:5432"}]}\n')
BACKENDS = (b'{"ok":true,"backends":[{"frontend":"web","title":"app1","state":"up"},'
            b'{"frontend":"web","title":"app2","state":"up"},'
            b'{"frontend":"db","title":"pg:5432","state":"down"}]}\n')


def answer(line):
    if line == b"show frontends\n":
        return FRONTENDS
    if line == b"show backends\n":
        return BACKENDS
    return CLOSE


class Completion(harness.TestCase):

    def setUp(self):
        super().setUp()
        if shutil.which("bash") is None:
            raise unittest.SkipTest("no bash")
        if not os.path.exists(BASH_COMPLETION):
            raise unittest.SkipTest(f"no bash-completion ({BASH_COMPLETION})")
        self.completions = os.path.join(harness.srcdir(), "completions")
        self.sock = os.path.join(self.tmpdir, "admin.sock")

    def complete(self, program, words, line=None):
        """COMPREPLY for WORDS, in the order given; WORDS[0] is the command."""
        script = os.path.join(self.completions, program)
        func = "_" + program.replace("-", "_")
        line = line if line is not None else " ".join(words)
        env = dict(os.environ, MB_BASH_COMPLETION=BASH_COMPLETION, MB_LINE=line)
        proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", RUNNER, "bash", script,
                               func, *words], capture_output=True, timeout=20, env=env,
                              cwd=self.tmpdir)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertEqual(proc.stderr.decode(), "")
        return [w for w in proc.stdout.decode().split("\n") if w]

    def fake_daemon(self, reply=answer):
        fake = FakeDaemon(self.sock, reply)
        self.addCleanup(fake.close)
        return fake

    # ---- mini-balancer

    def test_daemon_options(self):
        self.assertEqual(self.complete("mini-balancer", ["mini-balancer", ""]), [
            "-c", "--config", "-v", "--verbose", "-t", "--check-config", "-V", "--version",
            "-h", "--help"])
        self.assertEqual(self.complete("mini-balancer", ["mini-balancer", "-v", "--ch"]),
                         ["--check-config"])

    def test_daemon_config_file(self):
        for name in ("web.conf", "seed.toml", "other.txt"):
            with open(os.path.join(self.tmpdir, name), "w") as f:
                f.write("")
        self.assertEqual(sorted(self.complete("mini-balancer", ["mini-balancer", "-c", ""])),
                         ["other.txt", "seed.toml", "web.conf"])
        self.assertEqual(self.complete("mini-balancer", ["mini-balancer", "-c", "we"]),
                         ["web.conf"])
        self.assertEqual(self.complete("mini-balancer", ["mini-balancer", "--config", "=", "se"],
                                       line="mini-balancer --config=se"), ["seed.toml"])

    # ---- mini-balancerctl

    def test_ctl_options_and_commands(self):
        ctl = ctl_binary()
        self.assertEqual(self.complete("mini-balancerctl", [ctl, ""]), [
            "show", "disable", "drain", "enable", "set", "shutdown", "reload", "help"])
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "--j"]), ["--json"])
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "--json", "show", ""]),
                         ["info", "frontends", "backends"])
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "set", ""]), ["weight"])
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "shutdown", "s"]), ["sessions"])
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "reload", ""]), [])

    def test_ctl_targets_from_the_daemon(self):
        ctl = ctl_binary()
        fake = self.fake_daemon()
        targets = ["web/app1", "web/app2", "db/pg:5432"]
        for words in (["disable", ""], ["drain", ""], ["enable", ""], ["set", "weight", ""],
                      ["shutdown", "sessions", ""]):
            with self.subTest(words=words):
                self.assertEqual(self.complete("mini-balancerctl", [ctl, "-s", self.sock, *words]),
                                 targets)
        self.assertEqual(self.complete("mini-balancerctl",
                                       [ctl, "-s", self.sock, "drain", "web/"]),
                         ["web/app1", "web/app2"])
        self.assertEqual(self.complete("mini-balancerctl",
                                       [ctl, "--socket", "=", self.sock, "enable", "d"],
                                       line=f"{ctl} --socket={self.sock} enable d"),
                         ["db/pg:5432"])
        # bash splits "db/pg:54" at the colon; the reply must fit what is left.
        self.assertEqual(self.complete("mini-balancerctl",
                                       [ctl, "-s", self.sock, "enable", "db/pg", ":", "54"],
                                       line=f"{ctl} -s {self.sock} enable db/pg:54"),
                         ["5432"])
        self.assertEqual(self.complete("mini-balancerctl",
                                       [ctl, "-s", self.sock, "show", "backends", ""]),
                         ["web", "db"])
        self.assertEqual(self.complete("mini-balancerctl",
                                       [ctl, "-s", self.sock, "set", "weight", "web/app1", ""]),
                         [])
        self.assertIn(b"show backends\n", fake.received)
        self.assertIn(b"show frontends\n", fake.received)

    def test_ctl_targets_without_a_daemon(self):
        ctl = ctl_binary()
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "-s", self.sock, "disable", ""]),
                         [])
        # A socket that never answers costs a second, not a hang.
        self.fake_daemon(lambda _: HANG)
        start = time.monotonic()
        self.assertEqual(self.complete("mini-balancerctl", [ctl, "-s", self.sock, "disable", ""]),
                         [])
        self.assertLess(time.monotonic() - start, 5.0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
