#!/usr/bin/env python3
"""The PROXY protocol, v1 and v2, end to end: DESIGN.md section "PROXY
protocol" and HAProxy's doc/proxy-protocol.txt.

Covered:
  * accept_proxy, every valid form: v1 TCP4, TCP6, UNKNOWN (short, and the
    107-byte worst case), v2 PROXY over TCP4 and TCP6, v2 with TLVs (one a
    correct CRC32C), v2 UNSPEC, v2 LOCAL (with and without an address
    block); each sent whole with stream bytes in the same segment, and byte
    by byte.  The backend, reached with send_proxy v1 and v2, is told the
    header's addresses (the real ones for UNKNOWN, UNSPEC and LOCAL), then
    gets exactly the client's bytes; the reply comes back; the -v
    "serving connection" line names the same client.  Without send_proxy
    the backend gets the client's bytes alone;
  * malformed headers (signature, v2 version, command, length, TLVs, v1
    length, addresses, ports, LF without CR, plain data), whole and byte by
    byte, and headers that are partial, slow or missing past connect_timeout
    (500 ms): each client is closed, no backend is connected to, each is
    counted once in mini_balancer_frontend_proxy_errors_total and logged
    once, at info level, with its reason;
  * balance = source-hash keyed on the header's source address;
  * send_proxy without accept_proxy: the client's real address and the
    frontend's address as the first bytes on the backend connection, over
    IPv4 and IPv6, after a failover too; a backend's value over its
    frontend's default;
  * health checks of send_proxy backends begin with "PROXY UNKNOWN\\r\\n" or
    a v2 LOCAL header (and those of the others with no header);
  * interoperability with HAProxy (skipped where it is not installed): its
    send-proxy and send-proxy-v2 (with TLVs) into accept_proxy, and our
    send_proxy v1 and v2 into its accept-proxy, checked in its log;
  * configuration errors: send_proxy = v3, accept_proxy = maybe.

The headers sent are built from the specification by proxy_header.py, and
what backends receive is read by its parse(), a strict reader of the same
specification: nothing here depends on the daemon's own code."""

import ipaddress
import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from proxy_header import (AF_UNSPEC, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_NOOP,  # noqa: E402
                          PROXY, TCP4, Invalid, addr, address_block, parse, tlv, v1,
                          v1_unknown, v2, v2_local, v2_raw, v2_with_crc32c)
from test_stats import Scrape, request  # noqa: E402

SLOW = 6 if harness.VALGRIND else 1
GAP = 0.002                      # between two one-byte writes of a split header
COUNTERS = 3.0 * SLOW            # counters are at most 1 s old: this covers it
LATE = 0.5                       # connect_timeout of the late-header tests
LATE_MARGIN = 1.5 * SLOW         # on top of it, for the close to reach us
ERRORS = "mini_balancer_frontend_proxy_errors_total"

# Where haproxy lives: on PATH, or in the sbin directories a non-root
# user's PATH lacks on Debian (the package installs /usr/sbin/haproxy).
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin:/sbin")
HAPROXY_MISSING = ("haproxy is not installed (Debian package haproxy): the interoperability "
                   "tests need a real HAProxy")


# --------------------------------------------------------------------------
# Backends and clients

