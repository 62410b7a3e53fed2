#!/usr/bin/env python3
"""Limits of the host: a daemon whose file descriptors are all taken pauses
that listener instead of spinning, closes nobody it has accepted (a client is
accepted only when its descriptor budget has room for its session's two:
src/fds.c), and recovers (serving new clients, descriptors back to the
baseline) once sessions end."""

import os
import select
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NOFILE = 32          # the daemon's RLIMIT_NOFILE: room for about ten sessions
CLIENTS = 40         # more than that: the rest wait in the listen backlog
WINDOW = 2.0         # seconds of CPU measurement while at the limit



class Limits(harness.TestCase):

    def test_out_of_descriptors_pauses_and_recovers(self):
        backend = self.echo_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)])),
                         nofile=NOFILE)
        # Compared as what the descriptors point to, not as a count:
        # sd_notify() may still hold the socket it sent READY=1 on.
        baseline = harness.open_files(mb)

        clients = [self.connect(front) for _ in range(CLIENTS)]

        # The first sessions take every descriptor the daemon may count on
        # (a few stay in reserve); the other clients wait in the backlog.
        def at_limit():
            queued = harness.accept_queue(mb, front)
            return queued > 0 and backend.accepted + queued == CLIENTS
        harness.wait_for(at_limit, 10, f"the daemon to stop accepting at {NOFILE} descriptors")
        harness.send_all(clients[0], b"first")
        self.assertEqual(harness.recv_exact(clients[0], 5), b"first")
        readable, _, _ = select.select(clients, [], [], 0)
        self.assertEqual(readable, [], "clients closed (or answered unasked) at the limit")

        # At the limit with connections still queued: each time the listener
        # is looked at, there is no room for another session.  Looking again
        # at once would burn a core.
        cpu_before = mb.cpu_seconds()
        time.sleep(WINDOW)  # a measurement window, not synchronisation
        used = mb.cpu_seconds() - cpu_before
        self.assertLess(used, 0.25 * WINDOW,
                        f"daemon used {used:.2f} s of CPU in {WINDOW} s at the descriptor limit")
        self.assertTrue(mb.running())

        # Sessions end: the daemon frees its descriptors and serves again.
        # The clients still queued in the listen backlog (closed by now) are
        # accepted as pauses end: wait until the queue is empty too.
        for c in clients:
            harness.close_quietly(c)
        harness.wait_for(lambda: harness.accept_queue(mb, front) == 0, 30, "the listen backlog to drain")
        harness.wait_fds_back(mb, baseline)
        # Once they are all closed (not before: a client arriving while the
        # last sessions end could be the one closed for want of a descriptor).
        late = self.connect(front)
        harness.send_all(late, b"after the storm")
        self.assertEqual(harness.recv_exact(late, 15, timeout=15), b"after the storm")
        harness.close_quietly(late)
        self.assertEqual(mb.stop(), 0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
