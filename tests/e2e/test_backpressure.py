#!/usr/bin/env python3
"""Backpressure: a peer that never reads stops the daemon reading from the other
side; the daemon's memory does not grow, and nothing is lost once the peer reads."""

import errno
import hashlib
import os
import select
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20
PUSH_LIMIT = 512 * MiB     # give up pushing after this much
STALL = 2.0                # no progress for this long = stalled
PUSH_TIME_LIMIT = 60.0
MAX_PUSHED = 128 * MiB     # kernel buffers on the path stay far below this
MAX_RSS_GROWTH_KIB = 16 * 1024


def push_until_stalled(s):
    """Non-blocking sends until no progress for STALL seconds (bounded in bytes
    and time).  Returns (bytes sent, sha256 of them)."""
    block = os.urandom(256 * 1024)
    s.setblocking(False)
    h, total, offset = hashlib.sha256(), 0, 0
    start = last = time.monotonic()
    while total < PUSH_LIMIT:
        now = time.monotonic()
        if now - last >= STALL or now - start >= PUSH_TIME_LIMIT:
            break
        _, w, _ = select.select([], [s], [], 0.1)
        if not w:
            continue
        chunk = block[offset:] + block[:offset]
        try:
            n = s.send(chunk)
        except BlockingIOError:
            continue
        except OSError as e:
            raise AssertionError(f"send failed after {total} bytes: {errno.errorcode.get(e.errno)}")
        h.update(chunk[:n])
        total += n
        offset = (offset + n) % len(block)
        last = time.monotonic()
    s.setblocking(True)
    return total, h.hexdigest()


def drain(s, expected, timeout=60.0):
    """Read exactly `expected` bytes; return their sha256."""
    h, got = hashlib.sha256(), 0
    deadline = time.monotonic() + timeout
    while got < expected:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"drained {got} of {expected} bytes within {timeout}s")
        s.settimeout(left)
        try:
            data = s.recv(min(1 << 20, expected - got))
        except socket.timeout:
            raise AssertionError(f"drained {got} of {expected} bytes within {timeout}s") from None
        if not data:
            raise AssertionError(f"EOF after {got} of {expected} bytes")
        h.update(data)
        got += len(data)
    return h.hexdigest()


class Backpressure(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.backend = self.controlled_backend(rcvbuf=4096)
        self.front = harness.free_addr()
        self.mb = self.daemon(harness.config(harness.frontend(
            "web", self.front, [("sink", self.backend.addr)])))

    def check(self, sender, receiver):
        """sender pushes into a receiver that does not read; then it reads."""
        rss_before = self.mb.rss_kib()
        pushed, sent_sha = push_until_stalled(sender)
        rss_after = self.mb.rss_kib()
        growth = rss_after - rss_before

        self.assertGreater(pushed, 0, "nothing could be sent at all")
        self.assertLess(pushed, MAX_PUSHED,
                        f"pushed {pushed >> 20} MiB into a peer that never reads: "
                        "the daemon did not stop reading")
        self.assertLess(growth, MAX_RSS_GROWTH_KIB,
                        f"daemon RSS grew by {growth} KiB ({rss_before} -> {rss_after} KiB) "
                        f"while {pushed >> 20} MiB were pushed")
        # Nothing lost or reordered once the reader catches up.
        self.assertEqual(drain(receiver, pushed), sent_sha, "bytes after backpressure")
        sender.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(receiver, timeout=10), b"")

    def test_backend_that_never_reads(self):
        c = self.connect(self.front, sndbuf=4096)
        b = self.backend.accept()
        self.check(c, b)

    def test_client_that_never_reads(self):
        c = self.connect(self.front, rcvbuf=4096)
        b = self.backend.accept()
        b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.check(b, c)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
