#!/usr/bin/env python3
"""Memory and descriptors held by idle sessions and by an idle daemon.

* A pump's 64 KiB copy buffer is given back as soon as it is empty: many
  sessions that each copied one burst, then went idle, cost the daemon
  well under 2 KiB of memory each (measured as RSS once the daemon is quiet).
* Pooled pipes and free memory go back to the system from a timer once the
  daemon has been quiet a while, not each time the last session ends:
  clients that come one at a time reuse the pooled pipe.
"""

import os
import resource
import selectors
import socket
import sys
import threading
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SESSIONS = 1000
BURST = 64 * 1024
IDLE_KIB_PER_SESSION = 2.0


class SinkBackend:
    """One thread, any number of connections: reads and discards; counts the
    bytes received in all."""

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._listener = socket.socket()
        self._listener.bind((harness.random_loopback(), 0))
        self._listener.listen(SESSIONS)
        self._listener.setblocking(False)
        self.addr = harness.Addr(*self._listener.getsockname())
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._conns = []
        self._lock = threading.Lock()
        self.received = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sink")
        self._thread.start()

    def _loop(self):
        for _ in range(1 << 26):
            if self._closing.is_set():
                return
            for key, _ in self._selector.select(0.1):
                if key.fileobj is self._listener:
                    try:
                        conn, _ = self._listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self._conns.append(conn)
                    self._selector.register(conn, selectors.EVENT_READ)
                    continue
                try:
                    data = key.fileobj.recv(1 << 20)
                except (BlockingIOError, ConnectionError):
                    continue
                if not data:
                    self._selector.unregister(key.fileobj)
                with self._lock:
                    self.received += len(data)

    def total(self):
        with self._lock:
            return self.received

    def close(self):
        self._closing.set()
        self._thread.join(5)
        for c in self._conns:
            harness.close_quietly(c)
        self._listener.close()
        self._selector.close()


def pipes_of(mb, baseline=()):
    """The pipes the daemon has open, as their /proc targets ("pipe:[N]"),
    but for those in BASELINE (valgrind's own, under valgrind)."""
    return {t for t in harness.open_files(mb) if t.startswith("pipe:") and t not in baseline}


class Memory(harness.TestCase):

    def test_idle_sessions_hold_no_copy_buffer(self):
        if not harness.measures_memory():
            raise unittest.SkipTest("RSS means nothing under valgrind or a sanitizer")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2 * SESSIONS + 200
        if hard < need:
            raise unittest.SkipTest(f"needs {need} descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        os.environ["MB_RELAY_SPLICE"] = "0"     # the copy path: buffers, not pipes
        self.addCleanup(os.environ.pop, "MB_RELAY_SPLICE", None)

        sink = SinkBackend()
        self.addCleanup(sink.close)
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", sink.addr)]),
                                        max_connections=SESSIONS + 10, shutdown_timeout="0"),
                         args=(), nofile=2 * SESSIONS + 200)
        baseline = mb.rss_kib()
        burst = b"z" * BURST
        clients = []
        for _ in range(SESSIONS):
            c = self.connect(front)
            harness.send_all(c, burst)
            clients.append(c)
        harness.wait_for(lambda: sink.total() == SESSIONS * BURST, 60,
                         f"the backend to receive {SESSIONS} bursts of {BURST} bytes")

        def per_session():
            return (mb.rss_kib() - baseline) / SESSIONS
        # The buffers went back as each burst was written on; malloc gives
        # them to the system once the daemon has been quiet a while.
        try:
            harness.wait_for(lambda: per_session() < IDLE_KIB_PER_SESSION, 20,
                             f"RSS per idle session below {IDLE_KIB_PER_SESSION} KiB")
        except AssertionError as e:
            raise AssertionError(f"{e}: {per_session():.2f} KiB per session "
                                 f"(RSS {baseline} KiB at start, {mb.rss_kib()} KiB now)") from None
        sys.stderr.write(f"RSS per idle session: {per_session():.2f} KiB (RSS {baseline} KiB at start, "
                         f"{mb.rss_kib()} KiB with {SESSIONS} idle sessions)\n")
        # Every session is still there, and still relays.
        harness.send_all(clients[-1], b"still here")
        harness.wait_for(lambda: sink.total() == SESSIONS * BURST + 10, 10,
                         "the last session to relay again")
        self.assertEqual(mb.stop(), 0)

    def test_sequential_clients_reuse_the_pooled_pipe(self):
        """One client at a time: the pipe the first session used is pooled
        when it ends and taken again by the next (not closed and made anew
        each time the daemon has no session); once the daemon has been quiet
        a while, it is closed.  One worker: a worker keeps the pipes it gave
        back in its own cache first (src/pipes.h), and sequential clients
        would take turns on the workers."""
        backend = self.controlled_backend()
        front = harness.free_addr()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        workers=1))
        if os.environ.get("MB_RELAY_SPLICE") == "0":
            raise unittest.SkipTest("MB_RELAY_SPLICE=0: no pipes")
        baseline = pipes_of(mb)
        seen = []
        for _ in range(3):
            c = self.connect(front, rcvbuf=4096)
            b = backend.accept()
            # More than the client takes while it does not read: a bulk
            # transfer (its first read fills the pump's buffer), which the
            # pump moves on through a pipe, held while bytes wait in it.
            harness.send_all(b, b"p" * (1 << 20), timeout=10)
            harness.wait_for(lambda: pipes_of(mb, baseline), 5, "the session's pipe")
            seen.append(pipes_of(mb, baseline))
            b.shutdown(socket.SHUT_WR)
            self.assertEqual(len(harness.recv_until_eof(c)), 1 << 20)
            c.close()
            harness.wait_closed(b)
            b.close()
        self.assertEqual(seen[1], seen[0], f"the second client's pipe is the first one's, pooled: {seen}")
        self.assertEqual(seen[2], seen[0], "and so is the third one's")
        harness.wait_for(lambda: not pipes_of(mb, baseline), 15, "the pooled pipes to be closed once quiet")
        self.assertEqual(mb.stop(), 0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
