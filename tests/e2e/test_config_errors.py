#!/usr/bin/env python3
"""Configuration errors exit 78 with "FILE:LINE:" and the option named on stderr,
with and without -t, and start nothing; command-line errors exit 64; a bind
failure exits 1 naming the address."""

import os
import socket
import string
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EX_USAGE, EX_CONFIG = 64, 78

# A valid configuration; each case adds one error to it.  $front is the valid
# frontend's address (checked to be left unbound), $other a second free address,
# $back a backend address (never connected to: nothing starts).
BASE = """\
# mini-balancer end-to-end test configuration
log_level = message
shutdown_timeout = 5s

frontend good {
  bind_on = "$front"
  connect_timeout = 2s
  backend app1 { forward_to = "$back" }
}
"""

OTHER = """
frontend other {
  bind_on = "$other"
  idle_timeout = 10m
  backend app1 { forward_to = "$back" }
  backend app2 { forward_to = "$back" }
}
"""


def line_of(text, needle, occurrence=1):
    """1-based number of the line holding the n-th occurrence of needle."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise ValueError(f"{needle!r} (occurrence {occurrence}) not in the test configuration")


class ConfigErrors(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.addrs = {"front": harness.free_addr(), "other": harness.free_addr(),
                      "back": harness.free_addr()}
        self.elsewhere = os.path.join(self.tmpdir, "cwd")   # the daemon's working directory
        os.mkdir(self.elsewhere)

    def write(self, name, template):
        text = string.Template(template).substitute({k: str(v) for k, v in self.addrs.items()})
        path = os.path.join(self.tmpdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path, text

    def assert_refused(self, addr):
        try:
            s = harness.connect(addr, timeout=2.0)
        except ConnectionRefusedError:
            return
        s.close()
        self.fail(f"something listens on {addr} after a configuration error")

    def assert_config_error(self, path, locations, modes=("run", "check")):
        """Exit 78, and for each (file, line, words...) in locations a stderr line
        with "file:line:" and every word; nothing started, nothing bound."""
        for mode in modes:
            args = ["-c", path] if mode == "run" else ["-t", "-c", path]
            r = harness.run(args, cwd=self.elsewhere)
            self.assertEqual(r.returncode, EX_CONFIG, f"{' '.join(args)}: {r}")
            for where in locations:
                file_names, line, *words = where
                if isinstance(file_names, str):
                    file_names = (file_names,)
                found = any(harness.config_error_line(r.stderr, f, line, *words)
                            for f in file_names)
                self.assertTrue(found, f"{' '.join(args)}: expected an error line with "
                                       f"'{file_names[0]}:{line}:' naming {words}; {r}")
            self.assertNotIn("configuration OK", r.stdout, r)
            self.assertNotIn("READY=1", r.notifications, r)
        self.assert_refused(self.addrs["front"])

    def case(self, template, needle, *words, occurrence=1, name="mb.conf"):
        path, text = self.write(name, template)
        self.assert_config_error(path, [(path, line_of(text, needle, occurrence), *words)])

    # -- the base itself is fine: errors below are due to the added line only

    def test_base_configuration_is_valid(self):
        path, _ = self.write("mb.conf", BASE + OTHER)
        r = harness.run(["-t", "-c", path], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("configuration OK", r.stdout.splitlines(), r)

    # -- options

    def test_unknown_option(self):
        self.case(BASE + OTHER.replace("  idle_timeout = 10m\n",
                                       "  idle_timeout = 10m\n  frobnicate = 1\n"),
                  "frobnicate", "frobnicate")

    def test_relative_config_path(self):
        """-c with a relative path: the error names the file as given or resolved."""
        path, text = self.write("mb.conf", BASE.replace("log_level = message\n",
                                                        "log_level = message\nfrobnicate = 1\n"))
        r = harness.run(["-t", "-c", "mb.conf"], cwd=self.tmpdir)
        self.assertEqual(r.returncode, EX_CONFIG, r)
        # "mb.conf:N:" is also the tail of the absolute path.
        self.assertTrue(harness.config_error_line(r.stderr, "mb.conf", line_of(text, "frobnicate"),
                                                  "frobnicate"), r)

    def test_unknown_global_option(self):
        self.case(BASE.replace("log_level = message\n", "log_level = message\nfrobnicate = yes\n"),
                  "frobnicate", "frobnicate")

    def test_bad_durations(self):
        for option, value in [("idle_timeout", "5x"), ("idle_timeout", "1h30m"),
                              ("idle_timeout", "1.5s"), ("connect_timeout", "0"),
                              ("idle_timeout", "-1s"), ("idle_timeout", "721h")]:
            with self.subTest(option=option, value=value):
                self.case(BASE + OTHER.replace("  idle_timeout = 10m\n",
                                               f"  {option} = {value}\n"),
                          f"{option} = {value}", option)

    def test_bad_global_duration(self):
        self.case(BASE.replace("shutdown_timeout = 5s", "shutdown_timeout = 5x"),
                  "shutdown_timeout", "shutdown_timeout")

    def test_bad_log_level(self):
        self.case(BASE.replace("log_level = message", "log_level = loud"),
                  "log_level", "log_level")

    # -- addresses

    def test_bad_addresses(self):
        for option, value in [("bind_on", "127.0.0.1"), ("bind_on", "127.0.0.1:0"),
                              ("bind_on", "127.0.0.1:65536"), ("bind_on", "[::1:80"),
                              ("forward_to", "[::1:80"), ("forward_to", "127.0.0.1"),
                              ("forward_to", "127.0.0.1:http-alt-x")]:
            with self.subTest(option=option, value=value):
                other = OTHER.replace('bind_on = "$other"', f'bind_on = "{value}"', 1) \
                    if option == "bind_on" else \
                    OTHER.replace('backend app2 { forward_to = "$back" }',
                                  f'backend app2 {{ forward_to = "{value}" }}')
                self.case(BASE + other, f'"{value}"', option)

    def test_unresolvable_host(self):
        self.case(BASE + OTHER.replace('backend app2 { forward_to = "$back" }',
                                       'backend app2 { forward_to = "no-such-host.invalid:80" }'),
                  "no-such-host.invalid", "forward_to")

    # -- sections (one-line sections: opening, option and closing line coincide)

    def test_frontend_without_backends(self):
        self.case(BASE + '\nfrontend lonely { bind_on = "$other" }\n', "frontend lonely", "backend")

    def test_missing_bind_on(self):
        self.case(BASE + '\nfrontend nowhere { backend app1 { forward_to = "$back" } }\n',
                  "frontend nowhere", "bind_on")

    def test_missing_forward_to(self):
        self.case(BASE + OTHER.replace('backend app2 { forward_to = "$back" }',
                                       "backend app2 { }"),
                  "backend app2", "forward_to")

    def test_duplicate_frontend_title(self):
        self.case(BASE + OTHER.replace("frontend other {", "frontend good {"),
                  "frontend good", "frontend", "good", occurrence=2)

    def test_duplicate_backend_title(self):
        self.case(BASE + OTHER.replace("backend app2", "backend app1"),
                  "backend app1", "backend", "app1", occurrence=3)

    def test_two_frontends_on_one_address(self):
        path, text = self.write("mb.conf", BASE + OTHER.replace('"$other"', '"$front"'))
        first, second = line_of(text, "bind_on"), line_of(text, "bind_on", 2)
        r = harness.run(["-t", "-c", path], cwd=self.elsewhere)
        self.assertEqual(r.returncode, EX_CONFIG, r)
        # Either frontend's bind_on line names the clash.
        self.assertTrue(harness.config_error_line(r.stderr, path, second, "bind_on")
                        or harness.config_error_line(r.stderr, path, first, "bind_on"),
                        f"expected '{path}:{second}:' (or :{first}:) naming bind_on; {r}")
        r = harness.run(["-c", path], cwd=self.elsewhere)
        self.assertEqual(r.returncode, EX_CONFIG, r)
        self.assertNotIn("READY=1", r.notifications, r)
        self.assert_refused(self.addrs["front"])

    # -- files

    def test_missing_file(self):
        path = os.path.join(self.tmpdir, "does-not-exist.conf")
        for args in (["-c", path], ["-t", "-c", path]):
            r = harness.run(args, cwd=self.elsewhere)
            self.assertEqual(r.returncode, EX_CONFIG, r)
            self.assertIn(path, r.stderr, r)
            self.assertNotIn("READY=1", r.notifications, r)

    def test_empty_file(self):
        path, _ = self.write("empty.conf", "")
        for args in (["-c", path], ["-t", "-c", path]):
            r = harness.run(args, cwd=self.elsewhere)
            self.assertEqual(r.returncode, EX_CONFIG, r)
            self.assertIn(path, r.stderr, r)
            self.assertNotIn("READY=1", r.notifications, r)

    def test_error_in_included_file(self):
        """include() is relative to the including file's directory (not the
        working directory); the error names the included file and its own line."""
        inc_path, inc_text = self.write("conf/other.conf", "# included file\n" + OTHER.replace(
            "idle_timeout = 10m", "idle_timeout = 5x"))
        main, _ = self.write("conf/main.conf", BASE + '\ninclude("other.conf")\n')
        line = line_of(inc_text, "idle_timeout")
        self.assertGreater(line, 3)
        # The file as resolved, or as written in include().
        self.assert_config_error(main, [((inc_path, "other.conf"), line, "idle_timeout")])

    def test_include_relative_to_including_file(self):
        self.write("conf/other.conf", OTHER)
        main, _ = self.write("conf/main.conf", BASE + '\ninclude("other.conf")\n')
        r = harness.run(["-t", "-c", main], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("configuration OK", r.stdout.splitlines(), r)

    def test_check_reports_every_error(self):
        path, text = self.write("mb.conf", BASE.replace("connect_timeout = 2s", "idle_timeout = 5x")
                                + OTHER.replace('bind_on = "$other"', 'bind_on = "127.0.0.1"'))
        self.assert_config_error(path, [(path, line_of(text, "idle_timeout = 5x"), "idle_timeout"),
                                        (path, line_of(text, '"127.0.0.1"'), "bind_on")],
                                 modes=("check",))

    # -- the seed's TOML schema

    TOML = """\
