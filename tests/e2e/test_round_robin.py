#!/usr/bin/env python3
"""Round-robin is exact per frontend: connection k goes to backend ((k-1) mod n)+1."""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class RoundRobin(harness.TestCase):

    def test_exact_order_over_three_backends(self):
        names = ["app1", "app2", "app3"]
        backends = [self.ident_backend(n) for n in names]
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend(
            "web", front, [(n, b.addr) for n, b in zip(names, backends)])))

        got = [self.who(front) for _ in range(30)]
        self.assertEqual(got, [names[k % 3] for k in range(30)])
        self.assertEqual([b.accepted for b in backends], [10, 10, 10])

    def test_frontends_keep_separate_counters(self):
        a_names, b_names = ["a1", "a2"], ["b1", "b2", "b3"]
        a_backends = [self.ident_backend(n) for n in a_names]
        b_backends = [self.ident_backend(n) for n in b_names]
        front_a, front_b = harness.free_addr(), harness.free_addr()
        self.daemon(harness.config(
            harness.frontend("alpha", front_a, [(n, b.addr) for n, b in zip(a_names, a_backends)]),
            harness.frontend("beta", front_b, [(n, b.addr) for n, b in zip(b_names, b_backends)])))

        # An irregular interleaving: a shared counter would break both sequences.
        pattern = "ABBAAABABBBBAAB" * 2
        seen = {"A": [], "B": []}
        for which in pattern:
            seen[which].append(self.who(front_a if which == "A" else front_b))

        self.assertEqual(seen["A"], [a_names[k % 2] for k in range(pattern.count("A"))])
        self.assertEqual(seen["B"], [b_names[k % 3] for k in range(pattern.count("B"))])


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
