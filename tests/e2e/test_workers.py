#!/usr/bin/env python3
"""workers = N: N threads, each with its own epoll set, each accepting from
the same listening socket (EPOLLEXCLUSIVE) and serving the sessions it
accepted; round-robin stays exact, and stopping ends the sessions of every
worker."""

import os
import signal
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def thread_names(mb):
    names = []
    for tid in os.listdir(f"/proc/{mb.proc.pid}/task"):
        try:
            with open(f"/proc/{mb.proc.pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass
    return names


def listening_inodes(pid):
    """Inodes of the listening TCP sockets (state 0A) in the daemon's view."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":
                        inodes.add(fields[9])
        except FileNotFoundError:
            pass
    return inodes


EPOLLEXCLUSIVE = 1 << 28


def epoll_entries(mb):
    """For each epoll descriptor of the daemon, its entries (the "tfd:" lines
    of /proc/PID/fdinfo) as (what the descriptor is, events mask, whether
    it is a listening socket)."""
    listening = {f"socket:[{i}]" for i in listening_inodes(mb.proc.pid)}
    sets = []
    fd_dir = f"/proc/{mb.proc.pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}") != "anon_inode:[eventpoll]":
                continue
            entries = []
            with open(f"/proc/{mb.proc.pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("tfd:"):
                        fields = line.split()
                        link = os.readlink(f"{fd_dir}/{fields[1]}")
                        entries.append((link, int(fields[3], 16), link in listening))
            sets.append(entries)
        except FileNotFoundError:
            pass
    return sets


def epoll_sets(mb):
    """For each epoll set, how many session sockets it watches (a set also
    holds its context's wake-up eventfd and the listening sockets)."""
    return sorted(sum(1 for link, _, listener in entries if link.startswith("socket:") and not listener)
                  for entries in epoll_entries(mb))


def wait_sessions(mb, n):
    """Waits until the epoll sets hold N sessions, each whole in one set:
    both sockets of a session are in the set of the worker that accepted it
    (the client's joins once the backend's connect is through)."""
    def whole():
        sets = epoll_sets(mb)
        return sum(sets) == 2 * n and not any(k % 2 for k in sets)
    harness.wait_for(whole, harness.CLOSE_TIMEOUT,
                     f"{n} sessions, each whole in one epoll set (now {epoll_sets(mb)})")


class Workers(harness.TestCase):

    def test_threads_and_one_epoll_set_each(self):
        """workers = 3: two more threads (the main thread is the first
        worker); each worker's epoll set holds the listening socket, with
        EPOLLEXCLUSIVE (one worker woken per connection), and the sessions
        it accepted, both sockets of each."""
        backend = self.controlled_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        workers=3))
        names = thread_names(mb)
        self.assertEqual(sorted(n for n in names if n.startswith("mb-worker-")),
                         ["mb-worker-1", "mb-worker-2"], names)
        sets = epoll_entries(mb)
        self.assertEqual(len(sets), 3, sets)
        for entries in sets:
            listeners = [events for _, events, listener in entries if listener]
            self.assertEqual(len(listeners), 1, f"the listener in every worker's set: {entries}")
            self.assertTrue(listeners[0] & EPOLLEXCLUSIVE, f"watched with EPOLLEXCLUSIVE: {entries}")
        self.assertEqual(epoll_sets(mb), [0, 0, 0], "no session yet")

        pairs = [self.established(front, backend) for _ in range(6)]
        wait_sessions(mb, 6)

        for c, b in pairs:
            harness.send_all(c, b"x" * 1000)
            self.assertEqual(harness.recv_exact(b, 1000), b"x" * 1000)
            c.close()
            self.assertEqual(harness.recv_until_eof(b), b"")
            b.close()
        harness.wait_for(lambda: epoll_sets(mb) == [0, 0, 0], harness.CLOSE_TIMEOUT,
                         "every worker's sessions to end")
        self.assertEqual(mb.stop(), 0)

    def test_long_lived_sessions_spread(self):
        """Thirty clients connect one after the other and stay: the kernel
        wakes the same waiting worker for each, yet a worker hands a new
        session to the one with the fewest once it has more than 2 above
        it, so the three workers end within 3 sessions of each other."""
        backend = self.controlled_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        workers=3))
        pairs = [self.established(front, backend) for _ in range(30)]
        wait_sessions(mb, 30)
        sessions = [n // 2 for n in epoll_sets(mb)]
        self.assertLessEqual(max(sessions) - min(sessions), 3, f"sessions per worker: {sessions}")
        for c, b in pairs:
            harness.send_all(c, b"ping")
            self.assertEqual(harness.recv_exact(b, 4), b"ping")
            c.close()
            b.close()
        self.assertEqual(mb.stop(), 0)

    def test_one_worker_is_the_main_thread(self):
        backend = self.echo_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        workers=1))
        self.assertEqual([n for n in thread_names(mb) if n.startswith("mb-worker-")], [])
        s = self.connect(front)
        self.assertEqual(harness.transfer(s, b"hello" * 1000), b"hello" * 1000)
        self.assertEqual(mb.stop(), 0)

    def test_round_robin_exact_across_workers(self):
        """Sequential clients alternate workers, yet the backends' order is
        exactly the seed's: the pick is made where the accept is."""
        names = ["app1", "app2", "app3"]
        backends = [self.ident_backend(n) for n in names]
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend(
            "web", front, [(n, b.addr) for n, b in zip(names, backends)]), workers=4))
        got = [self.who(front) for _ in range(24)]
        self.assertEqual(got, [names[k % 3] for k in range(24)])

    def test_stop_ends_sessions_on_every_worker(self):
        """SIGTERM with sessions on three workers and shutdown_timeout = 0:
        every client is closed, and the daemon exits 0."""
        backend = self.controlled_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        workers=3, shutdown_timeout=0))
        pairs = [self.established(front, backend) for _ in range(6)]
        wait_sessions(mb, 6)
        mb.signal(signal.SIGTERM)
        for c, _ in pairs:
            harness.wait_closed(c)
        self.assertEqual(mb.wait(), 0)

    def test_drain_waits_for_sessions_on_every_worker(self):
        """SIGTERM with sessions on two workers: they finish their exchange
        after the stop, then the daemon exits 0."""
        backend = self.controlled_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        workers=2, shutdown_timeout="10s"))
        pairs = [self.established(front, backend) for _ in range(4)]
        wait_sessions(mb, 4)
        mb.signal(signal.SIGTERM)
        mb.wait_notify("STOPPING=1")
        for c, b in pairs:
            harness.send_all(c, b"after the stop")
            self.assertEqual(harness.recv_exact(b, 14), b"after the stop")
            harness.send_all(b, b"reply")
            self.assertEqual(harness.recv_exact(c, 5), b"reply")
            self.assertTrue(mb.running(), "exited while sessions were still open")
            c.close()
            b.close()
        self.assertEqual(mb.wait(), 0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
