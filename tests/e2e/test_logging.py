#!/usr/bin/env python3
"""Logging never stops the loops: with stderr a pipe that nobody reads, a dead
backend and a live one, 1,000 clients are all served; what the log could not
take is dropped and counted, and repeated connect failures are rate-limited
(the first in full, then "N more connect failures in the last 10 s")."""

import concurrent.futures
import os
import re
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CLIENTS = 1000
CONCURRENCY = 8
# Long titles make every line long: the lines of the first two kinds that
# 1,000 clients certainly cause (serving, opened) are then more than the
# pipe and the daemon's queue (1 MiB) hold together, so some must be dropped.
FRONT = "web_" + "f" * 496
DEAD = "dead_" + "d" * 495
LIVE = "live_" + "l" * 495
QUEUE_BYTES = 1 << 20
SLOW = 4 if harness.VALGRIND else 1
STORM_TIMEOUT = 60.0 * SLOW      # all 1,000 clients
SUMMARY_TIMEOUT = 30.0 * SLOW    # a 10 s window and its timer


class Logging(harness.TestCase):

    def serve_all(self, front, count):
        """COUNT clients, CONCURRENCY at a time, each answered by the live
        backend; stops at the first failure.  Bounded by STORM_TIMEOUT."""
        deadline = time.monotonic() + STORM_TIMEOUT
        lock = threading.Lock()
        state = {"next": 0, "failed": None}

        def worker():
            while True:
                with lock:
                    if state["failed"] or state["next"] >= count:
                        return
                    state["next"] += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count} clients not served within {STORM_TIMEOUT}s")
                try:
                    s = harness.connect(front, timeout=min(left, harness.IO_TIMEOUT))
                    try:
                        self.assertEqual(harness.recv_line(s, timeout=min(left, harness.IO_TIMEOUT)),
                                         LIVE)
                    finally:
                        s.close()
                except BaseException as e:  # noqa: B902 - reported below
                    with lock:
                        state["failed"] = state["failed"] or e
                    raise

        with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
            futures = [pool.submit(worker) for _ in range(CONCURRENCY)]
            for f in futures:
                f.exception(STORM_TIMEOUT + harness.IO_TIMEOUT)
        if state["failed"]:
            served = state["next"] - 1
            raise AssertionError(f"client {served + 1} of {count} not served: {state['failed']}")

    def test_stalled_stderr_blocks_nothing(self):
        dead = harness.free_addr()          # nothing listens: connects are refused
        live = self.ident_backend(LIVE)
        front = harness.free_addr()
        mb = harness.Daemon(self, harness.config(harness.frontend(
            FRONT, front, [(DEAD, dead), (LIVE, live.addr)])), args=("-v",), stderr_pipe=True).start()
        pipe_size = mb.stderr_pipe_size()

        # Round-robin from the dead backend: every other client fails over.
        started = time.monotonic()
        self.serve_all(front, CLIENTS)
        storm = time.monotonic() - started
        self.assertTrue(mb.running())
        # Still responsive, the pipe still unread.
        self.assertEqual(self.who(front), LIVE)
        clients = CLIENTS + 1

        # Now read the log.  Once a client's own lines come out, everything
        # logged before them has been written (order is kept) and the queue
        # has room again.
        mb.read_stderr()
        for attempt in range(40):
            s = self.connect(front)
            port = s.getsockname()[1]
            harness.recv_line(s)            # from whichever backend
            s.close()
            clients += 1
            marker = f": 127.0.0.1:{port}: served connection via backend "
            try:
                harness.wait_for(lambda: marker in mb.stderr(1 << 26), 2.0 * SLOW, "the client's line")
                break
            except AssertionError:
                continue                    # dropped while the queue was still full
        else:
            self.fail("no client's line reached the log after it was read")
        mark = len(mb.stderr(1 << 26))

        # Failures after that point are either logged in full or counted in a
        # summary that ends their window, at most 10 s later.
        self.serve_all(front, 10)
        clients += 10
        summary = re.compile(rf"warning: frontend {FRONT}: backend {DEAD}: ([\d,]+) more connect "
                             rf"failures? in the last (\d+) s$", re.M)
        harness.wait_for(lambda: summary.search(mb.stderr(1 << 26), mark), SUMMARY_TIMEOUT,
                         "a summary of the connect failures")
        self.assertEqual(mb.stop(), 0)
        log = mb.stderr(1 << 26)

        # The window it ends is 10 s long (the summaries at exit may be shorter).
        self.assertGreaterEqual(int(summary.search(log, mark).group(2)), 10)
        summaries = summary.findall(log)
        full = len(re.findall(rf"backend {DEAD} \({re.escape(str(dead))}\): connect failed: ", log))
        summarized = sum(int(n.replace(",", "")) for n, _ in summaries)
        dropped = sum(int(n) for n in re.findall(
            r"^\S+ \S+ warning: (\d+) log messages? dropped: the log output was not keeping up$",
            log, re.M))
        # Client k (from 1) starts at the dead backend when k is odd.
        failures = (clients + 1) // 2
        self.assertLessEqual(full + summarized, failures)
        self.assertGreaterEqual(full + summarized + dropped, failures)
        # Far fewer lines than failures (not one per client).
        self.assertLess(full, failures // 10)

        # What the pipe and the queue could not hold was dropped, and counted.
        serving = len(re.findall(
            rf"info: frontend {FRONT}: 127\.0\.0\.1:\d+: serving connection$", log, re.M))
        opened = len(re.findall(rf"info: frontend {FRONT}: 127\.0\.0\.1:\d+: opened client "
                                rf"connection to backend {LIVE} ", log))
        served = len(re.findall(rf"info: frontend {FRONT}: 127\.0\.0\.1:\d+: served connection "
                                rf"via backend {LIVE} ", log))
        self.assertGreater(CLIENTS * (2 * len(FRONT) + len(LIVE)), QUEUE_BYTES + pipe_size)
        self.assertGreater(dropped, 0, "nothing dropped, yet the lines were more than the "
                                       "pipe and the queue hold")
        self.assertLessEqual((clients - serving) + (clients - opened) + (clients - served), dropped)
        sys.stderr.write(f"{CLIENTS} clients in {storm:.1f} s with stderr stalled; log: "
                         f"{full} connect failures in full, {len(summaries)} summaries of "
                         f"{summarized}, {dropped} messages dropped\n")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
