#!/usr/bin/env python3
"""The seed's TOML example keeps working byte for byte (DESIGN.md, "The seed's TOML schema")."""

import os
import shutil
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EXAMPLE = "examples/mini-balancer.local.toml"
# The addresses as written in the example: frontend, first backend, second backend.
FRONTEND, BACKEND1, BACKEND2 = b"127.0.0.1:7070", b"127.0.0.1:8080", b"127.0.0.1:9090"


def example_path():
    return os.path.join(harness.srcdir(), EXAMPLE)


class SeedExample(harness.TestCase):

    def test_example_passes_check(self):
        """-t does not bind, so the unmodified example (fixed ports) checks OK."""
        r = harness.run(["-t", "-c", example_path()])
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("configuration OK", r.stdout.splitlines(), r)
        self.assertEqual(r.notifications, [], "-t must not claim readiness")

    def test_suffix_is_case_insensitive(self):
        """The same file named *.TOML is still read as TOML."""
        path = os.path.join(self.tmpdir, "EXAMPLE.TOML")
        shutil.copyfile(example_path(), path)
        r = harness.run(["-t", "-c", path])
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("configuration OK", r.stdout.splitlines(), r)

    def test_example_round_robin(self):
        """The example with only its addresses changed: 3 connections -> b1, b2, b1."""
        with open(example_path(), "rb") as f:
            original = f.read()
        for a in (FRONTEND, BACKEND1, BACKEND2):
            self.assertEqual(original.count(a), 1, f"{EXAMPLE} should contain {a!r} once")

        b1 = self.ident_backend("b1")
        b2 = self.ident_backend("b2")
        front = harness.free_addr()
        text = (original.replace(FRONTEND, str(front).encode())
                        .replace(BACKEND1, str(b1.addr).encode())
                        .replace(BACKEND2, str(b2.addr).encode()))
        # Byte for byte apart from the three addresses.
        self.assertEqual(text.replace(str(front).encode(), FRONTEND)
                             .replace(str(b1.addr).encode(), BACKEND1)
                             .replace(str(b2.addr).encode(), BACKEND2), original)

        self.daemon(text, filename="mini-balancer.local.toml", args=["-v"])
        self.assertEqual([self.who(front) for _ in range(3)], ["b1", "b2", "b1"])
        self.assertEqual((b1.accepted, b2.accepted), (2, 1))


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
