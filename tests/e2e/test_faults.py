#!/usr/bin/env python3
"""Faults: backends that die mid-stream, clients that reset or idle, running
out of descriptors, connection limits, a long transfer, many sessions at once.

Whatever happens, a session's bytes arrive intact and in order or the session
is closed: never a short or altered stream that ends like a complete one.  The
clients here know what they must receive (the echo of their own payload), so a
clean EOF after the wrong bytes is told apart from a reset.  And the daemon
recovers: it serves new clients, and its descriptors (and memory) return to
their baseline.

The bulk tests run their clients and backends in one asyncio loop (no thread
per connection).  MB_E2E_BULK_MIB sets the size of the long transfer (default
1024); under valgrind (MB_VALGRIND=1) the data volumes are smaller, and
under valgrind or ASan memory is not measured (their own memory dominates).
"""

import asyncio
import collections
import hashlib
import os
import resource
import select
import socket
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

KiB = 1 << 10
MiB = 1 << 20

VALGRIND = getattr(harness, "VALGRIND", False)
SCALE = 8 if VALGRIND else 1            # data volumes are divided by this
SLOW = 6 if VALGRIND else 1             # and time bounds multiplied by this
BULK_MIB = int(os.environ.get("MB_E2E_BULK_MIB", "1024"))
RSS_GROWTH_LIMIT_KIB = 32 * 1024        # the long transfer
RSS_GROWTH_AFTER_WARMUP_KIB = 2 * 1024  # the resets, once warmed up
DRAIN_TIMEOUT = 20.0 * SLOW             # sessions ending, descriptors coming back


# --------------------------------------------------------------------------
# The test process needs about 2 descriptors per session (client and backend
# ends): raise its own soft limit as far as the hard limit allows.

def setUpModule():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def require_descriptors(n):
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        raise unittest.SkipTest(f"this test needs {n} descriptors; RLIMIT_NOFILE allows {soft}")