class Captured:
    """A connection the daemon opened to a CaptureBackend, driven by the
    test.  `received` holds every byte received on it, in order; header()
    reads the PROXY header at its start, data() and rest() what follows."""

    def __init__(self, sock):
        self.sock = sock
        self.received = b""
        self.pos = 0

    def _more(self, deadline, what):
        """Receive more (False at EOF).  Bounded by DEADLINE."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"backend: no {what} in time; received {self.received[:300]!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"backend: no {what} in time; received {self.received[:300]!r}") from None
        except ConnectionResetError:
            raise AssertionError(f"backend: reset before {what}; received {self.received[:300]!r}") from None
        self.received += data
        return bool(data)

    def header(self, timeout=harness.IO_TIMEOUT):
        deadline = time.monotonic() + timeout
        for _ in range(1 << 16):
            try:
                h = parse(self.received)
            except Invalid as e:
                raise AssertionError(f"backend: not a valid PROXY header ({e}): "
                                     f"{self.received[:300]!r}") from None
            if h is not None:
                self.pos = h.length
                return h
            if not self._more(deadline, "complete PROXY header"):
                raise AssertionError(f"backend: closed before a complete PROXY header: "
                                     f"{self.received[:300]!r}")
        raise AssertionError("backend: PROXY header reading did not end")

    def data(self, n, timeout=harness.IO_TIMEOUT):
        """The next N bytes after what was read so far."""
        deadline = time.monotonic() + timeout
        for _ in range(1 << 20):
            if len(self.received) - self.pos >= n:
                break
            if not self._more(deadline, f"{n} bytes of stream"):
                raise AssertionError(f"backend: closed after {len(self.received) - self.pos} "
                                     f"of {n} bytes: {self.received[self.pos:][:300]!r}")
        out = self.received[self.pos:self.pos + n]
        self.pos += n
        return out

    def rest(self, timeout=harness.IO_TIMEOUT):
        """Everything from the read position to EOF."""
        deadline = time.monotonic() + timeout
        for _ in range(1 << 20):
            if not self._more(deadline, "EOF"):
                break
        out = self.received[self.pos:]
        self.pos = len(self.received)
        return out

    def send(self, data):
        harness.send_all(self.sock, data)

    def close(self):
        harness.close_quietly(self.sock)


class CaptureBackend(harness.ControlledBackend):
    """A ControlledBackend whose accept() returns a Captured connection."""

    def accept(self, timeout=harness.IO_TIMEOUT):
        return Captured(super().accept(timeout))


class CheckRecorder(harness.Backend):
    """Takes every connection for a health check: reads until SEND has come
    at the end (or EOF, or 5 s), keeps those bytes in `checks`, answers
    PONG when SEND came, and closes."""

    def __init__(self, name, send=b"PING\r\n"):
        self.send = send
        self.checks = []
        self._checks_lock = threading.Lock()
        super().__init__(self._handle, name=name)

    def _handle(self, conn):
        buf = b""
        deadline = time.monotonic() + 5.0
        for _ in range(4096):
            left = deadline - time.monotonic()
            if buf.endswith(self.send) or left <= 0 or len(buf) > 65536:
                break
            conn.settimeout(left)
            try:
                data = conn.recv(4096)
            except socket.timeout:
                break
            if not data:
                break
            buf += data
        with self._checks_lock:
            self.checks.append(buf)
        if buf.endswith(self.send):
            conn.sendall(b"PONG")
        conn.close()

    def recorded(self):
        with self._checks_lock:
            return list(self.checks)


def send_split(s, data, gap=GAP):
    """DATA one byte per send() (the caller set TCP_NODELAY: one segment
    each), GAP seconds apart: pacing, not synchronisation."""
    for i in range(len(data)):
        harness.send_all(s, data[i:i + 1])
        time.sleep(gap)


def listening(a):
    """True when a socket listens on the IPv4 address A (/proc/net/tcp):
    a way to wait for another program's listener without connecting."""
    host = "".join(f"{int(part):02X}" for part in reversed(a.host.split(".")))
    local = f"{host}:{a.port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        return any(fields[1] == local and fields[3] == "0A" for fields in map(str.split, f))


def tail(path, limit=20000):
    """The last LIMIT characters of the file at PATH ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read()[-limit:].decode(errors="replace")
    except OSError:
        return ""


def difference(got, want):
    """None when the bytes GOT are WANT, else a short description."""
    if got == want:
        return None
    at = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
    return (f"{len(got)} bytes where {len(want)} were sent, first difference at byte {at}: "
            f"{got[at:at + 40]!r} instead of {want[at:at + 40]!r}")


def name_of(host, port):
    """How the daemon's log writes an address: h:p, [h]:p for IPv6."""
    host = str(ipaddress.ip_address(host))
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------

