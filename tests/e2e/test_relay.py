#!/usr/bin/env python3
"""Relay semantics: bytes unmodified both ways at once, half-close, resets."""

import os
import socket
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20


class Relay(harness.TestCase):

    def start(self, backend, **options):
        front = harness.free_addr(backend.addr.family)
        self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)],
                                                    **options)))
        return front

    def test_large_transfer_both_ways_at_once(self):
        """32 MiB each way through one session, concurrently; checksums match."""
        up, down = os.urandom(32 * MiB), os.urandom(32 * MiB)
        backend = self.stream_backend(down)
        front = self.start(backend)

        s = self.connect(front)
        received = harness.transfer(s, up, timeout=60)
        got_sha, got_len = backend.result(timeout=60)

        self.assertEqual(len(received), len(down), "backend -> client byte count")
        self.assertEqual(harness.sha256(received), harness.sha256(down), "backend -> client bytes")
        self.assertEqual(got_len, len(up), "client -> backend byte count")
        self.assertEqual(got_sha, harness.sha256(up), "client -> backend bytes")

    def test_concurrent_sessions_keep_their_own_bytes(self):
        backend = self.echo_backend()
        front = self.start(backend)
        payloads = [os.urandom(2 * MiB + i) for i in range(8)]
        socks = [self.connect(front) for _ in payloads]
        workers = [harness.Worker(harness.transfer, s, p, 60, name=f"session{i}")
                   for i, (s, p) in enumerate(zip(socks, payloads))]
        for w in workers:
            w.start()
        for i, (w, p) in enumerate(zip(workers, payloads)):
            echoed = w.join(90)
            self.assertEqual(len(echoed), len(p), f"session {i}: byte count")
            self.assertEqual(harness.sha256(echoed), harness.sha256(p), f"session {i}: bytes")
        self.assertEqual(backend.accepted, len(payloads))

    def test_client_half_close(self):
        """Client shuts down write: the backend sees EOF, and can still send."""
        backend = self.controlled_backend()
        front = self.start(backend)
        c = self.connect(front)
        harness.send_all(c, b"request")
        c.shutdown(socket.SHUT_WR)

        b = backend.accept()
        self.assertEqual(harness.recv_until_eof(b), b"request", "backend gets data, then EOF")
        harness.send_all(b, b"response after the client's EOF, ")
        harness.send_all(b, b"in two parts")
        b.close()
        self.assertEqual(harness.recv_until_eof(c),
                         b"response after the client's EOF, in two parts")

    def test_backend_half_close(self):
        """Backend shuts down write first: the client sees EOF, and can still send."""
        backend = self.controlled_backend()
        front = self.start(backend)
        c = self.connect(front)
        b = backend.accept()
        harness.send_all(b, b"goodbye")
        b.shutdown(socket.SHUT_WR)

        self.assertEqual(harness.recv_until_eof(c), b"goodbye", "client gets data, then EOF")
        harness.send_all(c, b"the client still talks")
        self.assertEqual(harness.recv_exact(b, 22), b"the client still talks")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_until_eof(b), b"", "backend gets the client's EOF")

    def test_backend_resetting_on_accept_closes_client(self):
        backend = self.reset_backend()
        front = self.start(backend)
        try:
            c = self.connect(front)
        except ConnectionResetError:
            # The daemon accepted, met the reset and reset us before our
            # connect() call had returned: closed all the same.
            pass
        else:
            harness.wait_closed(c, timeout=harness.CLOSE_TIMEOUT)
        harness.wait_for(lambda: backend.accepted == 1, harness.CLOSE_TIMEOUT, "the backend's accept")
        self.assertEqual(backend.accepted, 1)

    def test_client_reset_closes_backend_side(self):
        backend = self.controlled_backend()
        front = self.start(backend)
        c, b = self.established(front, backend)
        harness.reset(c)
        harness.wait_closed(b, timeout=harness.CLOSE_TIMEOUT)

    def test_backend_reset_closes_client_side(self):
        backend = self.controlled_backend()
        front = self.start(backend)
        c, b = self.established(front, backend)
        harness.reset(b)
        harness.wait_closed(c, timeout=harness.CLOSE_TIMEOUT)

    def test_relay_path(self):
        """The pump in use is the one asked for, and splice() only where it
        pays: a ping/pong session takes no pipe on either path (small reads
        are copied); a bulk transfer goes through pipes with splice() (the
        default on Linux), and through buffers with MB_RELAY_SPLICE=0 (see
        test_relay_copy.py).  show info's relay_bytes counts the bytes each
        path moved."""
        copy = os.environ.get("MB_RELAY_SPLICE") == "0"
        backend = self.controlled_backend()
        front = harness.free_addr()
        path = self.admin_socket_path()
        mb = self.daemon(harness.config(harness.frontend("web", front, [("app", backend.addr)]),
                                        admin_socket=f'"{path}"'))
        admin = self.admin(path)

        def pipes():
            return sum(n for target, n in (harness.open_files(mb) - baseline).items()
                       if target.startswith("pipe:"))

        def relay_bytes():
            return admin.command("show info")["relay_bytes"]

        # Answered: the control client's socket is open in the baseline.
        self.assertEqual(relay_bytes(), {"path": "copy" if copy else "splice",
                                         "bytes_spliced": 0, "bytes_copied": 0})
        baseline = harness.open_files(mb)
        c, b = self.established(front, backend)
        moved = 8                                   # ping, pong
        for i in range(20):
            ping, pong = b"ping %d" % i, b"pong %d" % i
            harness.send_all(c, ping)
            self.assertEqual(harness.recv_exact(b, len(ping)), ping)
            harness.send_all(b, pong)
            self.assertEqual(harness.recv_exact(c, len(pong)), pong)
            moved += len(ping) + len(pong)
        self.assertEqual(pipes(), 0, "a ping/pong session took a pipe")
        # Counted as read: all of it, by now.
        self.assertEqual(relay_bytes(), {"path": "copy" if copy else "splice",
                                         "bytes_spliced": 0, "bytes_copied": moved})

        # The backend sends more than the socket buffers hold while the
        # client does not read yet: on the splice path the bytes wait in a
        # pipe, which the pump holds until it is empty.
        down = os.urandom(16 * MiB)
        sender = harness.Worker(harness.send_all, b, down, 60, name="down")
        sender.start()
        if not copy:
            harness.wait_for(lambda: pipes() >= 2, 20, "a pipe for the bulk transfer (splice path)")
        received = harness.recv_exact(c, len(down), 60)
        sender.join(60)
        self.assertEqual(harness.sha256(received), harness.sha256(down), "backend -> client bytes")
        counts = relay_bytes()
        self.assertEqual(counts["bytes_spliced"] + counts["bytes_copied"], moved + len(down))
        if copy:
            self.assertEqual(pipes(), 0, "MB_RELAY_SPLICE=0: no pipe may be opened")
            self.assertEqual(counts["bytes_spliced"], 0, "MB_RELAY_SPLICE=0: bytes spliced")
        else:
            self.assertGreaterEqual(counts["bytes_spliced"], len(down) * 3 // 4,
                                    f"bulk bytes spliced: {counts}")
        c.close()
        b.close()
        harness.wait_fds_back(mb, baseline)

if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