def daemon_nofile(n):
    """An RLIMIT_NOFILE of n for the daemon, if we may set it (hard limit)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n and os.geteuid() != 0:
        raise unittest.SkipTest(f"the daemon needs {n} descriptors; the hard limit is {hard}")
    return n


def with_reserve(n):
    """The RLIMIT_NOFILE under which the daemon's descriptor budget is N:
    it keeps clamp(limit / 16, 4, 64) descriptors in reserve (src/fds.c)."""
    for limit in range(n, n + 65):
        if limit - min(max(limit // 16, 4), 64) == n:
            return limit
    raise AssertionError(f"no descriptor limit leaves a budget of {n}")


# --------------------------------------------------------------------------
# Daemon state

open_files = harness.open_files
wait_for = harness.wait_for


def wait_fds_back(mb, baseline, timeout=DRAIN_TIMEOUT):
    harness.wait_fds_back(mb, baseline, timeout)



# --------------------------------------------------------------------------
# asyncio clients and backends (non-blocking sockets, loop.sock_* calls).
# A socket is closed only once no call on it is pending.

async def a_connect(addr, timeout=harness.IO_TIMEOUT * SLOW):
    loop = asyncio.get_running_loop()
    s = socket.socket(addr.family, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(s, addr.sockaddr)
    except BaseException:
        s.close()
        raise
    return s


async def exchange(s, payload, timeout):
    """Send payload then SHUT_WR while reading until EOF or reset.

    Returns (end, received): end is "eof", "reset" (either direction saw a
    reset or a broken pipe) or "timeout"."""
    loop = asyncio.get_running_loop()

    async def send():
        try:
            await loop.sock_sendall(s, payload)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    sender = asyncio.create_task(send())
    chunks, end, sent = [], None, True
    try:
        async with asyncio.timeout(timeout):
            while end is None:
                try:
                    data = await loop.sock_recv(s, 256 * KiB)
                except ConnectionResetError:
                    end = "reset"
                    break
                if data:
                    chunks.append(data)
                else:
                    end = "eof"
            if end == "eof":
                sent = await sender
    except TimeoutError:
        end = "timeout"
    finally:
        if not sender.done():
            sender.cancel()
        done = await asyncio.gather(sender, return_exceptions=True)
    if done[0] is False or sent is False:
        end = "reset" if end != "timeout" else end
    return end, b"".join(chunks)


def verdict(name, payload, end, received):
    """"complete" or "reset"; fails on a silent truncation, altered bytes or a hang."""
    if end == "eof":
        if received == payload:
            return "complete"
        how = "altered" if not payload.startswith(received) else "truncated"
        raise AssertionError(f"{name}: clean EOF after {len(received)} of {len(payload)} bytes, "
                             f"{how}: a broken session passed for a complete one")
    if end == "reset":
        if not payload.startswith(received):
            raise AssertionError(f"{name}: reset after {len(received)} bytes that are not a "
                                 f"prefix of what was sent (altered bytes)")
        return "reset"
    raise AssertionError(f"{name}: neither completed nor closed in time "
                         f"(received {len(received)} of {len(payload)} bytes)")


def unique_payload(i, size):
    """A payload no other session sends: its index, then random bytes."""
    return (struct.pack("<I", i) + os.urandom(max(size, 4) - 4))


class AsyncServer:
    """A backend in the test's event loop on a fresh 127.x.y.z: runs the
    coroutine handler(server, conn) per connection.  kill() closes the
    listener and resets every connection still served, as a crashing backend
    would.  Accepting and killing are synchronous steps of the loop: no
    connection is half-handled in between."""

    def __init__(self, handler, name):
        self.name = name
        self.handler = handler
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind((harness.random_loopback(), 0))
            self.listener.listen(4096)
            self.listener.setblocking(False)
        except BaseException:
            self.listener.close()
            raise
        self.addr = harness.Addr(*self.listener.getsockname())
        self.accepted = 0        # connections accepted
        self.open = 0            # connections whose handler still runs
        self.bytes_in = 0
        self.received = collections.Counter()   # bytes per connection (by fd)
        self.errors = []         # handler failures other than the peer going away
        self.stall_at = None     # echo stops answering past this many bytes in
        self.stalled = None      # ... until kill(), which cancels it
        self.tasks = {}          # task -> its connection
        self.loop = None

    def start(self):
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.listener.fileno(), self._on_incoming)

    def _on_incoming(self):
        for _ in range(64):
            try:
                conn, _ = self.listener.accept()
            except OSError:     # EAGAIN, or a connection that died in the queue
                return
            conn.setblocking(False)
            self.accepted += 1
            self.open += 1
            task = self.loop.create_task(self.handler(self, conn))
            self.tasks[task] = conn
            task.add_done_callback(lambda t, c=conn: self._finished(t, c))

    def _finished(self, task, conn):
        del self.tasks[task]
        self.received.pop(conn.fileno(), None)
        self.open -= 1
        if task.cancelled():
            harness.reset(conn)     # killed (or the scenario is over)
            return
        conn.close()
        e = task.exception()
        if e is not None and not isinstance(e, OSError):
            self.errors.append(e)

    async def close(self):
        """Stop listening and reset every connection still served.  Returns
        how many of them had received bytes (cut mid-stream) and how many
        had not (the daemon may still fail those over to another backend)."""
        if self.loop is not None and self.listener.fileno() >= 0:
            self.loop.remove_reader(self.listener.fileno())
        self.listener.close()
        tasks = [t for t in self.tasks if not t.done()]
        streaming = sum(1 for t in tasks if self.received[self.tasks[t].fileno()] > 0)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.errors:
            raise AssertionError(f"backend {self.name} failed: {self.errors[0]!r}")
        return streaming, len(tasks) - streaming

    kill = close


async def echo(server, conn):
    """Echo until EOF, then SHUT_WR."""
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(conn, 64 * KiB)
        if not data:
            conn.shutdown(socket.SHUT_WR)
            return
        server.bytes_in += len(data)
        server.received[conn.fileno()] += len(data)
        if server.stall_at is not None and server.bytes_in >= server.stall_at:
            await server.stalled.wait()     # never set: kill() cancels us
        await loop.sock_sendall(conn, data)


STREAM_CHUNK = os.urandom(64 * KiB)


async def firehose(server, conn):
    """Sends without end and reads everything, until the daemon goes away."""
    loop = asyncio.get_running_loop()

    async def drain():
        while True:
            data = await loop.sock_recv(conn, 64 * KiB)
            if not data:
                return
            server.bytes_in += len(data)

    reader = asyncio.create_task(drain())
    try:
        for _ in range(1 << 20):
            await loop.sock_sendall(conn, STREAM_CHUNK)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


# --------------------------------------------------------------------------

class Faults(harness.TestCase):

    def server(self, handler, name):
        srv = AsyncServer(handler, name)
        self.addCleanup(harness.close_quietly, srv.listener)
        return srv

    def start_daemon(self, *backends, nofile=None, **options):
        front = harness.free_addr()
        text = harness.config(
            harness.frontend("web", front, [(b.name, b.addr) for b in backends], **options),
            shutdown_timeout="2s")
        return front, self.daemon(text, nofile=nofile)

    # (a) ------------------------------------------------------------------
    def test_backend_killed_mid_stream(self):
        """A backend dies (listener closed, every connection reset) while 200
        clients transfer through two backends: every session completes intact
        or is closed; the daemon goes on serving."""
        clients = 200
        sizes = [(128 * KiB + (i * 7919 * KiB) % (896 * KiB)) // SCALE for i in range(clients)]
        payloads = [unique_payload(i, n) for i, n in enumerate(sizes)]
        live, doomed = self.server(echo, "live"), self.server(echo, "doomed")
        front, mb = self.start_daemon(live, doomed)
        baseline = open_files(mb)

        async def scenario():
            live.start()
            doomed.start()

            async def client(i):
                s = await a_connect(front)
                try:
                    return await exchange(s, payloads[i], 60 * SLOW)
                finally:
                    s.close()

            tasks = [asyncio.create_task(client(i)) for i in range(clients)]
            # Kill once the doomed backend has echoed a good part of its share.
            # Past that point it stops answering, so that the kill finds
            # sessions in flight however fast the daemon relays (the test's
            # own event loop may look at the counter only much later).
            share = sum(sizes) // 2
            doomed.stalled = asyncio.Event()
            doomed.stall_at = share // 4
            await harness.until(lambda: doomed.bytes_in >= share // 4, 60 * SLOW,
                        "the doomed backend to receive a quarter of its share")
            cut, unused = await doomed.kill()
            ends = await asyncio.gather(*tasks)
            outcome = collections.Counter(verdict(f"session {i}", payloads[i], *e)
                                          for i, e in enumerate(ends))
            self.assertEqual(sum(outcome.values()), clients)
            self.assertGreater(cut, 0, "the backend was killed with no session in flight")
            # Each session cut mid-stream lost bytes: its client must see it
            # closed.  (One whose backend connection died before any byte
            # may be failed over to the live backend instead.)
            self.assertGreaterEqual(outcome["reset"], cut,
                                    f"{cut} sessions were cut, but only {outcome['reset']} "
                                    f"clients saw a reset ({outcome})")
            self.assertGreater(outcome["complete"], 0, outcome)

            # The daemon serves on: the dead backend refuses, the live one takes all.
            self.assertTrue(mb.running())
            accepted = live.accepted
            after = [unique_payload(clients + i, 64 * KiB) for i in range(20)]
            for i, p in enumerate(after):
                s = await a_connect(front)
                try:
                    end, received = await exchange(s, p, 10 * SLOW)
                finally:
                    s.close()
                self.assertEqual(verdict(f"new session {i}", p, end, received), "complete")
            self.assertEqual(live.accepted - accepted, len(after), "sessions after the kill")
            await live.close()
            return outcome, cut, unused

        outcome, cut, unused = asyncio.run(scenario())
        sys.stderr.write(f"\nbackend killed: {cut} sessions cut mid-stream, {unused} before "
                         f"their first byte; clients: {outcome['complete']} complete, "
                         f"{outcome['reset']} reset\n")
        wait_fds_back(mb, baseline)
        self.assertEqual(mb.stop(), 0)

    # (b) ------------------------------------------------------------------
    def test_clients_reset_mid_transfer(self):
        """Clients reset (SO_LINGER 0) while bytes flow both ways: the daemon
        closes their backend side, and its descriptors and memory come back."""
        rounds, per_round = (4, 100) if not VALGRIND else (2, 50)
        hose = self.server(firehose, "firehose")
        front, mb = self.start_daemon(hose)
        baseline = open_files(mb)

        async def client():
            loop = asyncio.get_running_loop()
            s = await a_connect(front)

            async def send():
                for _ in range(1 << 20):
                    await loop.sock_sendall(s, STREAM_CHUNK)

            sender = asyncio.create_task(send())
            got = 0
            try:
                async with asyncio.timeout(30 * SLOW):
                    while got < 192 * KiB:
                        data = await loop.sock_recv(s, 64 * KiB)
                        if not data:
                            raise AssertionError(f"EOF after {got} bytes of an endless stream")
                        got += len(data)
            finally:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
                harness.reset(s)        # with bytes in flight both ways

        async def one_round():
            await asyncio.gather(*(client() for _ in range(per_round)))
            # Every reset reaches the backend side: the daemon closes it.
            await harness.until(lambda: hose.open == 0, DRAIN_TIMEOUT,
                        "the daemon to close the backend side of every reset session")

        rss = [mb.rss_kib()]

        async def scenario():
            hose.start()
            for _ in range(rounds):
                await one_round()
                rss.append(mb.rss_kib())
            await hose.close()

        asyncio.run(scenario())
        self.assertTrue(mb.running())
        self.assertEqual(hose.accepted, rounds * per_round)
        wait_fds_back(mb, baseline)
        sys.stderr.write(f"\nresets: RSS at start and after each round of {per_round}: {rss} KiB\n")
        if harness.measures_memory():
            # The first round sets the allocator's working set for this load
            # (the buffers of per_round sessions); later rounds must not grow
            # it, and it stays below that peak.
            self.assertLess(rss[-1] - rss[1], RSS_GROWTH_AFTER_WARMUP_KIB,
                            f"RSS grows with the number of reset sessions: {rss} KiB")
            peak_buffers = per_round * 2 * 64
            self.assertLess(rss[-1] - rss[0], peak_buffers + 4096,
                            f"RSS far above its start-up baseline: {rss} KiB")
        self.assertEqual(mb.stop(), 0)

    # (c) ------------------------------------------------------------------
    def test_silent_clients_do_not_block_others(self):
        """500 clients connect and send nothing; a new client is still served
        promptly, and the silent ones are neither closed nor served data."""
        idle = 500
        require_descriptors(2 * idle + 64)
        backend = self.server(echo, "echo")
        front, mb = self.start_daemon(backend, nofile=daemon_nofile(4096))
        baseline = open_files(mb)

        async def scenario():
            backend.start()
            socks = await asyncio.gather(*(a_connect(front) for _ in range(idle)))
            try:
                await harness.until(lambda: backend.accepted >= idle, 30 * SLOW,
                            f"{idle} sessions to reach the backend")
                started = time.monotonic()
                s = await a_connect(front)
                try:
                    payload = unique_payload(0, 100 * KiB)
                    end, received = await exchange(s, payload, 10 * SLOW)
                finally:
                    s.close()
                elapsed = time.monotonic() - started
                self.assertEqual(verdict("new client", payload, end, received), "complete")
                for i, t in enumerate(socks):
                    try:
                        data = t.recv(1, socket.MSG_PEEK)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        raise AssertionError(f"silent client {i} was reset: {e}") from None
                    raise AssertionError(f"silent client {i}: "
                                         f"{'closed' if not data else 'received bytes'}")
            finally:
                for t in socks:
                    t.close()
            await harness.until(lambda: backend.open == 0, DRAIN_TIMEOUT,
                        "the silent sessions to end once their clients left")
            await backend.close()
            return elapsed

        elapsed = asyncio.run(scenario())
        sys.stderr.write(f"\n{idle} silent clients: a new client served in {elapsed:.3f} s\n")
        wait_fds_back(mb, baseline)
        self.assertEqual(mb.stop(), 0)

    # (d) ------------------------------------------------------------------
    def test_descriptor_limit_with_300_connections(self):
        """RLIMIT_NOFILE=128 against 300 concurrent clients: no crash, no
        altered bytes, every client served (those over the limit wait in the
        backlog), and full recovery (new client served, descriptors back to
        the baseline)."""
        clients = 300
        backend = self.server(echo, "echo")
        front, mb = self.start_daemon(backend, nofile=128)
        baseline = open_files(mb)

        async def scenario():
            backend.start()
            loop = asyncio.get_running_loop()
            go = asyncio.Event()
            served = []

            async def client(i):
                s = await a_connect(front)
                try:
                    tag = struct.pack("<Q", i)
                    await loop.sock_sendall(s, tag)
                    got = b""
                    async with asyncio.timeout(60 * SLOW):
                        while len(got) < len(tag):
                            try:
                                data = await loop.sock_recv(s, 64)
                            except ConnectionResetError:
                                data = b""
                            if not data:
                                return "closed"
                            got += data
                    if got != tag:
                        raise AssertionError(f"client {i} received {got!r}, not its own {tag!r}")
                    served.append(i)
                    await go.wait()     # hold the session until told
                    return "served"
                finally:
                    s.close()

            started = time.monotonic()
            tasks = [asyncio.create_task(client(i)) for i in range(clients)]
            # The daemon fills its descriptors (about 60 sessions fit) ...
            await harness.until(lambda: len(served) >= 40, 30 * SLOW, "40 clients to be served")
            self.assertTrue(mb.running())
            at_limit = len(served)
            # ... then the served clients leave, and the waiting ones get in.
            go.set()
            ends = collections.Counter(await asyncio.gather(*tasks))
            elapsed = time.monotonic() - started
            await harness.until(lambda: backend.open == 0, DRAIN_TIMEOUT, "every session to end")

            p = unique_payload(1, 32 * KiB)
            s = await a_connect(front)
            try:
                end, received = await exchange(s, p, 10 * SLOW)
            finally:
                s.close()
            self.assertEqual(verdict("client after the storm", p, end, received), "complete")
            await backend.close()
            return ends, at_limit, elapsed

        ends, at_limit, elapsed = asyncio.run(scenario())
        sys.stderr.write(f"\nRLIMIT_NOFILE=128, {clients} clients: {at_limit} served at once, "
                         f"{dict(ends)} in all, in {elapsed:.2f} s\n")
        self.assertEqual(sum(ends.values()), clients)
        self.assertLessEqual(at_limit, 64, "more sessions than 128 descriptors can hold")
        # A client is accepted only when the descriptor budget (src/fds.c)
        # has both of its descriptors: none is accepted and then dropped.
        # (Before the budget: one per 250 ms pause, the one whose accept()
        # took the last descriptor; under valgrind two, as valgrind's own
        # descriptors sit just above the limit it shows the daemon.)
        self.assertEqual(ends["closed"], 0, f"clients accepted and then closed: {ends}")
        wait_fds_back(mb, baseline)
        self.assertEqual(mb.stop(), 0)

    def test_one_spare_descriptor_drops_no_client(self):
        """With room for `held` sessions and exactly one descriptor more,
        a client is accepted only when both of its descriptors (client and
        backend socket) are to be had: the clients queued behind the holders
        wait in the backlog while accepting pauses (250 ms at a time), none
        is accepted and then closed for want of a backend socket, and once
        sessions end the waiting ones are served.  (Before the daemon
        counted its descriptors, accept() took the last one and that client
        was closed, one per pause.)"""
        held, queued = 10, 40
        backend = self.echo_backend()
        front = harness.free_addr()
        text = harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                              shutdown_timeout="2s")
        # The daemon's descriptors at rest (valgrind's own sit above 1000).
        probe = self.daemon(text)
        samples = []
        for _ in range(6):
            samples.append(sum(1 for fd in os.listdir(f"/proc/{probe.pid}/fd") if int(fd) < 1000))
            time.sleep(0.05)    # sd_notify's socket may still be open at READY=1
        at_rest = min(samples)
        self.assertEqual(probe.stop(), 0)

        # Room for `held` sessions and one more descriptor, besides the
        # reserve the daemon keeps for uncounted uses (src/fds.c).
        nofile = with_reserve(at_rest + 2 * held + 1)
        front = harness.free_addr()
        directory = harness.make_temp_dir()
        self.addCleanup(harness.remove_temp_dir, directory)
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        shutdown_timeout="2s"),
                         nofile=nofile, directory=directory)
        baseline = open_files(mb)
        holders = []
        for i in range(held):
            c = self.connect(front)
            harness.send_all(c, b"h")
            self.assertEqual(harness.recv_exact(c, 1, timeout=10 * SLOW), b"h", f"holder {i}")
            holders.append(c)

        waiting = []
        for i in range(queued):
            c = self.connect(front)
            harness.send_all(c, struct.pack("<I", i))
            waiting.append(c)
        time.sleep(1.5)         # an observation window, not synchronisation
        readable, _, _ = select.select(waiting, [], [], 0)
        for c in readable:
            c.settimeout(0)
            try:
                data = c.recv(4, socket.MSG_PEEK)
            except OSError:
                data = b""
            what = "served" if data else "accepted and closed"
            self.fail(f"queued client {waiting.index(c)}, over the descriptor limit, was {what} "
                      f"({len(readable)} of {queued} queued clients answered)")

        # The holders leave: every client still waiting is served in turn.
        for c in holders:
            c.close()
        for i, c in enumerate(waiting):
            c.settimeout(20 * SLOW)
            try:
                got = c.recv(4)     # 4 bytes sent in one segment come back in one
            except socket.timeout:
                raise AssertionError(f"queued client {i} neither served nor closed") from None
            except OSError as e:
                raise AssertionError(f"queued client {i} was reset: {e}") from None
            self.assertEqual(got, struct.pack("<I", i), f"queued client {i}")
            c.close()
        wait_fds_back(mb, baseline)
        self.assertEqual(mb.stop(), 0)

    # (e) ------------------------------------------------------------------
    WAIT_WINDOW = 1.0   # how long a client over the limit must stay unserved

    def assert_waiting(self, clients, names):
        """None of the clients is served or closed within WAIT_WINDOW."""
        readable, _, _ = select.select(clients, [], [], self.WAIT_WINDOW)
        for c in readable:
            name = names[clients.index(c)]
            c.settimeout(0)
            try:
                data = c.recv(4096, socket.MSG_PEEK)
            except OSError as e:
                raise AssertionError(f"{name}, over the limit, was reset: {e}") from None
            if data:
                raise AssertionError(f"{name}, over the limit, was served: {data!r}")
            raise AssertionError(f"{name}, over the limit, was accepted and closed")

    def limit_scenario(self, fronts, backend, mb):
        """fronts: the frontend address of each of 8 clients; the limit is 5.

        The first five are served one after another; the last three, on one
        frontend, are queued in their order.  Which of two frontends' clients
        waiting at the same moment is taken first is up to whichever worker
        wakes first (an earlier version connected all eight at once and failed
        in CI when the second frontend's first client won that race), so the
        test makes the order across frontends itself."""
        self.assertEqual(len(set(fronts[5:])), 1, "the queued clients share a frontend")
        names = [f"client{i}" for i in range(len(fronts))]
        clients = []
        for i, (name, front) in enumerate(zip(names, fronts)):
            c = self.connect(front)     # handshake done: queued in this order
            harness.send_all(c, name.encode() + b"\n")
            clients.append(c)
            if i < 5:
                self.assertEqual(harness.recv_line(c, timeout=10 * SLOW), name)
        self.assert_waiting(clients[5:], names[5:])
        self.assertEqual(backend.accepted, 5)

        # One session ends: exactly the next client gets in.
        clients[0].close()
        self.assertEqual(harness.recv_line(clients[5], timeout=10 * SLOW), names[5])
        self.assert_waiting(clients[6:], names[6:])
        self.assertEqual(backend.accepted, 6)

        # Everyone leaves; the last ones are served in turn.
        for c in clients[1:5]:
            c.close()
        for c, name in zip(clients[6:], names[6:]):
            self.assertEqual(harness.recv_line(c, timeout=10 * SLOW), name)
        for c in clients:
            c.close()
        self.assertEqual(backend.accepted, 8)
        self.assertTrue(mb.running())

    def test_frontend_max_connections(self):
        backend = self.echo_backend()
        front, mb = self.start_daemon(backend, max_connections=5)
        self.limit_scenario([front] * 8, backend, mb)
        self.assertEqual(mb.stop(), 0)

    def test_global_max_connections(self):
        backend = self.echo_backend()
        one, two = harness.free_addr(), harness.free_addr()
        mb = self.daemon(harness.config(
            harness.frontend("one", one, [("app", backend.addr)]),
            harness.frontend("two", two, [("app", backend.addr)]),
            max_connections=5, shutdown_timeout="2s"))
        # Four clients on each frontend: the limit holds across both.
        self.limit_scenario([one] * 4 + [two] * 4, backend, mb)
        self.assertEqual(mb.stop(), 0)

    # (f) ------------------------------------------------------------------
    def test_one_gib_through_one_session(self):
        """1 GiB client -> backend through one session (the backend half-closes
        at once), intact, with the daemon's RSS growing by less than 32 MiB."""
        block = 1 * MiB
        blocks = BULK_MIB * MiB // block
        base = os.urandom(block)
        sink = self.stream_backend(b"")
        front, mb = self.start_daemon(sink)
        c = self.connect(front, timeout=60 * SLOW)
        # The backend's EOF passes through first: the other way keeps flowing.
        self.assertEqual(harness.recv_until_eof(c, timeout=10 * SLOW), b"")
        rss_before = mb.rss_kib()
        sent = hashlib.sha256()

        def send():
            for i in range(blocks):
                data = struct.pack("<Q", i) + base[8:]    # each block differs
                sent.update(data)
                c.sendall(data)
            c.shutdown(socket.SHUT_WR)

        sender = harness.Worker(send, name="gib-sender")
        started = time.monotonic()
        sender.start()
        peak = rss_before
        deadline = started + 120 * SLOW
        while sender.is_alive() and time.monotonic() < deadline:
            peak = max(peak, mb.rss_kib())
            time.sleep(0.05)    # a sampling interval, not synchronisation
        sender.join(max(1.0, deadline - time.monotonic()))
        got_sha, got_len = sink.result(timeout=60 * SLOW)
        elapsed = time.monotonic() - started
        peak = max(peak, mb.rss_kib())
        self.assertEqual(got_len, blocks * block, "bytes that reached the backend")
        self.assertEqual(got_sha, sent.hexdigest(), "bytes that reached the backend")
        sys.stderr.write(f"\n{BULK_MIB} MiB in {elapsed:.1f} s; daemon RSS {rss_before} KiB, "
                         f"peak {peak} KiB\n")
        if harness.measures_memory():
            self.assertLess(peak - rss_before, RSS_GROWTH_LIMIT_KIB,
                            f"RSS grew from {rss_before} to {peak} KiB")
        self.assertEqual(mb.stop(), 0)

    # (g) ------------------------------------------------------------------
    def test_thousand_concurrent_sessions(self):
        """1,000 sessions open at once, each sending its own payload: each
        gets back exactly its own bytes."""
        sessions = 1000
        require_descriptors(2 * sessions + 64)
        payloads = [unique_payload(i, (1 * KiB + (i * 4099) % (63 * KiB)) // SCALE)
                    for i in range(sessions)]
        backend = self.server(echo, "echo")
        front, mb = self.start_daemon(backend, nofile=daemon_nofile(4096))
        baseline = open_files(mb)

        async def scenario():
            backend.start()
            socks = await asyncio.gather(*(a_connect(front, 30 * SLOW) for _ in range(sessions)))
            try:
                await harness.until(lambda: backend.accepted >= sessions, 30 * SLOW,
                            f"{sessions} sessions to reach the backend")
                self.assertEqual(backend.open, sessions, "sessions open at once")
                ends = await asyncio.gather(*(exchange(s, p, 60 * SLOW)
                                              for s, p in zip(socks, payloads)))
            finally:
                for s in socks:
                    s.close()
            for i, (p, e) in enumerate(zip(payloads, ends)):
                self.assertEqual(verdict(f"session {i}", p, *e), "complete")
            await harness.until(lambda: backend.open == 0, DRAIN_TIMEOUT, "every session to end")
            await backend.close()

        asyncio.run(scenario())
        wait_fds_back(mb, baseline)
        self.assertEqual(mb.stop(), 0)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
