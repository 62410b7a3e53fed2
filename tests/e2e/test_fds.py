#!/usr/bin/env python3
"""The descriptor budget (src/fds.c): splice() runs at ordinary descriptor
limits, and a pipe never costs a client its connection.

Pipes for splice() are seen as pipe: entries in /proc/PID/fd.  A pump holds
its pipe while bytes wait in it, so a transfer whose receiver does not read
yet keeps its pipes open for as long as the test needs to look."""

import asyncio
import hashlib
import os
import resource
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20
SLOW = 6 if harness.VALGRIND else 1
SHELL_NOFILE = 20000      # a shell's usual hard limit
SMALL_NOFILE = 640        # (or 641) room for about 290 sessions, and for pipes while few are live
STREAMS = 2               # sessions holding a pipe each way
BULK = 16 * MiB           # more than the socket buffers on the way hold
WINDOW = 2.0              # seconds of CPU measurement while clients wait


def require_nofile(n):
    """The daemon may be given an RLIMIT_NOFILE of n (valgrind takes a few
    more for itself): skip when our hard limit is lower and cannot be raised."""
    if harness.VALGRIND:
        n += harness.VALGRIND_RESERVED_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= n:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, n))   # root with CAP_SYS_RESOURCE
    except (ValueError, OSError):
        raise unittest.SkipTest(f"the daemon needs RLIMIT_NOFILE {n}; this process's hard "
                                f"limit is {hard} and cannot be raised") from None