class ProxyCase(harness.TestCase):

    def client(self, front, source=None):
        """A connected client with TCP_NODELAY (a split header goes out one
        byte per segment), bound to SOURCE (a host) when given."""
        s = socket.socket(front.family, socket.SOCK_STREAM)
        self.addCleanup(harness.close_quietly, s)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source is not None:
            s.bind((source, 0))
        s.settimeout(harness.IO_TIMEOUT)
        s.connect(front.sockaddr)
        return s

    def capture(self):
        return self._own(CaptureBackend())

    def start(self, *sections, stats=False, **options):
        self.stats = harness.free_addr() if stats else None
        if stats:
            options["stats_listen"] = f'"{self.stats}"'
        return self.daemon(harness.config(*sections, **options))

    def proxy_errors(self, frontend="web"):
        r = request(self.stats, "GET", "/metrics")
        self.assertEqual(r.status, 200, f"GET /metrics: {r.status} {r.reason}")
        m = Scrape(r.body.decode("utf-8"))
        value = m.get(ERRORS, frontend=frontend)
        self.assertIsNotNone(value, f"no {ERRORS}{{frontend=\"{frontend}\"}} in /metrics:\n"
                                    f"{m.lines_of(ERRORS)}")
        return value

    def assert_proxy_errors(self, n, frontend="web"):
        """The counter reaches N (bounded: it may be up to 1 s old) and is
        then exactly N."""
        deadline = time.monotonic() + COUNTERS
        value = self.proxy_errors(frontend)
        for _ in range(1 << 16):
            if value >= n or time.monotonic() > deadline:
                break
            time.sleep(0.05)            # between two looks at the counter
            value = self.proxy_errors(frontend)
        self.assertEqual(value, n, f"{ERRORS}{{frontend=\"{frontend}\"}}")

    def through(self, front, backend, header, version, source=None, destination=None,
                split=False, frontend="web", mb=None):
        """One client through FRONT (accept_proxy) to BACKEND (send_proxy
        VERSION, or None: no header): HEADER and stream bytes in one
        segment (SPLIT: the header byte by byte, its last byte with the
        stream bytes); the backend's header says SOURCE and DESTINATION,
        or the real addresses when they are None; then the stream
        arrives exactly, the reply comes back, both ends close.  With MB,
        the daemon's -v line for the session names that source."""
        first, second, reply = os.urandom(1000), os.urandom(64 << 10), os.urandom(3000)
        mark = mb.stderr_mark() if mb else 0
        c = self.client(front)
        real_source, real_destination = c.getsockname()[:2], c.getpeername()[:2]
        if split:
            send_split(c, header[:-1])
            harness.send_all(c, header[-1:] + first)
        else:
            harness.send_all(c, header + first)
        b = backend.accept()
        want_source = addr(*(source or real_source))
        if version is None:
            self.assertIsNone(difference(b.data(len(first)), first),
                              "the stream after the header, at the start of the backend connection")
        else:
            h = b.header()
            self.assertEqual((h.version, h.command), (version, "PROXY"),
                             f"the header the backend received: {b.received[:h.length]!r}")
            self.assertEqual((h.source, h.destination),
                             (want_source, addr(*(destination or real_destination))),
                             f"the addresses in {b.received[:h.length]!r}")
            self.assertIsNone(difference(b.data(len(first)), first),
                              "the stream bytes sent with the header")
        b.send(reply)
        self.assertIsNone(difference(harness.recv_exact(c, len(reply)), reply), "the reply to the client")
        harness.send_all(c, second)
        c.shutdown(socket.SHUT_WR)
        self.assertIsNone(difference(b.rest(), second), "the rest of the stream, then EOF")
        b.close()
        self.assertEqual(harness.recv_until_eof(c), b"", "the client's EOF after the backend's")
        c.close()
        if mb:
            who = name_of(*want_source)
            mb.wait_log(rf"info: frontend {frontend}: {re.escape(who)}: serving connection$",
                        since=mark, what=f"frontend {frontend}: {who}: serving connection")

    def bad_client(self, front, data, split=False, then_close=False):
        """A client sending DATA (SPLIT: byte by byte, until the daemon
        closes), then SHUT_WR when THEN_CLOSE: it must be closed, without a
        byte back.  Bound to a fresh 127.x.y.z so that its name in the log
        is its own.  Returns that name (host:port)."""
        c = self.client(front, source=harness.random_loopback())
        name = name_of(*c.getsockname()[:2])
        try:
            if split:
                send_split(c, data)
            else:
                harness.send_all(c, data)
            if then_close:
                c.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass                    # closed while sending: what we wait for below
        harness.wait_closed(c)
        c.close()
        return name

    def assert_one_line_each(self, mb, frontend, names, since=0):
        """For each client NAME, exactly one log line names it: at info
        level, "frontend FRONTEND: NAME: bad PROXY header: REASON" with a
        reason.  Returns {name: reason}."""
        reasons = {}
        lines = mb.log_lines(since)
        for name in names:
            tag = re.compile(rf"(?<![\d.\[]){re.escape(name)}:")
            mine = [l for l in lines if tag.search(l)]
            self.assertEqual(len(mine), 1, f"log lines naming client {name}: {mine}")
            m = harness.LOG_LINE.match(mine[0])
            self.assertIsNotNone(m, f"not a log line: {mine[0]!r}")
            self.assertEqual(m.group(2), "info", f"the level of {mine[0]!r}")
            got = re.fullmatch(rf"frontend {frontend}: {re.escape(name)}: bad PROXY header: (\S.*)",
                               m.group(3))
            self.assertIsNotNone(got, f"not the bad PROXY header line: {mine[0]!r}")
            reasons[name] = got.group(1)
        return reasons