# seed-style configuration
[frontend]
bind_on = "$front"

[[frontend.backend]]
forward_to = "$back"

[[frontend.backend]]
forward_to = "$other"
"""

    def test_toml_base_is_valid(self):
        path, _ = self.write("seed.toml", self.TOML)
        r = harness.run(["-t", "-c", path], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 0, r)

    def test_toml_unknown_key(self):
        self.case(self.TOML.replace('bind_on = "$front"\n', 'bind_on = "$front"\ntimeout = "5s"\n'),
                  "timeout", "timeout", name="seed.toml")

    def test_toml_unknown_table(self):
        self.case(self.TOML + '\n[global]\nlog_level = "debug"\n', "[global]", "global",
                  name="seed.toml")

    # -- command line

    def test_unknown_flag(self):
        for args in (["--frobnicate"], ["-Z"], ["-c"]):
            with self.subTest(args=args):
                r = harness.run(args, cwd=self.elsewhere)
                self.assertEqual(r.returncode, EX_USAGE, r)
                self.assertNotEqual(r.stderr.strip(), "", r)

    def test_version(self):
        r = harness.run(["-V"], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 0, r)
        self.assertRegex(r.stdout, r"^mini-balancer \S+\n")
        version = harness.version_from_configure_ac()
        if version:
            self.assertEqual(r.stdout.split("\n")[0], f"mini-balancer {version}")

    def test_help(self):
        r = harness.run(["-h"], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("--config", r.stdout)

    # -- bind failure (not a configuration error)

    def test_bind_failure_exits_1_naming_the_address(self):
        taken = harness.free_addr()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(taken.sockaddr)
        holder.listen(1)
        path, _ = self.write("mb.conf", BASE + OTHER.replace('"$other"', f'"{taken}"'))
        r = harness.run(["-c", path], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(str(taken), r.stderr, r)
        self.assertNotIn("READY=1", r.notifications, r)
        self.assert_refused(self.addrs["front"])
        # -t does not bind: the same file checks OK.
        r = harness.run(["-t", "-c", path], cwd=self.elsewhere)
        self.assertEqual(r.returncode, 0, r)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