def shell_nofile():
    """A shell's usual limit, 20,000, for the daemon.  Under valgrind, which
    keeps 12 of the real limit for itself, a hard limit of exactly 20,000
    leaves the daemon 19,988: as ordinary a limit, and still short of the
    2 x 10,000 descriptors the old budget wanted before any pipe."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if harness.VALGRIND and hard == SHELL_NOFILE:
        return SHELL_NOFILE - harness.VALGRIND_RESERVED_FDS
    require_nofile(SHELL_NOFILE)
    return SHELL_NOFILE


def require_splice():
    if os.environ.get("MB_RELAY_SPLICE") == "0":
        raise unittest.SkipTest("MB_RELAY_SPLICE=0: the splice path is off")


def pipes_open(mb, baseline):
    """Descriptors of pipes the daemon opened since BASELINE."""
    return sum(n for target, n in (harness.open_files(mb) - baseline).items()
               if target.startswith("pipe:"))




async def read_all(reader, timeout):
    """(length, sha256) of everything until EOF."""
    h, n = hashlib.sha256(), 0
    async with asyncio.timeout(timeout):
        for _ in range(1 << 24):
            data = await reader.read(1 * MiB)
            if not data:
                return n, h.hexdigest()
            h.update(data)
            n += len(data)
    raise AssertionError("endless stream")


async def send_all(writer, payload):
    writer.write(payload)
    await writer.drain()
    writer.write_eof()


class Servers:
    """Backends in the test's event loop on fresh 127.x.y.z addresses: an
    echo, and a bulk stream that sends PAYLOAD at once but reads only once
    `released` is set."""

    def __init__(self, payload):
        self.payload = payload
        self.released = asyncio.Event()
        self.open = 0
        self.received = []        # (length, sha256) per bulk session
        self.echo = self.bulk = None

    async def start(self):
        self.echo = await asyncio.start_server(self._echo, harness.random_loopback(), 0)
        self.bulk = await asyncio.start_server(self._bulk, harness.random_loopback(), 0)
        return (harness.Addr(*self.echo.sockets[0].getsockname()),
                harness.Addr(*self.bulk.sockets[0].getsockname()))

    async def _echo(self, reader, writer):
        self.open += 1
        try:
            for _ in range(1 << 24):
                data = await reader.read(64 * 1024)
                if not data:
                    writer.write_eof()
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            self.open -= 1

    async def _bulk(self, reader, writer):
        self.open += 1
        sender = asyncio.create_task(send_all(writer, self.payload))
        try:
            await self.released.wait()
            self.received.append(await read_all(reader, 60 * SLOW))
            await sender
        finally:
            sender.cancel()
            writer.close()
            self.open -= 1

    async def close(self):
        for server in (self.echo, self.bulk):
            if server is not None:
                server.close()
                await server.wait_closed()


class Fds(harness.TestCase):

    def fds_at_rest(self, text):
        """The descriptors a daemon started with TEXT holds once set up
        (valgrind's own sit above 1000)."""
        directory = harness.make_temp_dir()
        self.addCleanup(harness.remove_temp_dir, directory)
        probe = self.daemon(text, nofile=SMALL_NOFILE, directory=directory)
        samples = []
        for _ in range(6):
            samples.append(sum(1 for fd in os.listdir(f"/proc/{probe.pid}/fd") if int(fd) < 1000))
            time.sleep(0.05)    # sd_notify's socket may still be open at READY=1
        self.assertEqual(probe.stop(), 0)
        return min(samples)

    def test_splice_at_a_shells_limit_with_default_max_connections(self):
        """RLIMIT_NOFILE 20,000 and max_connections left at its default
        (10,000): a bulk transfer goes through pipes.  The old budget gave
        pipes only what 2 x max_connections + 64 left: nothing here."""
        require_splice()
        nofile = shell_nofile()
        backend = self.controlled_backend()
        front = harness.free_addr()
        # No max_connections line: the daemon's default.
        mb = self.daemon(harness.frontend("web", front, [("app", backend.addr)]), nofile=nofile)
        baseline = harness.open_files(mb)
        up, down = os.urandom(BULK), os.urandom(BULK)
        c = self.connect(front, timeout=60 * SLOW)
        b = backend.accept()
        # Both ends send and neither reads yet: what the socket buffers do
        # not hold waits in the daemon's pipes.
        senders = [harness.Worker(harness.send_all, c, up, 60 * SLOW, name="up"),
                   harness.Worker(harness.send_all, b, down, 60 * SLOW, name="down")]
        for w in senders:
            w.start()
        harness.wait_for(lambda: pipes_open(mb, baseline) >= 4, 20 * SLOW,
                         "a pipe in each direction (splice path)")

        readers = [harness.Worker(harness.recv_exact, b, len(up), 60 * SLOW, name="read-up"),
                   harness.Worker(harness.recv_exact, c, len(down), 60 * SLOW, name="read-down")]
        for w in readers:
            w.start()
        got_up, got_down = (w.join(90 * SLOW) for w in readers)
        for w in senders:
            w.join(30 * SLOW)
        self.assertEqual(harness.sha256(got_up), harness.sha256(up), "client -> backend bytes")
        self.assertEqual(harness.sha256(got_down), harness.sha256(down), "backend -> client bytes")
        c.close()
        b.close()
        harness.wait_fds_back(mb, baseline)
        self.assertEqual(mb.stop(), 0)

    def test_pipes_never_cost_a_client_its_connection(self):
        """A small descriptor limit; sessions holding pipes both ways; then
        more clients than the limit has room for.  Every client the daemon
        accepts is served (none accepted, then closed for want of a
        descriptor for its backend), the others wait in the backlog without
        the daemon spinning, and all are served once sessions end."""
        require_splice()
        require_nofile(SMALL_NOFILE + 1)
        # More than the limit can hold whatever the daemon holds at start.
        clients = SMALL_NOFILE // 2 + 40
        payload = os.urandom(BULK)
        digest = hashlib.sha256(payload).hexdigest()

        async def scenario():
            servers = Servers(payload)
            echo_addr, bulk_addr = await servers.start()

            def text(front, bulk_front):
                return harness.config(harness.frontend("web", front, [("echo", echo_addr)]),
                                      harness.frontend("bulk", bulk_front, [("bulk", bulk_addr)]),
                                      shutdown_timeout="2s")

            # An odd number of descriptors free beside the streams: a
            # daemon that accepts while one is left has none for that
            # client's backend.
            at_rest = self.fds_at_rest(text(harness.free_addr(), harness.free_addr()))
            nofile = SMALL_NOFILE + (SMALL_NOFILE - at_rest + 1) % 2
            front, bulk_front = harness.free_addr(), harness.free_addr()
            directory = harness.make_temp_dir()
            self.addCleanup(harness.remove_temp_dir, directory)
            mb = self.daemon(text(front, bulk_front), nofile=nofile, directory=directory)
            baseline = harness.open_files(mb)
            try:
                return await flood(servers, mb, baseline, front, bulk_front)
            finally:
                await servers.close()

        async def bulk_client(front, servers):
            reader, writer = await asyncio.open_connection(*front.sockaddr)
            sender = asyncio.create_task(send_all(writer, payload))
            try:
                await servers.released.wait()
                got = await read_all(reader, 60 * SLOW)
                await sender
                return got
            finally:
                sender.cancel()
                writer.close()

        async def flood(servers, mb, baseline, front, bulk_front):
            go = asyncio.Event()
            served, closed = [], []

            async def client(i):
                tag = struct.pack("<Q", i)
                reader, writer = await asyncio.open_connection(*front.sockaddr)
                try:
                    writer.write(tag)
                    try:
                        async with asyncio.timeout(90 * SLOW):
                            got = await reader.readexactly(len(tag))
                    except (asyncio.IncompleteReadError, ConnectionResetError):
                        closed.append(i)
                        return "closed"
                    self.assertEqual(got, tag, f"client {i}")
                    served.append(i)
                    await go.wait()
                    return "served"
                finally:
                    writer.close()

            streams = [asyncio.create_task(bulk_client(bulk_front, servers)) for _ in range(STREAMS)]
            tasks = []
            try:
                # Each stream's two pumps hold a pipe while their receivers wait.
                try:
                    await harness.until(lambda: pipes_open(mb, baseline) >= 4 * STREAMS, 20 * SLOW,
                                "the streams to hold their pipes")
                except AssertionError:
                    pass            # asserted below, after what matters most
                held = pipes_open(mb, baseline)

                tasks += [asyncio.create_task(client(i)) for i in range(clients)]

                def settled():
                    queued = harness.accept_queue(mb, front)
                    return queued > 0 and len(served) + len(closed) + queued == clients

                await harness.until(settled, 60 * SLOW, "the daemon to stop accepting with every accepted client answered")
                self.assertEqual(closed, [], f"{len(closed)} accepted clients were closed at the limit")
                at_limit = len(served)

                # Clients wait in the backlog: the daemon must not spin.
                cpu_before = mb.cpu_seconds()
                time.sleep(WINDOW)  # a measurement window, not synchronisation
                used = mb.cpu_seconds() - cpu_before
                self.assertLess(used, 0.25 * WINDOW,
                                f"daemon used {used:.2f} s of CPU in {WINDOW} s with clients waiting")
                self.assertTrue(settled(), "the daemon accepted while the budget was full")
                self.assertGreaterEqual(held, 4 * STREAMS, "the streams held no pipes (splice path)")
                # Not asserted: that they still hold them.  A pump whose pipe
                # empties gives it back to the pool, which the daemon closes
                # once quiet (trim.c), and the full budget may then make it
                # copy instead: no byte is lost either way, as the intact
                # streams below show.

                # The streams finish, intact; the clients leave; those waiting
                # are served in turn.
                servers.released.set()
                for got in await asyncio.gather(*streams):
                    self.assertEqual(got, (len(payload), digest), "backend -> client bytes")
                await harness.until(lambda: len(servers.received) == STREAMS, 30 * SLOW, "the streams' ends")
                for got in servers.received:
                    self.assertEqual(got, (len(payload), digest), "client -> backend bytes")
                go.set()
                ends = await asyncio.gather(*tasks)
                self.assertEqual(closed, [], f"{len(closed)} accepted clients were closed")
                self.assertEqual(ends.count("served"), clients)
                await harness.until(lambda: servers.open == 0, 30 * SLOW, "every session to end")
                harness.wait_fds_back(mb, baseline, 20 * SLOW)

                reader, writer = await asyncio.open_connection(*front.sockaddr)
                try:
                    writer.write(b"after the flood")
                    async with asyncio.timeout(10 * SLOW):
                        self.assertEqual(await reader.readexactly(15), b"after the flood")
                finally:
                    writer.close()
                await harness.until(lambda: servers.open == 0, 30 * SLOW, "the last session to end")
                self.assertEqual(mb.stop(), 0)
                return at_limit, held, mb.nofile
            finally:
                # On a failure: nothing left running when the loop closes.
                for t in streams + tasks:
                    t.cancel()
                await asyncio.gather(*streams, *tasks, return_exceptions=True)

        at_limit, held, nofile = asyncio.run(scenario())
        sys.stderr.write(f"\nRLIMIT_NOFILE={nofile}: {STREAMS} streams held {held // 2} pipes; "
                         f"{at_limit} of {clients} clients served at once, none closed\n")


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