def valid_forms(port):
    """[(what, header, source, destination)]: every valid
    form, its source port PORT (so that log lines tell clients apart);
    source and destination None where the real addresses stand."""
    src4, dst4 = ("192.0.2.7", port), ("198.51.100.9", 443)
    src6, dst6 = ("2001:db8::7", port), ("2001:db8:0:1::9", 8443)
    ones = ":".join(["ffff"] * 8)
    tlvs = (tlv(PP2_TYPE_NOOP, b"") + tlv(PP2_TYPE_AUTHORITY, b"example.org")
            + tlv(PP2_TYPE_ALPN, b"h2") + tlv(0xE0, bytes(range(64))))
    block4, _ = address_block(src4, dst4)
    return [
        ("v1 TCP4", v1(src4, dst4), src4, dst4),
        ("v1 TCP6", v1(src6, dst6), src6, dst6),
        ("v1 UNKNOWN", v1_unknown(), None, None),
        # The longest v1 line there may be (107 bytes): what follows UNKNOWN is ignored.
        ("v1 UNKNOWN, longest", v1_unknown(f" {ones} {ones} 65535 65535"), None, None),
        ("v2 PROXY TCP4", v2(src4, dst4), src4, dst4),
        ("v2 PROXY TCP6", v2(src6, dst6), src6, dst6),
        ("v2 PROXY TCP4 with TLVs", v2_with_crc32c(src4, dst4, tlvs), src4, dst4),
        ("v2 PROXY TCP6 with TLVs", v2(src6, dst6, tlvs), src6, dst6),
        ("v2 PROXY UNSPEC", v2_raw(0x20 | PROXY, AF_UNSPEC, b""), None, None),
        ("v2 LOCAL", v2_local(), None, None),
        # LOCAL: the receiver skips the block whatever it holds (section 2.2).
        ("v2 LOCAL with an address block", v2_local(block4, TCP4), None, None),
    ]


def malformed_forms():
    """[(what, bytes, then_close)]: headers that are wrong, each followed by
    stream bytes; THEN_CLOSE: the client then ends its stream (a header
    cut short by EOF)."""
    src4, dst4 = ("192.0.2.7", 4242), ("198.51.100.9", 443)
    good1, good2 = v1(src4, dst4), v2(src4, dst4)
    block4, _ = address_block(src4, dst4)
    payload = b"GET / HTTP/1.0\r\n\r\n"
    wrong_sig = bytearray(good2)
    wrong_sig[7] ^= 0x20                    # 'Q' -> 'q'
    return [
        ("bad v1 signature", b"PROXI" + good1[5:] + payload, False),
        ("bad v2 signature", bytes(wrong_sig) + payload, False),
        ("bad v2 version 1", v2_raw(0x10 | PROXY, TCP4, block4) + payload, False),
        ("bad v2 version 3", v2_raw(0x30 | PROXY, TCP4, block4) + payload, False),
        ("bad v2 command 2", v2_raw(0x20 | 0x2, TCP4, block4) + payload, False),
        ("bad v2 command 15", v2_raw(0x20 | 0xF, TCP4, block4) + payload, False),
        ("v2 length beyond the bytes sent, then EOF",
         v2_raw(0x20 | PROXY, TCP4, block4, length=len(block4) + 100), True),
        ("v2 address block shorter than TCP4's", v2_raw(0x20 | PROXY, TCP4, block4[:8]) + payload,
         False),
        ("v2 TLV overrunning the header",
         v2_raw(0x20 | PROXY, TCP4, block4 + bytes([PP2_TYPE_NOOP, 0, 10]) + b"ab") + payload, False),
        ("v2 TLV area ending inside a TLV's own header",
         v2_raw(0x20 | PROXY, TCP4, block4 + bytes([PP2_TYPE_NOOP, 0])) + payload, False),
        ("v1 over 107 bytes", v1_unknown(" " + "f" * 120) + payload, False),
        ("v1 IPv4 octet 256", b"PROXY TCP4 192.0.2.256 198.51.100.9 4242 443\r\n" + payload, False),
        ("v1 IPv4 heading zero", b"PROXY TCP4 192.0.2.07 198.51.100.9 4242 443\r\n" + payload, False),
        ("v1 IPv6 address in TCP4", b"PROXY TCP4 2001:db8::7 198.51.100.9 4242 443\r\n" + payload, False),
        ("v1 bad IPv6 address", b"PROXY TCP6 2001:db8::g 2001:db8::9 4242 443\r\n" + payload, False),
        ("v1 port 65536", b"PROXY TCP4 192.0.2.7 198.51.100.9 65536 443\r\n" + payload, False),
        ("v1 port with a heading zero", b"PROXY TCP4 192.0.2.7 198.51.100.9 04242 443\r\n" + payload,
         False),
        ("v1 two spaces", b"PROXY TCP4 192.0.2.7  198.51.100.9 4242 443\r\n" + payload, False),
        ("v1 unknown protocol", b"PROXY TCP5 192.0.2.7 198.51.100.9 4242 443\r\n" + payload, False),
        ("v1 LF without CR", good1[:-2] + b"\n" + payload, False),
        ("no header: plain data", payload, False),
    ]


