#!/usr/bin/env python3
"""Resets and cut streams: no byte lost.

Linux keeps what a socket received readable after a reset arrives; a client
of a direct connection gets every byte the server wrote before resetting,
then the reset.  Through the daemon it must get the same: each case runs
side by side, directly and through the daemon, and the outcomes (bytes and
how the stream ended) must be equal.  A session that the idle timeout cuts
while bytes still wait is reset, not ended with a FIN that the peer would
take for a clean end.  test_reset_copy.py runs all of it again on the
buffered pump (MB_RELAY_SPLICE=0).
"""

import fcntl
import os
import socket
import struct
import sys
import termios
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ANSWER = bytes(range(256)) * 192            # 48 KiB: fits the loopback windows
REQUEST = b"GET /big HTTP/1.0\r\n" * 2000    # 38 KB
BIG_ANSWER = os.urandom(160 * 1024)         # more than a stalled client's window


def unacknowledged(s):
    """Bytes S has sent that its peer's kernel has not acknowledged yet."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def read_to_end(s, timeout=harness.CLOSE_TIMEOUT, limit=64 << 20):
    """Everything S receives until the stream ends: (bytes, "eof" | "reset")."""
    s.settimeout(timeout)
    chunks, got = [], 0
    for _ in range(1 << 20):
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            raise AssertionError(f"stream still open after {timeout}s ({got} bytes)") from None
        except ConnectionResetError:
            return b"".join(chunks), "reset"
        if not data:
            return b"".join(chunks), "eof"
        chunks.append(data)
        got += len(data)
        if got > limit:
            raise AssertionError(f"more than {limit} bytes")
    raise AssertionError("too many reads")


def describe(outcome):
    data, end = outcome
    return f"{len(data)} bytes (sha256 {harness.sha256(data)[:12]}) then {end}"


class Reset(harness.TestCase):

    def start(self, backend, **options):
        front = harness.free_addr()
        self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)], **options)))
        return front

    def side_by_side(self, scenario):
        """SCENARIO(address, backend) -> outcome, run directly against a
        backend and through the daemon; both outcomes are returned."""
        direct_backend = self.controlled_backend()
        direct = scenario(direct_backend.addr, direct_backend)
        proxied_backend = self.controlled_backend()
        front = self.start(proxied_backend)
        proxied = scenario(front, proxied_backend)
        return direct, proxied

    def test_backend_answer_then_reset(self):
        """The backend writes its answer, then resets (it did not read all of
        the request): the client gets the whole answer, then the reset."""
        def scenario(addr, backend):
            c = self.connect(addr)
            harness.send_all(c, REQUEST)
            b = backend.accept()
            harness.recv_exact(b, 100)          # reads only the start of it
            harness.send_all(b, ANSWER)
            harness.reset(b)
            return read_to_end(c)

        direct, proxied = self.side_by_side(scenario)
        self.assertEqual(direct, (ANSWER, "reset"), f"direct: {describe(direct)}")
        self.assertEqual(proxied, direct, f"through the daemon: {describe(proxied)}, "
                                          f"directly: {describe(direct)}")

    def test_client_request_then_reset(self):
        """Same the other way: the backend gets the whole request, then the
        reset."""
        def scenario(addr, backend):
            c = self.connect(addr)
            b = backend.accept()
            harness.send_all(c, REQUEST)
            harness.reset(c)
            return read_to_end(b)

        direct, proxied = self.side_by_side(scenario)
        self.assertEqual(direct, (REQUEST, "reset"), f"direct: {describe(direct)}")
        self.assertEqual(proxied, direct, f"through the daemon: {describe(proxied)}, "
                                          f"directly: {describe(direct)}")

    def test_backend_answer_then_reset_to_a_stalled_client(self):
        """The client reads nothing while the backend writes more than the
        client's window and resets: the daemon holds what the client could
        not take yet, delivers all of it once the client reads, then passes
        the reset on.  (Directly, the backend's kernel would throw away what
        did not fit: the daemon does better here, never worse.)  The backend
        resets once the daemon's kernel has acknowledged every byte: what a
        reset throws away on the backend's side is not the daemon's to
        deliver."""
        backend = self.controlled_backend()
        front = self.start(backend)
        c = self.connect(front, rcvbuf=4096)
        b = backend.accept()
        harness.send_all(b, BIG_ANSWER, timeout=10)
        harness.wait_for(lambda: unacknowledged(b) == 0, 10,
                         "the daemon's kernel to acknowledge the whole answer")
        harness.reset(b)
        outcome = read_to_end(c)
        self.assertEqual(outcome, (BIG_ANSWER, "reset"), describe(outcome))

    def test_answer_then_close_with_unread_request(self):
        """The backend answers and closes without reading all of the
        request, so its own kernel resets the connection: the client gets the
        whole answer and the end of the stream as it would directly."""
        def scenario(addr, backend):
            c = self.connect(addr)
            b = backend.accept()
            harness.send_all(c, b"x" * 1000)
            harness.recv_exact(b, 10)
            harness.send_all(b, ANSWER)
            b.close()                            # 990 bytes unread: RST
            return read_to_end(c)

        direct, proxied = self.side_by_side(scenario)
        self.assertEqual(direct[0], ANSWER, f"direct: {describe(direct)}")
        self.assertEqual(proxied, direct, f"through the daemon: {describe(proxied)}, "
                                          f"directly: {describe(direct)}")

    def test_idle_timeout_with_bytes_waiting_resets(self):
        """A backend streams to a client that reads nothing: once no byte has
        moved for idle_timeout, the session is cut with bytes still waiting
        toward the client.  The client must see a reset after what it got,
        never an EOF that would pass the truncated stream for a whole one;
        the backend is reset too."""
        backend = self.controlled_backend()
        front = self.start(backend, idle_timeout="500ms")
        c = self.connect(front, rcvbuf=4096)
        b = backend.accept()
        backend_end = []

        def flood():
            b.settimeout(30)
            try:
                for _ in range(4096):
                    b.sendall(b"y" * 65536)
                backend_end.append("sent 256 MiB: the daemon never pushed back")
            except (ConnectionResetError, BrokenPipeError):
                backend_end.append("reset")
            except socket.timeout:
                backend_end.append("blocked for 30 s")

        sender = harness.Worker(flood, name="flood")
        sender.start()
        sender.join(40)
        self.assertEqual(backend_end, ["reset"], "the backend is reset")
        data, end = read_to_end(c)
        self.assertGreater(len(data), 0)
        self.assertEqual(end, "reset", f"client got {len(data)} bytes then {end}")

    def test_idle_timeout_without_bytes_waiting_ends_cleanly(self):
        """Nothing waiting: the idle timeout ends both sides with a FIN."""
        backend = self.controlled_backend()
        front = self.start(backend, idle_timeout="300ms")
        c, b = self.established(front, backend)
        self.assertEqual(read_to_end(c), (b"", "eof"))
        self.assertEqual(read_to_end(b), (b"", "eof"))


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