class AcceptProxy(ProxyCase):

    def test_valid_headers_whole_and_byte_by_byte(self):
        """Every valid form, whole (stream bytes in the same segment) and
        byte by byte, through a frontend with send_proxy v1 and one with
        v2: the backend learns the header's addresses, or the real ones,
        then exactly the stream; the reply comes back."""
        back1, back2 = self.capture(), self.capture()
        front1, front2 = harness.free_addr(), harness.free_addr()
        mb = self.start(
            harness.frontend("web", front1, [("a", back1.addr)], accept_proxy="true", send_proxy="v1"),
            harness.frontend("web2", front2, [("a", back2.addr)], accept_proxy="true", send_proxy="v2"))
        port = 40000
        for i in range(len(valid_forms(0))):
            for frontend, front, back, version in (("web", front1, back1, 1), ("web2", front2, back2, 2)):
                for split in (False, True):
                    port += 1       # each client its own source port: its own log line
                    what, header, source, destination = valid_forms(port)[i]
                    with self.subTest(form=what, send_proxy=f"v{version}", split=split):
                        self.assertIsNotNone(parse(header), f"the test's own {what} header")
                        self.through(front, back, header, version, source, destination, split=split,
                                     frontend=frontend, mb=mb)
        back1.assert_no_connection()
        back2.assert_no_connection()

    def test_accepted_header_is_not_relayed_without_send_proxy(self):
        """accept_proxy alone: the backend gets the bytes after the header,
        and not a byte of the header."""
        back = self.capture()
        front = harness.free_addr()
        mb = self.start(harness.frontend("web", front, [("a", back.addr)], accept_proxy="true"))
        src, dst = ("192.0.2.7", 5555), ("198.51.100.9", 443)
        for header in (v1(src, dst), v2_with_crc32c(src, dst), v1_unknown(), v2_local()):
            for split in (False, True):
                with self.subTest(header=header, split=split):
                    self.through(front, back, header, None, split=split,
                                 source=src if parse(header).source else None, mb=mb)

    def test_malformed_headers_close_the_client_before_any_backend(self):
        """Each malformed header, whole and byte by byte: the client is
        closed (on the bytes, not after connect_timeout: 30 s here), the
        backend never sees a connection, the counter rises by one per
        client, one info line each names the client and a reason.  A good
        client is served afterwards and counts nothing."""
        back = self.capture()
        front = harness.free_addr()
        mb = self.start(harness.frontend("web", front, [("a", back.addr)], accept_proxy="true",
                                         send_proxy="v1", connect_timeout="30s"), stats=True)
        self.assertEqual(self.proxy_errors(), 0)
        names = {}
        for what, data, then_close in malformed_forms():
            for split in (False, True):
                with self.subTest(form=what, split=split):
                    # The test's own bytes, by the test's own reader.
                    if then_close:
                        self.assertIsNone(parse(data), f"{what}: not a header cut short")
                    else:
                        self.assertRaises(Invalid, parse, data)
                    # Closed within CLOSE_TIMEOUT (10 s): on the bytes, not the 30 s timer.
                    names[self.bad_client(front, data, split, then_close)] = (what, split)
        back.assert_no_connection()
        self.assert_proxy_errors(len(names))

        # The good client's own line comes after every bad client's line
        # (one thread writes the log, in order): all of those are in.
        good = ("192.0.2.99", 5000)
        self.through(front, back, v1(good, ("198.51.100.9", 443)), 1, good, ("198.51.100.9", 443),
                     mb=mb)
        self.assertEqual(back.accepted, 1, "connections to the backend: only the good client's")
        reasons = self.assert_one_line_each(mb, "web", names)
        sys.stderr.write("\n" + "".join(f"  {names[n][0]}{' (split)' if names[n][1] else ''}: "
                                        f"{reasons[n]}\n" for n in names))
        self.assert_proxy_errors(len(names))

    def test_partial_late_or_missing_header_is_closed_after_connect_timeout(self):
        """connect_timeout = 500 ms: half a v1 header then silence, half a
        v2 header then silence, nothing at all, and a header trickling in
        slower than that: each closed after about 500 ms (not at once),
        never connected to a backend, counted, logged once with a reason."""
        back = self.capture()
        front = harness.free_addr()
        mb = self.start(harness.frontend("web", front, [("a", back.addr)], accept_proxy="true",
                                         connect_timeout="500ms"), stats=True)
        header = v1(("192.0.2.7", 4242), ("198.51.100.9", 443))
        names = []
        for what, partial in (("half a v1 header", header[:20]),
                              ("half a v2 header", v2(("192.0.2.7", 4242), ("198.51.100.9", 443))[:14]),
                              ("nothing", b"")):
            with self.subTest(what=what):
                started = time.monotonic()
                names.append(self.bad_client(front, partial))
                took = time.monotonic() - started
                self.assertGreaterEqual(took, LATE - 0.1, f"{what}: closed after {took:.2f} s")
                self.assertLess(took, LATE + LATE_MARGIN, f"{what}: closed after {took:.2f} s")

        # One byte every 50 ms: the whole header would take 2.8 s.
        c = self.client(front, source=harness.random_loopback())
        names.append(name_of(*c.getsockname()[:2]))
        started = time.monotonic()
        closed = None
        for i in range(len(header)):
            try:
                harness.send_all(c, header[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - started
                break
            readable, _, _ = select.select([c], [], [], 0.05)
            if readable:
                self.assertIn(harness.wait_closed(c, 0.1), ("eof", "reset"))
                closed = time.monotonic() - started
                break
        self.assertIsNotNone(closed, "the trickling header was not cut off: it completed")
        self.assertGreaterEqual(closed, LATE - 0.1, f"the trickling header: closed after {closed:.2f} s")
        self.assertLess(closed, LATE + LATE_MARGIN, f"the trickling header: closed after {closed:.2f} s")
        c.close()

        self.assert_proxy_errors(len(names))
        back.assert_no_connection()
        # A good client, so that every bad client's line is in the log.
        self.through(front, back, header, None, source=("192.0.2.7", 4242), mb=mb)
        reasons = self.assert_one_line_each(mb, "web", names)
        sys.stderr.write("\n" + "".join(f"  {r}\n" for r in reasons.values()))
        self.assertEqual(back.accepted, 1)

    def test_source_hash_uses_the_header_source(self):
        """balance = source-hash: each of 50 header sources (v1 and v2,
        IPv4 and IPv6) lands on the same backend from any real address;
        together they use more than one backend."""
        backends = [self.ident_backend(n) for n in ("a", "b", "c")]
        front = harness.free_addr()
        self.start(harness.frontend("web", front, [(b.name, b.addr) for b in backends],
                                    accept_proxy="true", balance="source-hash"))
        dst4, dst6 = ("198.51.100.9", 443), ("2001:db8::9", 443)
        sources = [f"10.{i}.{7 * i % 256}.{1 + i}" for i in range(40)]
        sources += [f"2001:db8:{i:x}::{i + 1:x}" for i in range(10)]

        def who(source, build, real):
            dst = dst6 if ":" in source else dst4
            c = self.client(front, source=real)
            harness.send_all(c, build((source, random.randint(1024, 65535)), dst))
            name = harness.recv_line(c)
            c.close()
            return name

        where = {}
        for src in sources:
            seen = {who(src, build, harness.random_loopback()) for build in (v1, v2, v1)}
            self.assertEqual(len(seen), 1, f"header source {src} went to {seen}")
            where[src] = seen.pop()
        self.assertGreater(len(set(where.values())), 1,
                           f"all 50 header sources on one backend: {where}")


class SendProxy(ProxyCase):

    def real_client(self, front, back, version):
        """A client of FRONT sending at once: BACK's connection begins with
        a VERSION header of the client's address (as its socket says) and
        FRONT's, then the client's bytes; the reply comes back."""
        c = self.client(front)
        payload = os.urandom(2000)
        harness.send_all(c, payload)            # before the daemon has any backend
        b = back.accept()
        if version is None:
            self.assertIsNone(difference(b.data(len(payload)), payload),
                              "no header: the client's bytes first")
        else:
            h = b.header()
            self.assertEqual((h.version, h.command), (version, "PROXY"), f"{b.received[:120]!r}")
            self.assertEqual(h.source, addr(*c.getsockname()[:2]), "the source: the client")
            self.assertEqual(h.destination, addr(*c.getpeername()[:2]), "the destination: the frontend")
            self.assertIsNone(difference(b.data(len(payload)), payload),
                              "the client's bytes after the header")
        b.send(b"pong")
        self.assertEqual(harness.recv_exact(c, 4), b"pong")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(b.rest(), b"", "nothing more than the header and the client's bytes")
        b.close()
        self.assertEqual(harness.recv_until_eof(c), b"")
        c.close()

    def test_send_proxy_v1_v2_none_carry_the_real_client(self):
        """Frontend send_proxy = v1 is the default; backends: b1 inherits
        it, b2 says v2, b3 says none (round-robin: clients 1, 2, 3)."""
        b1, b2, b3 = self.capture(), self.capture(), self.capture()
        front = harness.free_addr()
        self.start(harness.frontend("web", front, [("b1", b1.addr), ("b2", b2.addr, "send_proxy = v2"),
                                                   ("b3", b3.addr, "send_proxy = none")],
                                    send_proxy="v1"))
        for back, version in ((b1, 1), (b2, 2), (b3, None), (b1, 1), (b2, 2), (b3, None)):
            with self.subTest(version=version):
                self.real_client(front, back, version)

    def test_send_proxy_over_ipv6(self):
        """A frontend on [::1]: TCP6 headers of ::1 and the frontend's port."""
        harness.require_ipv6()
        b1, b2 = self.capture(), self.capture()
        front = harness.free_addr(socket.AF_INET6)
        self.start(harness.frontend("web", front, [("b1", b1.addr, "send_proxy = v1"),
                                                   ("b2", b2.addr, "send_proxy = v2")]))
        self.real_client(front, b1, 1)
        self.real_client(front, b2, 2)

    def test_send_proxy_after_failover(self):
        """The first backend in the plan refuses (nothing listens): the
        second gets the header first, though the client's bytes came
        before it was connected to."""
        live1, live2 = self.capture(), self.capture()
        front1, front2 = harness.free_addr(), harness.free_addr()
        self.start(harness.frontend("web", front1, [("dead", harness.free_addr()), ("live", live1.addr)],
                                    send_proxy="v1"),
                   harness.frontend("web2", front2, [("dead", harness.free_addr()), ("live", live2.addr)],
                                    send_proxy="v2"))
        for version, front, live in ((1, front1, live1), (2, front2, live2)):
            with self.subTest(send_proxy=f"v{version}"):
                self.real_client(front, live, version)      # round-robin: dead first, then live
                self.real_client(front, live, version)      # live first


class HealthChecks(ProxyCase):

    def test_checks_of_send_proxy_backends_begin_with_unknown_or_local(self):
        """send = "PING\\r\\n": a v1 backend's checks are exactly
        "PROXY UNKNOWN\\r\\n" then PING, a v2 backend's a v2 LOCAL header
        then PING, a backend without send_proxy gets PING alone."""
        b1, b2, plain = CheckRecorder("b1"), CheckRecorder("b2"), CheckRecorder("plain")
        for b in (b1, b2, plain):
            self._own(b)
        front = harness.free_addr()
        section = harness.frontend("web", front, [("b1", b1.addr, "send_proxy = v1"),
                                                  ("b2", b2.addr, "send_proxy = v2"),
                                                  ("plain", plain.addr)])
        check = ('  health_check {\n    interval = 100ms\n    timeout = 1s\n'
                 '    send = "PING\\r\\n"\n    expect = "PONG"\n  }\n')
        self.start(section.replace("\n", "\n" + check, 1))
        harness.wait_for(lambda: all(len(b.recorded()) >= 3 for b in (b1, b2, plain)), 10.0 * SLOW,
                         "three checks of each backend")
        for check_bytes in b1.recorded():
            self.assertEqual(check_bytes, b"PROXY UNKNOWN\r\nPING\r\n", "a check of the v1 backend")
        for check_bytes in b2.recorded():
            h = parse(check_bytes)
            self.assertIsNotNone(h, f"a check of the v2 backend: {check_bytes!r}")
            self.assertEqual((h.version, h.command), (2, "LOCAL"), f"{check_bytes!r}")
            self.assertEqual(check_bytes[h.length:], b"PING\r\n", "after the v2 header")
        for check_bytes in plain.recorded():
            self.assertEqual(check_bytes, b"PING\r\n", "a check of the backend without send_proxy")


HAPROXY_HEAD = """\
global
    nbthread 1
    log stdout format raw local0

defaults
    mode tcp
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""


@unittest.skipUnless(HAPROXY, HAPROXY_MISSING)
class HAProxyInterop(ProxyCase):
    """A real HAProxy (Debian 12: 2.6) on either side of the daemon."""

    def haproxy(self, body, listeners):
        """Runs haproxy -db on HAPROXY_HEAD + BODY (checked with -c first)
        until the test ends; returns once every address of LISTENERS listens."""
        path = os.path.join(self.tmpdir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(HAPROXY_HEAD + body)
        try:
            r = subprocess.run([HAPROXY, "-c", "-f", path], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("haproxy -c still running after 30 s")
        self.assertEqual(r.returncode, 0, f"haproxy -c -f {path}:\n{r.stdout.decode()}{r.stderr.decode()}")
        self.haproxy_log = os.path.join(self.tmpdir, "haproxy.log")
        proc = harness.spawn([HAPROXY, "-db", "-f", path], self.haproxy_log, cwd=self.tmpdir)
        self.addCleanup(harness.stop_process, proc)

        def up():
            if proc.poll() is not None:
                raise AssertionError(f"haproxy exited with status {proc.returncode}:\n"
                                     f"{tail(self.haproxy_log)}")
            return all(listening(a) for a in listeners)
        harness.wait_for(up, 10.0 * SLOW, f"haproxy to listen on {', '.join(map(str, listeners))}")
        return proc

    def test_haproxy_send_proxy_into_accept_proxy(self):
        """client -> HAProxy (send-proxy, send-proxy-v2, send-proxy-v2 with
        the CRC32C and UNIQUE_ID TLVs) -> accept_proxy, send_proxy v1 ->
        backend: the backend learns the client's address and port as the
        client's socket has them, and HAProxy's address as destination."""
        back = self.capture()
        front = harness.free_addr()
        mb = self.start(harness.frontend("web", front, [("a", back.addr)], accept_proxy="true",
                                         send_proxy="v1"))
        options = ["send-proxy", "send-proxy-v2", "send-proxy-v2 proxy-v2-options crc32c,unique-id"]
        binds = [harness.free_addr() for _ in options]
        body = "".join(f"\nlisten hp{i}\n    bind {bind}\n    server s1 {front} {option}\n"
                       f"    unique-id-format %{{+X}}o\\ %ci:%cp\n"
                       for i, (bind, option) in enumerate(zip(binds, options)))
        self.haproxy(body, binds)
        for bind, option in zip(binds, options):
            with self.subTest(haproxy=option):
                mark = mb.stderr_mark()
                c = self.client(bind)
                source = addr(*c.getsockname()[:2])
                harness.send_all(c, b"hello through haproxy")
                b = back.accept()
                h = b.header()
                self.assertEqual((h.version, h.command), (1, "PROXY"), f"{b.received[:120]!r}")
                self.assertEqual(h.source, source, "the client as its own socket sees itself")
                self.assertEqual(h.destination, addr(*c.getpeername()[:2]),
                                 "the destination HAProxy's header gave: its own address")
                self.assertEqual(b.data(len(b"hello through haproxy")), b"hello through haproxy")
                b.send(b"world")
                self.assertEqual(harness.recv_exact(c, 5), b"world")
                c.close()
                b.close()
                who = name_of(*source)
                mb.wait_log(rf"info: frontend web: {re.escape(who)}: serving connection$", since=mark)

    def test_send_proxy_into_haproxy_accept_proxy(self):
        """client -> send_proxy v1 / v2 -> HAProxy (bind ... accept-proxy,
        logging "%ci:%cp %fi:%fp") -> echo: HAProxy logs exactly the client's
        address and port, and the frontend's."""
        echo = self.echo_backend()
        hp = harness.free_addr()
        self.haproxy(f'\nlisten back\n    bind {hp} accept-proxy\n'
                     f'    log-format "seen %ci:%cp %fi:%fp"\n    server echo {echo.addr}\n', [hp])
        front1, front2 = harness.free_addr(), harness.free_addr()
        self.start(harness.frontend("web", front1, [("hp", hp)], send_proxy="v1"),
                   harness.frontend("web2", front2, [("hp", hp)], send_proxy="v2"))
        for version, front in ((1, front1), (2, front2)):
            with self.subTest(send_proxy=f"v{version}"):
                c = self.client(front)
                line = (f"seen {c.getsockname()[0]}:{c.getsockname()[1]} "
                        f"{c.getpeername()[0]}:{c.getpeername()[1]}")
                harness.send_all(c, b"ping")
                self.assertEqual(harness.recv_exact(c, 4), b"ping", "the echo through HAProxy")
                c.shutdown(socket.SHUT_WR)
                self.assertEqual(harness.recv_until_eof(c), b"")
                c.close()
                # HAProxy logs a TCP session when it ends.
                harness.wait_for(lambda: line in tail(self.haproxy_log).splitlines(),
                                 5.0 * SLOW, f"HAProxy's log line {line!r}; its log:\n"
                                             f"{tail(self.haproxy_log, 3000)}")


class ConfigErrors(ProxyCase):

    def text(self, backend_extra="", **options):
        return harness.config(harness.frontend(
            "web", harness.free_addr(), [("a", harness.free_addr(), backend_extra),
                                         ("b", harness.free_addr())], **options))

    def test_valid_options_pass_check(self):
        for text in (self.text(accept_proxy="true", send_proxy="v2"),
                     self.text("send_proxy = v1", accept_proxy="false", send_proxy="none"),
                     self.text("send_proxy = none", send_proxy="v1")):
            r = harness.run(["-t", "-c", self.write_conf(text)])
            self.assertEqual(r.returncode, 0, f"{text}\n{r}")
            self.assertIn("configuration OK", r.stdout, r)

    def test_bad_values_exit_78_naming_file_and_line(self):
        for needle, option, text in (
                ("send_proxy = v3", "send_proxy", self.text(send_proxy="v3")),
                ("send_proxy = v3", "send_proxy", self.text("send_proxy = v3")),
                ("accept_proxy = maybe", "accept_proxy", self.text(accept_proxy="maybe"))):
            path = self.write_conf(text)
            line = harness.line_of(text, needle)
            for args in (["-t", "-c", path], ["-c", path]):
                with self.subTest(value=needle, line=line, args=args[:-1]):
                    r = harness.run(args)
                    self.assertEqual(r.returncode, 78, r)
                    self.assertTrue(harness.config_error_line(r.stderr, path, line, option),
                                    f"no '{path}:{line}:' error naming {option}: {r}")
                    self.assertNotIn("READY=1", r.notifications, r)


if __name__ == "__main__":
    unittest.main(testRunner=harness.Runner)
