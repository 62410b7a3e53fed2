"""End-to-end test harness for mini-balancer (stdlib only, Python >= 3.11).

The tests start the real binary ($MB_BINARY) with a temporary configuration and
assert on sockets.  This module provides:

  * free loopback addresses (a random 127.x.y.z per call, so test scripts run in
    parallel do not race for the same port; ::1 for IPv6),
  * backend servers running in daemon threads of the test process,
  * the Daemon class: start, wait for READY=1 on our own NOTIFY_SOCKET, signal,
    stop, RSS; always killed and reaped in cleanup; reload() (SIGHUP framed
    by RELOADING=1 ... READY=1), wait_status() and wait_log() on what it says,
  * run(): run the binary to completion (-t, -V, configuration errors),
  * Admin: a client of the control socket (admin_socket), one command per
    line and one JSON answer per line, bounded; TestCase.admin_socket_path()
    gives a path short enough for a unix socket address,
  * spawn() and stop_process(): helper programs a test runs beside the daemon
    (a Prometheus server), killed at exit whatever happens,
  * ConnectionLoad: new connections one after another from a thread, each
    one recorded with its outcome and times (what fails while something
    is killed or moved),
  * a TestCase base class wiring all of it to unittest cleanups, and a test
    runner mapping skipped tests to exit status 77 (automake SKIP).

Rules kept throughout: every socket operation has a timeout, every loop is
bounded in iterations and in time, nothing sleeps as synchronisation.
"""

import asyncio
import atexit
import collections
import fcntl
import functools
import hashlib
import json
import os
import resource
import queue
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

EXIT_SKIP = 77

READY_TIMEOUT = 10.0   # start-up until READY=1
IO_TIMEOUT = 5.0       # one socket operation
CLOSE_TIMEOUT = 10.0   # waiting for the daemon to close a connection
EXIT_TIMEOUT = 10.0    # waiting for the daemon to exit
RELOAD_START_TIMEOUT = 3.0   # SIGHUP until RELOADING=1 (sent before the file is read)
RELOAD_TIMEOUT = 10.0        # RELOADING=1 until READY=1 (the reload applied or rejected)

# Opt-in memcheck: with MB_VALGRIND=1 every daemon (Daemon and run()) runs under
# valgrind, and a test fails if valgrind reports any error or any definitely or
# indirectly lost byte (see _valgrind_argv() and valgrind_findings()).  The
# daemon then starts, and stops after its leak check, several times slower.
VALGRIND = os.environ.get("MB_VALGRIND", "0") == "1"
VALGRIND_RESERVED_FDS = 12   # valgrind takes the top 12 of RLIMIT_NOFILE for itself


@functools.lru_cache(maxsize=None)
def sanitized():
    """True when the daemon under test is an AddressSanitizer build."""
    try:
        with open(binary(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def measures_memory():
    """Whether the daemon's RSS means anything: not under valgrind, whose own
    memory dominates, nor under ASan, whose quarantine keeps freed memory."""
    return not VALGRIND and not sanitized()
if VALGRIND:
    READY_TIMEOUT *= 6
    EXIT_TIMEOUT *= 6
    RELOAD_START_TIMEOUT *= 6
    RELOAD_TIMEOUT *= 6

_rng = random.SystemRandom()


# --------------------------------------------------------------------------
# Environment

def binary():
    """Absolute path of the daemon under test ($MB_BINARY)."""
    path = os.environ.get("MB_BINARY", "")
    if not path:
        raise AssertionError("MB_BINARY is not set (path of the mini-balancer binary)")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"MB_BINARY={path!r} is not an executable file")
    return path


def srcdir():
    """Top of the source tree ($MB_SRCDIR, else two levels above this file)."""
    return os.environ.get("MB_SRCDIR") or os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def have_systemd():
    return os.environ.get("MB_HAVE_SYSTEMD", "0") == "1"


def require_notify():
    """Skip (77) when the daemon cannot report readiness (built without libsystemd)."""
    if not have_systemd():
        raise unittest.SkipTest("daemon built without libsystemd (MB_HAVE_SYSTEMD != 1): "
                                "readiness cannot be observed")


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def require_ipv6():
    if not have_ipv6():
        raise unittest.SkipTest("cannot bind ::1 (no IPv6 loopback)")


# Processes still alive and temporary directories still present at interpreter
# exit (KeyboardInterrupt, an exception escaping unittest) are removed here;
# cleanups normally do it earlier.
_live_processes = set()
_temp_dirs = set()


@atexit.register
def _remove_leftovers():
    for proc in list(_live_processes):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
    _live_processes.clear()
    for d in list(_temp_dirs):
        shutil.rmtree(d, True)
    _temp_dirs.clear()


def make_temp_dir():
    d = tempfile.mkdtemp(prefix="mb-e2e-")
    _temp_dirs.add(d)
    return d


def remove_temp_dir(d):
    shutil.rmtree(d, True)
    _temp_dirs.discard(d)


def spawn(argv, log_path, cwd=None, env=None):
    """Start a helper program (not the daemon under test: a Prometheus server,
    say) with stdout and stderr appended to LOG_PATH.  It is killed at
    interpreter exit if no cleanup has stopped it first (stop_process)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=cwd, env=env, close_fds=True)
    _live_processes.add(proc)
    return proc


def stop_process(proc, timeout=EXIT_TIMEOUT):
    """Stop a process started with spawn(): SIGTERM, at most TIMEOUT seconds
    for it to exit, then SIGKILL; reaped either way.  Returns its exit status
    (None if even SIGKILL did not end it within 5 s)."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
    _live_processes.discard(proc)
    return proc.returncode


def _terminate_handler(signum, frame):
    # Turn a SIGTERM from a test driver into an exception so that atexit runs.
    raise KeyboardInterrupt(f"signal {signum}")


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _terminate_handler)


# --------------------------------------------------------------------------
# Addresses

class Addr:
    """A host and port; str() gives the configuration form ("h:p" or "[h]:p")."""

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET

    @property
    def sockaddr(self):
        return (self.host, self.port)

    def __str__(self):
        if self.family == socket.AF_INET6:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def __repr__(self):
        return f"Addr({str(self)!r})"


def random_loopback():
    """A random IPv4 loopback address 127.x.y.z, avoiding .0 and .255."""
    return "127.{}.{}.{}".format(*(_rng.randint(1, 254) for _ in range(3)))


def free_addr(family=socket.AF_INET, host=None):
    """An address with nothing listening on it: bind port 0, note the port, close.

    IPv4 uses a fresh random 127.x.y.z so parallel test scripts do not compete
    for the same address; IPv6 uses ::1.
    """
    if host is None:
        host = "::1" if family == socket.AF_INET6 else random_loopback()
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return Addr(host, port)


# --------------------------------------------------------------------------
# Socket helpers: each one bounded in time and size; failures raise
# AssertionError so unittest reports them as test failures.

def connect(addr, timeout=IO_TIMEOUT, sndbuf=None, rcvbuf=None):
    s = socket.socket(addr.family, socket.SOCK_STREAM)
    try:
        if sndbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(addr.sockaddr)
    except BaseException:
        s.close()
        raise
    return s


def close_quietly(s):
    try:
        s.close()
    except OSError:
        pass


def reset(s):
    """Abort a connection: SO_LINGER {1, 0} then close sends RST."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def recv_line(s, timeout=IO_TIMEOUT, limit=4096):
    """Read up to and excluding the first newline."""
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or len(buf) > limit:
            raise AssertionError(f"no complete line within {timeout}s (got {buf[:80]!r})")
        s.settimeout(left)
        try:
            data = s.recv(limit)
        except socket.timeout:
            raise AssertionError(f"no complete line within {timeout}s (got {buf[:80]!r})") from None
        except ConnectionResetError:
            raise AssertionError(f"connection reset before a complete line (got {buf[:80]!r})") from None
        if not data:
            raise AssertionError(f"connection closed before a complete line (got {buf[:80]!r})")
        buf += data
    line, _, rest = buf.partition(b"\n")
    if rest:
        raise AssertionError(f"unexpected bytes after the line: {rest[:80]!r}")
    return line.decode()


def recv_exact(s, n, timeout=IO_TIMEOUT):
    deadline = time.monotonic() + timeout
    chunks, got = [], 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"received {got} of {n} bytes within {timeout}s")
        s.settimeout(left)
        try:
            data = s.recv(min(n - got, 1 << 20))
        except socket.timeout:
            raise AssertionError(f"received {got} of {n} bytes within {timeout}s") from None
        except ConnectionResetError:
            raise AssertionError(f"connection reset after {got} of {n} bytes") from None
        if not data:
            raise AssertionError(f"connection closed after {got} of {n} bytes")
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def recv_until_eof(s, timeout=IO_TIMEOUT, limit=1 << 30):
    """Everything until an orderly EOF (a reset is a failure)."""
    deadline = time.monotonic() + timeout
    chunks, got = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no EOF within {timeout}s (received {got} bytes)")
        s.settimeout(left)
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            raise AssertionError(f"no EOF within {timeout}s (received {got} bytes)") from None
        except ConnectionResetError:
            raise AssertionError(f"connection reset instead of EOF after {got} bytes") from None
        if not data:
            return b"".join(chunks)
        got += len(data)
        if got > limit:
            raise AssertionError(f"more than {limit} bytes before EOF")
        chunks.append(data)


def wait_closed(s, timeout=CLOSE_TIMEOUT):
    """Wait until the peer closes: returns "eof" or "reset".  Data or a timeout fail."""
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
    except socket.timeout:
        raise AssertionError(f"connection still open after {timeout}s") from None
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    if data:
        raise AssertionError(f"expected the connection to close, received {data[:80]!r}")
    return "eof"


def send_all(s, data, timeout=IO_TIMEOUT):
    s.settimeout(timeout)          # sendall: total time limit since Python 3.5
    try:
        s.sendall(data)
    except socket.timeout:
        raise AssertionError(f"could not send {len(data)} bytes within {timeout}s") from None


class Worker(threading.Thread):
    """A daemon thread whose exception is re-raised by join()."""

    def __init__(self, target, *args, name=None):
        super().__init__(daemon=True, name=name)
        self._fn = target
        self._fn_args = args
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self._fn(*self._fn_args)
        except BaseException as e:    # noqa: B902 - reported by join()
            self.error = e

    def join(self, timeout=None):
        super().join(timeout)
        if self.is_alive():
            raise AssertionError(f"thread {self.name} still running after {timeout}s")
        if self.error is not None:
            raise self.error
        return self.result


def transfer(s, payload, timeout=60.0):
    """Send payload (then SHUT_WR) from a thread while reading until EOF here.

    Returns what was received.  Both directions move at the same time.
    """
    def send():
        send_all(s, payload, timeout)
        s.shutdown(socket.SHUT_WR)

    sender = Worker(send, name="transfer-send")
    sender.start()
    try:
        received = recv_until_eof(s, timeout)
    finally:
        sender.join(timeout)
    return received


Attempt = collections.namedtuple("Attempt", "client start end ok answer error")


class ConnectionLoad:
    """New connections one after another from a thread, PACE seconds apart,
    until stop(): CONNECT(client) makes one for each of CLIENTS in turn and
    returns what it learnt (the answer), or raises OSError or AssertionError
    (a failed connection).  Each one is recorded as an Attempt, its start
    and end on the monotonic clock."""

    LIMIT = 1 << 20

    def __init__(self, connect, clients, pace=0.005):
        self._connect = connect
        self._clients = list(clients)
        self._pace = pace
        self._attempts = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._worker = Worker(self._run, name="connection-load")

    def _run(self):
        for i in range(self.LIMIT):
            if self._stop.is_set():
                return
            client = self._clients[i % len(self._clients)]
            start = time.monotonic()
            try:
                answer = self._connect(client)
                attempt = Attempt(client, start, time.monotonic(), True, answer, None)
            except (OSError, AssertionError) as e:
                attempt = Attempt(client, start, time.monotonic(), False, None, repr(e))
            with self._lock:
                self._attempts.append(attempt)
            self._stop.wait(self._pace)

    def start(self):
        self._worker.start()
        return self

    def stop(self, timeout=IO_TIMEOUT):
        """End the thread (waiting at most TIMEOUT for the connection under
        way); returns every Attempt."""
        self._stop.set()
        self._worker.join(timeout)
        return self.attempts()

    def attempts(self):
        with self._lock:
            return list(self._attempts)

    def count(self, predicate):
        with self._lock:
            return sum(1 for a in self._attempts if predicate(a))


def phases(attempts, event, settled):
    """ATTEMPTS split around an EVENT (a kill, say) and the moment SETTLED
    after it: (ended before the event, overlapping the two moments, started
    once settled, the failed ones of all)."""
    before = [a for a in attempts if a.end < event]
    between = [a for a in attempts if a.end >= event and a.start < settled]
    after = [a for a in attempts if a.start >= settled]
    return before, between, after, [a for a in attempts if not a.ok]


def assert_edges_clean(test, before, after, event, settled):
    """No attempt failed before the EVENT nor once SETTLED (phases())."""
    test.assertEqual([a for a in before if not a.ok], [], f"failures before {event}")
    test.assertEqual([a for a in after if not a.ok], [], f"failures after {settled}")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------
# Backends: TCP servers in daemon threads.  close() wakes and ends every thread.

class Backend:
    """Listens on addr (default: a fresh 127.x.y.z) and runs handler(conn) per
    accepted connection in its own daemon thread.  `accepted` counts connections."""

    def __init__(self, handler, addr=None, family=socket.AF_INET, rcvbuf=None, name="backend"):
        self.name = name
        self._handler = handler
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._conns = []
        self._threads = []
        self.accepted = 0
        host = addr.host if addr else ("::1" if family == socket.AF_INET6 else random_loopback())
        port = addr.port if addr else 0
        self._listener = socket.socket(Addr(host, 0).family, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if rcvbuf is not None:   # inherited by accepted sockets
                self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self._listener.bind((host, port))
            self._listener.listen(128)
            self._listener.settimeout(0.1)
        except BaseException:
            self._listener.close()
            raise
        self.addr = Addr(host, self._listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"{name}-accept")
        self._acceptor.start()

    def _accept_loop(self):
        for _ in range(1 << 22):            # 0.1 s accept timeouts: days, not forever
            if self._closing.is_set():
                return
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(60)
            with self._lock:
                if self._closing.is_set():
                    conn.close()
                    return
                self.accepted += 1
                self._conns.append(conn)
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                     name=f"{self.name}-conn{self.accepted}")
                self._threads.append(t)
            t.start()

    def _serve(self, conn):
        try:
            self._handler(conn)
        except OSError:
            pass            # peer reset, or the harness closed the socket

    def close(self):
        self._closing.set()
        self._acceptor.join(2)
        self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)   # wakes a thread blocked on it
            except OSError:
                pass
            close_quietly(c)
        for t in threads:
            t.join(2)


def _echo(conn):
    """Echo until EOF, then SHUT_WR: supports half-close."""
    for _ in range(1 << 24):
        data = conn.recv(65536)
        if not data:
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(data)


def echo_handler(conn):
    _echo(conn)


def ident_handler(name):
    """Sends name + "\\n" on accept, then echoes."""
    def handler(conn):
        conn.sendall(name.encode() + b"\n")
        _echo(conn)
    return handler


def ident_peer_handler(name):
    """Sends name, a space, the peer's address and "\\n" on accept, then
    echoes: which backend a client reached, and which balancer relayed it."""
    def handler(conn):
        conn.sendall(f"{name} {conn.getpeername()[0]}\n".encode())
        _echo(conn)
    return handler


def reset_handler(conn):
    """Aborts each connection as soon as it is accepted (RST)."""
    reset(conn)


class StreamBackend(Backend):
    """Per connection: sends `payload` then SHUT_WR, and at the same time reads
    until EOF.  `results` gets (sha256 of what was received, its length)."""

    def __init__(self, payload, **kw):
        self.payload = payload
        self.results = queue.Queue()
        super().__init__(self._handle, name="stream", **kw)

    def _handle(self, conn):
        def send():
            conn.sendall(self.payload)
            conn.shutdown(socket.SHUT_WR)
        sender = Worker(send, name="stream-send")
        sender.start()
        h, n = hashlib.sha256(), 0
        for _ in range(1 << 24):
            data = conn.recv(1 << 20)
            if not data:
                break
            h.update(data)
            n += len(data)
        try:
            sender.join(60)
        except BaseException as e:  # noqa: B902
            self.results.put(e)
            return
        self.results.put((h.hexdigest(), n))

    def result(self, timeout=60.0):
        try:
            r = self.results.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"stream backend: no finished session within {timeout}s") from None
        if isinstance(r, BaseException):
            raise AssertionError(f"stream backend failed: {r!r}")
        return r


class ControlledBackend(Backend):
    """Hands each accepted connection to the test (accept()), which drives it:
    reads, writes, resets, or never reads (a sink)."""

    def __init__(self, **kw):
        self._queue = queue.Queue()
        super().__init__(self._queue.put, name="controlled", **kw)

    def accept(self, timeout=IO_TIMEOUT):
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"backend {self.addr}: no connection within {timeout}s") from None

    def assert_no_connection(self):
        if not self._queue.empty():
            raise AssertionError(f"backend {self.addr} got an unexpected connection")


class HangingBackend:
    """An address where connect() neither completes nor fails: a listener with
    listen(0) whose accept queue the harness fills with its own never-accepted
    connections; Linux then drops further SYNs.  The constructor verifies that
    a probe connect stays pending for 0.3 s and skips the test otherwise."""

    PROBE = 0.3

    def __init__(self):
        self._fillers = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.bind((random_loopback(), 0))
            self._listener.listen(0)
            self.addr = Addr(*self._listener.getsockname())
            for _ in range(16):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(self.addr.sockaddr)
                _, writable, _ = select.select([], [s], [], self.PROBE)
                if not writable:
                    s.close()       # this one hangs: the queue is full
                    return
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    s.close()
                    break
                self._fillers.append(s)
        except BaseException:
            self.close()
            raise
        self.close()
        raise unittest.SkipTest("kernel completes or refuses connects to a full listen queue; "
                                "cannot build a hanging backend")

    def close(self):
        for s in self._fillers:
            close_quietly(s)
        self._fillers = []
        close_quietly(self._listener)


# --------------------------------------------------------------------------
# Configuration text

def frontend(title, bind, backends, **options):
    """A libconfuse frontend section.  backends: [(title, address)] or
    [(title, address, "more backend options")]; options are written verbatim
    (connect_timeout="500ms")."""
    lines = [f"frontend {title} {{", f'  bind_on = "{bind}"']
    lines += [f"  {k} = {v}" for k, v in options.items()]
    for t, a, *more in backends:
        extra = f" {more[0]}" if more and more[0] else ""
        lines.append(f'  backend {t} {{ forward_to = "{a}"{extra} }}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def line_of(text, needle):
    """1-based number of the first line of TEXT holding NEEDLE."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise ValueError(f"{needle!r} not in the test configuration")


def config(*frontends, **options):
    """A whole configuration: global options (shutdown_timeout="1s") then sections.
    max_connections is 1000 unless given: a 20000-descriptor limit (a shell's)
    holds that many sessions, where the daemon warns at start-up that it
    cannot hold the default 10000."""
    options.setdefault("max_connections", 1000)
    # MB_TEST_WORKERS=N runs the suite with workers = N wherever a test does
    # not choose (.ci/run runs it with 1 and with 4 as well as the default).
    if os.environ.get("MB_TEST_WORKERS"):
        options.setdefault("workers", os.environ["MB_TEST_WORKERS"])
    head = "".join(f"{k} = {v}\n" for k, v in options.items())
    return head + "\n" + "\n".join(frontends)


# --------------------------------------------------------------------------
# The daemon

def _tail(path, limit=20000):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace")


class _Notify:
    """Our own NOTIFY_SOCKET: an AF_UNIX datagram socket bound to a temp path."""

    def __init__(self, directory):
        self._own_dir = None
        self.path = os.path.join(directory, "notify.sock")
        if len(os.fsencode(self.path)) > 100:      # sun_path holds 108 bytes
            self._own_dir = tempfile.mkdtemp(prefix="mb-e2e-", dir="/tmp")
            _temp_dirs.add(self._own_dir)
            self.path = os.path.join(self._own_dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        # Like systemd's: a daemon that has dropped privileges still reaches it.
        os.chmod(self.path, 0o777)
        self.lines = []
        self.datagrams = []     # the same, one list of lines per datagram

    def poll(self, timeout):
        """Receive pending datagrams (waiting at most timeout); True if any came."""
        got = False
        for _ in range(1000):
            r, _, _ = select.select([self.sock], [], [], timeout if not got else 0)
            if not r:
                return got
            data = self.sock.recv(65536)
            lines = data.decode(errors="replace").split("\n")
            self.lines.extend(lines)
            self.datagrams.append(lines)
            got = True
        return got

    def close(self):
        close_quietly(self.sock)
        if self._own_dir:
            remove_temp_dir(self._own_dir)


VALGRIND_MARKERS = ("VALGRIND-ERROR-BEGIN", "VALGRIND-ERROR-END")


def _valgrind_argv(directory):
    """The memcheck prefix for the daemon's command line ([] unless MB_VALGRIND=1).

    Leaks count as errors only when definitely or indirectly lost: "possibly
    lost" and "still reachable" are GLib's one-time allocations (type system,
    quarks, the main context) that live until exit by design."""
    if not VALGRIND:
        return []
    argv = ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
            "--error-markers=" + ",".join(VALGRIND_MARKERS), "--num-callers=30",
            "--log-file=" + os.path.join(directory, "valgrind-%p.log")]
    supp = os.path.join(srcdir(), "tests", "e2e", "valgrind.supp")
    if os.path.exists(supp):
        argv.append("--suppressions=" + supp)
    return argv


def _valgrind_env():
    """GLib's documented settings for memcheck: G_SLICE=always-malloc makes
    g_slice (a magazine allocator up to GLib 2.74) use malloc, so that a leaked
    slice is seen as a leak; G_DEBUG=gc-friendly clears freed GLib memory, so
    that stale pointers do not hide a leak."""
    return {"G_SLICE": "always-malloc", "G_DEBUG": "gc-friendly"} if VALGRIND else {}


def valgrind_findings(directory, pid):
    """None if valgrind's log for PID is clean, else a message quoting it.

    Copies the log to $MB_VALGRIND_LOGDIR when set (CI summarises them)."""
    path = os.path.join(directory, f"valgrind-{pid}.log")
    text = _tail(path, 1 << 22)
    if not text:
        return f"valgrind wrote no log at {path}"
    logdir = os.environ.get("MB_VALGRIND_LOGDIR")
    if logdir:
        os.makedirs(logdir, exist_ok=True)
        shutil.copy(path, os.path.join(logdir, f"valgrind-{pid}-{int(time.time() * 1e6)}.log"))
    errors = text.count(VALGRIND_MARKERS[0])
    lost = [int(n.replace(",", "")) for n in
            re.findall(r"(?:definitely|indirectly) lost: ([\d,]+) bytes", text)]
    if errors == 0 and sum(lost) == 0:
        return None
    return (f"valgrind: {errors} error(s), {sum(lost)} byte(s) definitely or indirectly "
            f"lost; log:\n{text}")



# --------------------------------------------------------------------------
# Waiting on the daemon's state

def wait_for(predicate, timeout, what):
    """Poll PREDICATE until true; fail after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


async def until(predicate, timeout, what):
    """Await PREDICATE on state that an asyncio event loop changes (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


def accept_queue(mb, addr):
    """Connections waiting in the daemon's listen backlog on ADDR, an IPv4
    address (the rx_queue of its LISTEN line in /proc/PID/net/tcp)."""
    host = "".join(f"{int(part):02X}" for part in reversed(addr.host.split(".")))
    local = f"{host}:{addr.port:04X}"
    with open(f"/proc/{mb.proc.pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"no listening socket on {addr}")


def listener_inode(mb, addr):
    """The inode of the daemon's listening socket on ADDR, an IPv4 address
    (its LISTEN line in /proc/PID/net/tcp), or None when nothing listens
    there: the same inode before and after a reload means the same socket."""
    host = "".join(f"{int(part):02X}" for part in reversed(addr.host.split(".")))
    local = f"{host}:{addr.port:04X}"
    with open(f"/proc/{mb.proc.pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":
                return fields[9]
    return None


def open_files(mb):
    """What the daemon's descriptors point to, as a multiset.  Compared with
    a baseline rather than counted: sd_notify() may still hold the socket it
    sent READY=1 on when the test reads it."""
    fd_dir = f"/proc/{mb.proc.pid}/fd"
    targets = collections.Counter()
    for fd in os.listdir(fd_dir):
        try:
            targets[os.readlink(f"{fd_dir}/{fd}")] += 1
        except FileNotFoundError:
            pass
    return targets


def wait_fds_back(mb, baseline, timeout=15.0):
    """Wait until every descriptor opened since BASELINE is closed."""
    try:
        wait_for(lambda: not open_files(mb) - baseline, timeout,
                 "every descriptor opened since the baseline to be closed")
    except AssertionError as e:
        extra = dict(open_files(mb) - baseline)
        raise AssertionError(f"{e}; {sum(extra.values())} still open: "
                             f"{dict(list(extra.items())[:10])}") from None


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


# One line of the daemon's log on stderr: "YYYY-MM-DD HH:MM:SS.mmm level: message".
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) "
                      r"(error|critical|warning|notice|info|debug): (.*)$")
RELOAD_OK = "; last reload ok"
RELOAD_FAILED = re.compile(r"; last reload failed: (\d+) error(?:s|\(s\))?$")

Reload = collections.namedtuple("Reload", "sent ready status log_mark")
Reload.__doc__ = """One reload seen by Daemon.reload(): time.monotonic() when SIGHUP
was sent and when READY=1 was received (the reload window), the STATUS=
text that came with READY=1, and the size of stderr before SIGHUP (what
the reload logged is in stderr_since(log_mark))."""


class Daemon:
    """One mini-balancer process under test.

    Writes `config` (str or bytes) to <directory>/<filename>; start() runs
    `MB_BINARY <args> -c FILE` with our NOTIFY_SOCKET, stderr to a file, and
    waits for READY=1.  Killed and reaped in the test's cleanup whatever happens.

    stderr_pipe=True gives the daemon a pipe as stderr instead, which nobody
    reads until read_stderr() starts copying it into the same file (stderr()
    then sees it); the cleanup starts it too, so that a daemon blocked on a
    full pipe can still exit.

    prefix: argv run before the daemon's own, which must exec it so that
    the daemon keeps the process id (`ip netns exec NS`, netns.exec_argv()).
    """

    _count = 0

    def __init__(self, test, config_text, filename="mini-balancer.conf", args=("-v",),
                 directory=None, nofile=None, inherit=(), stderr_pipe=False, prefix=()):
        self.test = test
        self.dir = directory or test.tmpdir
        self.config_path = os.path.join(self.dir, filename)
        mode = "wb" if isinstance(config_text, bytes) else "w"
        with open(self.config_path, mode) as f:
            f.write(config_text)
        self.args = list(args)
        self.nofile = nofile      # RLIMIT_NOFILE (soft and hard) for the daemon
        self.inherit = list(inherit)  # [(socket, name)] passed as systemd would (fd 3, 4, ...)
        self.stderr_pipe = stderr_pipe
        self.prefix = list(prefix)
        self._pipe_read = None        # our end of the stderr pipe
        self._pipe_reader = None      # the thread copying it to stderr_path, once started
        self.proc = None
        self.notify = None
        self.returncode = None
        self.reloads = []             # Reload, one per reload() call
        Daemon._count += 1
        self.stderr_path = os.path.join(self.dir, f"daemon{Daemon._count}.stderr")
        self.stdout_path = os.path.join(self.dir, f"daemon{Daemon._count}.stdout")

    @property
    def pid(self):
        return self.proc.pid

    def start(self, ready_timeout=READY_TIMEOUT):
        self.launch()
        self.wait_notify("READY=1", ready_timeout)
        return self

    def launch(self):
        """Start the process without waiting for readiness."""
        require_notify()
        argv = [*self.prefix, *_valgrind_argv(self.dir), binary(), *self.args, "-c",
                self.config_path]
        self.notify = _Notify(self.dir)
        env = dict(os.environ, **_valgrind_env())
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify.path
        limit = self.nofile
        if limit is not None and VALGRIND:
            # So that the daemon itself still sees `nofile` descriptors.
            limit += VALGRIND_RESERVED_FDS
        sources = [s.fileno() for s, _ in self.inherit]
        pass_fds = ()
        if sources:
            # Socket activation as systemd does it: the sockets at fd 3, 4, ...
            # and LISTEN_PID naming the daemon itself (the shell execs it).
            env["LISTEN_FDS"] = str(len(sources))
            env["LISTEN_FDNAMES"] = ":".join(name for _, name in self.inherit)
            argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', *argv]
            pass_fds = tuple(range(3, 3 + len(sources)))

        def preexec():
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            # Runs in the child before the other descriptors are closed.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in sources]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)
                os.close(fd)
        pipe_write = None
        if self.stderr_pipe:
            self._pipe_read, pipe_write = os.pipe()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            try:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=err if pipe_write is None else pipe_write,
                                             env=env, cwd=self.dir, close_fds=True,
                                             pass_fds=pass_fds, preexec_fn=preexec)
            finally:
                if pipe_write is not None:
                    os.close(pipe_write)     # the daemon holds the only writing end
        _live_processes.add(self.proc)
        self.test.addCleanup(self._cleanup)
        return self

    def stderr(self, limit=1 << 20):
        return _tail(self.stderr_path, limit)

    def stderr_pipe_size(self):
        """The capacity of the stderr pipe (stderr_pipe=True), in bytes."""
        return fcntl.fcntl(self._pipe_read, fcntl.F_GETPIPE_SZ)

    def read_stderr(self):
        """Start copying the stderr pipe (stderr_pipe=True) into stderr_path, in
        a thread, until the daemon closes it.  Idempotent."""
        if self._pipe_read is None or self._pipe_reader is not None:
            return

        def copy(fd):
            with open(self.stderr_path, "ab") as out:
                for _ in range(1 << 24):
                    data = os.read(fd, 65536)
                    if not data:
                        return
                    out.write(data)
                    out.flush()
        self._pipe_reader = threading.Thread(target=copy, args=(self._pipe_read,), daemon=True,
                                             name="daemon-stderr")
        self._pipe_reader.start()

    def _close_stderr_pipe(self):
        if self._pipe_reader is not None:
            self._pipe_reader.join(5)
        if self._pipe_read is not None and not (self._pipe_reader and self._pipe_reader.is_alive()):
            os.close(self._pipe_read)
        self._pipe_read = None

    def running(self):
        return self.proc.poll() is None

    def wait_notify(self, line, timeout=IO_TIMEOUT):
        """Wait for a notification line (READY=1, STOPPING=1...) from the daemon."""
        deadline = time.monotonic() + timeout
        while line not in self.notify.lines:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"daemon sent no {line} within {timeout}s "
                                     f"(got {self.notify.lines}); stderr:\n{self.stderr()}")
            if self.notify.poll(min(left, 0.05)):
                continue
            if self.proc.poll() is not None and not self.notify.poll(0):
                raise AssertionError(f"daemon exited with status {self.proc.returncode} "
                                     f"before sending {line}; stderr:\n{self.stderr()}")

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    # -- reloading (SIGHUP) and what the daemon says about it

    def write_config(self, config_text):
        """Replace the configuration file (str or bytes) at once: a new file
        renamed over the old one, so that the daemon never reads half of it."""
        mode = "wb" if isinstance(config_text, bytes) else "w"
        tmp = self.config_path + ".new"
        with open(tmp, mode) as f:
            f.write(config_text)
        os.replace(tmp, self.config_path)

    def _wait_datagram(self, predicate, start, timeout, what):
        """Index of the first notification datagram from START on that
        satisfies PREDICATE (a list of lines); fails after TIMEOUT seconds or
        when the daemon exits."""
        deadline = time.monotonic() + timeout
        for _ in range(1 << 20):
            for i in range(start, len(self.notify.datagrams)):
                if predicate(self.notify.datagrams[i]):
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.notify.poll(min(left, 0.05)):
                continue
            if self.proc.poll() is not None and not self.notify.poll(0):
                raise AssertionError(f"daemon exited with status {self.proc.returncode} "
                                     f"before sending {what}; stderr:\n{self.stderr(4000)}")
        since = [line for d in self.notify.datagrams[start:] for line in d if line]
        raise AssertionError(f"no {what} within {timeout} s (notifications since: {since}); "
                             f"daemon stderr ends:\n{self.stderr(1500)}")

    def reload(self, config_text=None, expect_ok=True, timeout=RELOAD_TIMEOUT):
        """Reload as systemd would: write CONFIG_TEXT over the file when given,
        send SIGHUP, wait (bounded) for the next RELOADING=1, which must come
        with MONOTONIC_USEC= (between the signal and now), then for the
        READY=1 after it, which must come with STATUS=.  Returns the STATUS
        text; expect_ok True wants it to end with "; last reload ok", False
        with "; last reload failed: N error(s)", None checks neither.  The
        reload is appended to self.reloads (see Reload)."""
        if config_text is not None:
            self.write_config(config_text)
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with status {self.proc.returncode} before "
                                 f"the reload; stderr:\n{self.stderr(4000)}")
        self.notify.poll(0)
        start = len(self.notify.datagrams)
        log_mark = self.stderr_mark()
        sent = time.monotonic()
        sent_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.proc.send_signal(signal.SIGHUP)
        i = self._wait_datagram(lambda d: "RELOADING=1" in d, start, RELOAD_START_TIMEOUT,
                                "RELOADING=1 after SIGHUP")
        now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        stamps = [l[len("MONOTONIC_USEC="):] for l in self.notify.datagrams[i]
                  if l.startswith("MONOTONIC_USEC=")]
        if len(stamps) != 1 or not stamps[0].isdigit():
            raise AssertionError(f"RELOADING=1 without one MONOTONIC_USEC=<n> in the same "
                                 f"notification: {self.notify.datagrams[i]}")
        if not sent_us <= int(stamps[0]) <= now_us:
            raise AssertionError(f"MONOTONIC_USEC={stamps[0]} is not between the SIGHUP "
                                 f"({sent_us}) and RELOADING=1 ({now_us}) on CLOCK_MONOTONIC")
        j = self._wait_datagram(lambda d: "READY=1" in d, i + 1, timeout,
                                "READY=1 after RELOADING=1")
        ready = time.monotonic()
        statuses = [l[len("STATUS="):] for l in self.notify.datagrams[j] if l.startswith("STATUS=")]
        if len(statuses) != 1:
            raise AssertionError(f"READY=1 after a reload without one STATUS= in the same "
                                 f"notification: {self.notify.datagrams[j]}")
        status = statuses[0]
        self.reloads.append(Reload(sent, ready, status, log_mark))
        if expect_ok is True and not status.endswith(RELOAD_OK):
            raise AssertionError(f"reload not reported ok: STATUS={status!r} does not end with "
                                 f"{RELOAD_OK!r}; daemon stderr since SIGHUP:\n"
                                 f"{self.stderr_since(log_mark)[-4000:]}")
        if expect_ok is False and not RELOAD_FAILED.search(status):
            raise AssertionError(f"reload not reported failed: STATUS={status!r} does not end "
                                 f"with '; last reload failed: N error(s)'; daemon stderr "
                                 f"since SIGHUP:\n{self.stderr_since(log_mark)[-4000:]}")
        return status

    def wait_status(self, text, timeout=IO_TIMEOUT, start=0):
        """Wait for a STATUS= notification, from notification line START on,
        whose text contains TEXT; returns the index of that line."""
        deadline = time.monotonic() + timeout
        for _ in range(1 << 20):
            for i in range(start, len(self.notify.lines)):
                line = self.notify.lines[i]
                if line.startswith("STATUS=") and text in line:
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.notify.poll(min(left, 0.05)):
                continue
            if self.proc.poll() is not None and not self.notify.poll(0):
                raise AssertionError(f"daemon exited with status {self.proc.returncode} "
                                     f"before STATUS= with {text!r}; stderr:\n{self.stderr(4000)}")
        statuses = [l for l in self.notify.lines[start:] if l.startswith("STATUS=")]
        raise AssertionError(f"no STATUS= containing {text!r} within {timeout} s "
                             f"(STATUS= lines since: {statuses})")

    def stderr_mark(self):
        """The current size of the daemon's stderr: stderr_since() starts there."""
        try:
            return os.path.getsize(self.stderr_path)
        except OSError:
            return 0

    def stderr_since(self, mark=0):
        """What the daemon wrote on stderr from byte MARK on."""
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_lines(self, since=0):
        """Complete stderr lines from byte SINCE on (a line still being
        written is left out)."""
        text = self.stderr_since(since)
        return text.split("\n")[:-1]

    def wait_log(self, pattern, timeout=IO_TIMEOUT, since=0, what=None):
        """Wait until a complete stderr line from byte SINCE on matches the
        regular expression PATTERN (re.search); returns the match.  The
        daemon logs from a thread of its own: a line may come a little after
        what it reports."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        exited = False
        for _ in range(1 << 20):
            exited = self.proc.poll() is not None     # then this look is the last
            for line in self.log_lines(since):
                m = regex.search(line)
                if m:
                    return m
            if exited or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        when = f"before the daemon exited ({self.proc.returncode})" if exited else f"within {timeout} s"
        raise AssertionError(f"no log line matching {what or pattern!r} {when}; "
                             f"daemon stderr since then:\n{self.stderr_since(since)[-4000:]}")

    def wait(self, timeout=EXIT_TIMEOUT):
        """Exit status (negative: killed by that signal); fails after timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon still running {timeout}s later; stderr:\n"
                                 f"{self.stderr()}") from None
        _live_processes.discard(self.proc)
        return self.returncode

    def stop(self, timeout=EXIT_TIMEOUT):
        """SIGTERM, then wait (bounded) for the exit status."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def cpu_seconds(self):
        """User + system CPU time the daemon has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/PID/status")

    def _stop_for_leak_check(self):
        """Under valgrind: SIGTERM, and SIGTERM again once stopping (closes every
        session at once), so that the daemon exits and valgrind checks for leaks."""
        try:
            self.signal(signal.SIGTERM)
            self.wait_notify("STOPPING=1", READY_TIMEOUT)
            self.signal(signal.SIGTERM)
            self.proc.wait(EXIT_TIMEOUT)
        except (AssertionError, subprocess.TimeoutExpired):
            pass        # killed below; the log still has the errors found so far

    def _cleanup(self):
        self.read_stderr()
        if VALGRIND and self.proc.poll() is None:
            self._stop_for_leak_check()
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _live_processes.discard(self.proc)
        self._close_stderr_pipe()
        if self.notify:
            self.notify.close()
        # A sanitizer build reports memory errors, leaks and undefined
        # behaviour on stderr: any such report fails the test.
        report = _tail(self.stderr_path, 1 << 20)
        for marker in SANITIZER_MARKERS:
            if marker in report:
                self.test.fail(f"sanitizer report ({marker!r}) in daemon stderr:\n{report}")
        if VALGRIND:
            finding = valgrind_findings(self.dir, self.proc.pid)
            if finding:
                self.test.fail(finding)
        # Kept for TestCase.run(), which shows it if the test failed (the
        # temporary directory is gone by then).
        log = (f"--- daemon stderr ({' '.join(self.proc.args)}), exit status "
               f"{self.proc.returncode}:\n{_tail(self.stderr_path)}--- end of daemon stderr\n")
        logs = getattr(self.test, "daemon_logs", None)
        if logs is not None:
            logs.append(log)
        if logs is None or os.environ.get("MB_E2E_VERBOSE"):
            sys.stderr.write(log)


class Result:
    def __init__(self, returncode, stdout, stderr, notifications):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.notifications = notifications

    def __repr__(self):
        return (f"exit status {self.returncode}\n--- stdout:\n{self.stdout}"
                f"--- stderr:\n{self.stderr}--- notifications: {self.notifications}")


def run(args, cwd=None, timeout=EXIT_TIMEOUT):
    """Run the binary to completion with our NOTIFY_SOCKET (to see whether it
    ever claimed readiness).  Fails if it is still running after timeout."""
    with tempfile.TemporaryDirectory(prefix="mb-e2e-run-") as d:
        notify = _Notify(d)
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, **_valgrind_env())
        argv = [*_valgrind_argv(d), binary(), *args]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, cwd=cwd or d,
                                    close_fds=True)
            _live_processes.add(proc)
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate(timeout=5)
                raise AssertionError(f"{argv} still running after {timeout}s; stderr:\n"
                                     f"{err.decode(errors='replace')}") from None
            finally:
                _live_processes.discard(proc)
            notify.poll(0)
            finding = valgrind_findings(d, proc.pid) if VALGRIND else None
            if finding:
                raise AssertionError(finding)
            return Result(proc.returncode, out.decode(errors="replace"),
                          err.decode(errors="replace"), [l for l in notify.lines if l])
        finally:
            notify.close()


# --------------------------------------------------------------------------
# The control socket (admin_socket; DESIGN.md "Control socket and
# mini-balancerctl", the protocol in the issue's working spec)

ADMIN_ANSWER_LIMIT = 1 << 20    # the longest answer line an Admin accepts
UNIX_PATH_LIMIT = 100           # sun_path holds 108 bytes: keep well below


def short_socket_dir(directory, name):
    """DIRECTORY, or when DIRECTORY/NAME would be too long for a unix socket
    address, a fresh directory under /tmp (as _Notify does).  Returns
    (directory, created): the caller removes a created one."""
    if len(os.fsencode(os.path.join(directory, name))) <= UNIX_PATH_LIMIT:
        return directory, False
    own = tempfile.mkdtemp(prefix="mb-e2e-", dir="/tmp")
    _temp_dirs.add(own)
    return own, True


class Admin:
    """A client of the daemon's control socket: one command per line, one
    JSON object per line back.  Every operation is bounded in time and size;
    whatever goes wrong (no socket, no answer, an answer that is not one JSON
    object with a boolean "ok") raises AssertionError.

    command(line) sends LINE and returns the answer (a dict); send() and
    answer() are the two halves, for raw bytes; wait_closed() waits for the
    daemon to close the connection."""

    def __init__(self, path, timeout=IO_TIMEOUT):
        self.path = path
        self._buf = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise AssertionError(f"control socket {path}: cannot connect: {e}") from None

    def fileno(self):
        return self.sock.fileno()

    def send(self, data, timeout=IO_TIMEOUT):
        """Send DATA (bytes, or str sent as UTF-8) as it is: no newline added."""
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise AssertionError(f"control socket {self.path}: could not send "
                                 f"{len(data)} bytes within {timeout}s") from None
        except (BrokenPipeError, ConnectionResetError) as e:
            raise AssertionError(f"control socket {self.path}: closed by the daemon "
                                 f"while sending {data[:60]!r}: {e}") from None

    def read_line(self, timeout=IO_TIMEOUT):
        """The next line the daemon sends (bytes, without its newline)."""
        deadline = time.monotonic() + timeout
        for _ in range(1 << 20):
            if b"\n" in self._buf:
                line, _, self._buf = self._buf.partition(b"\n")
                return line
            if len(self._buf) > ADMIN_ANSWER_LIMIT:
                raise AssertionError(f"control socket {self.path}: an answer line longer than "
                                     f"{ADMIN_ANSWER_LIMIT} bytes ({self._buf[:80]!r}...)")
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                raise AssertionError(f"control socket {self.path}: connection reset before a "
                                     f"complete answer (got {self._buf[:200]!r})") from None
            if not data:
                raise AssertionError(f"control socket {self.path}: connection closed before a "
                                     f"complete answer (got {self._buf[:200]!r})")
            self._buf += data
        raise AssertionError(f"control socket {self.path}: no complete answer within "
                             f"{timeout}s (got {self._buf[:200]!r})")

    def answer(self, timeout=IO_TIMEOUT):
        """The next answer: one line holding one JSON object with a boolean "ok"."""
        line = self.read_line(timeout)
        try:
            value = json.loads(line.decode())
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"control socket {self.path}: the answer is not JSON "
                                 f"({e}): {line[:300]!r}") from None
        if not isinstance(value, dict) or not isinstance(value.get("ok"), bool):
            raise AssertionError(f"control socket {self.path}: the answer is not an object "
                                 f"with a boolean \"ok\": {line[:300]!r}")
        return value

    def command(self, line, timeout=IO_TIMEOUT):
        """Send LINE (str or bytes) and a newline; returns the answer (a dict)."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\n", timeout)
        return self.answer(timeout)

    def ok(self, line, timeout=IO_TIMEOUT):
        """command(), failing unless the answer has "ok": true."""
        value = self.command(line, timeout)
        if value["ok"] is not True:
            raise AssertionError(f"control socket {self.path}: {line!r} answered {value}")
        return value

    def wait_closed(self, timeout=CLOSE_TIMEOUT):
        """Wait until the daemon closes the connection: "eof" or "reset".  An
        unread answer, more data, or a timeout fail."""
        if self._buf:
            raise AssertionError(f"control socket {self.path}: expected the connection to "
                                 f"close, have unread {self._buf[:200]!r}")
        return wait_closed(self.sock, timeout)

    def is_open(self):
        """True when the daemon has neither closed the connection nor sent
        anything unasked (looked at without waiting)."""
        if self._buf:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not readable

    def close(self):
        close_quietly(self.sock)


# --------------------------------------------------------------------------
# unittest glue

class TestCase(unittest.TestCase):
    """Base class: a temp directory, and factories that register their cleanup."""

    def run(self, result=None):
        self.daemon_logs = []
        bad_before = len(result.failures) + len(result.errors) if result else 0
        outcome = super().run(result)
        result = result or outcome
        if result is not None and len(result.failures) + len(result.errors) > bad_before:
            for log in self.daemon_logs:
                sys.stderr.write(f"\n{self.id()}: {log}")
        return outcome

    def setUp(self):
        self.tmpdir = make_temp_dir()
        self.addCleanup(remove_temp_dir, self.tmpdir)

    # backends
    def write_conf(self, text, name="mb.conf"):
        """TEXT as the file NAME in this test's temporary directory; its path."""
        path = os.path.join(self.tmpdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _own(self, backend):
        self.addCleanup(backend.close)
        return backend

    def ident_backend(self, name, addr=None, family=socket.AF_INET):
        return self._own(Backend(ident_handler(name), addr=addr, family=family, name=name))

    def echo_backend(self, family=socket.AF_INET):
        return self._own(Backend(echo_handler, family=family, name="echo"))

    def reset_backend(self):
        return self._own(Backend(reset_handler, name="reset"))

    def stream_backend(self, payload):
        return self._own(StreamBackend(payload))

    def controlled_backend(self, **kw):
        return self._own(ControlledBackend(**kw))

    def hanging_backend(self):
        return self._own(HangingBackend())

    # daemon
    def daemon(self, config_text, **kw):
        return Daemon(self, config_text, **kw).start()

    # the control socket
    def admin_socket_path(self, name="admin.sock"):
        """A path for admin_socket: in the test's directory, or in a short
        directory of its own under /tmp when that would be too long for a
        unix socket address (107 bytes)."""
        directory, created = short_socket_dir(self.tmpdir, name)
        if created:
            self.addCleanup(remove_temp_dir, directory)
        return os.path.join(directory, name)

    def admin(self, path, **kw):
        """An Admin client of the control socket at PATH, closed at cleanup."""
        client = Admin(path, **kw)
        self.addCleanup(client.close)
        return client

    # clients
    def connect(self, addr, **kw):
        s = connect(addr, **kw)
        self.addCleanup(close_quietly, s)
        return s

    def established(self, front, backend):
        """A session through FRONT to the ControlledBackend BACKEND, known to
        be relaying both ways: (client socket, backend socket)."""
        c = self.connect(front)
        b = backend.accept()
        send_all(c, b"ping")
        self.assertEqual(recv_exact(b, 4), b"ping")
        send_all(b, b"pong")
        self.assertEqual(recv_exact(c, 4), b"pong")
        return c, b

    def who(self, addr):
        """Open a client connection and return the name the backend announces."""
        s = self.connect(addr)
        try:
            return recv_line(s)
        finally:
            s.close()


class Runner(unittest.TextTestRunner):
    """Exit 77 (automake SKIP) when nothing failed but something was skipped."""

    def run(self, test):
        result = super().run(test)
        if result.wasSuccessful() and result.skipped:
            for case, reason in result.skipped:
                sys.stderr.write(f"SKIP: {case.id()}: {reason}\n")
            sys.stdout.flush()
            sys.stderr.flush()
            sys.exit(EXIT_SKIP)
        return result


def config_error_line(stderr, path, line, *words):
    """The stderr line containing "path:line:" and every word, or None."""
    tag = f"{path}:{line}:"
    for text in stderr.splitlines():
        if tag in text and all(w in text for w in words):
            return text
    return None


def version_from_configure_ac():
    try:
        with open(os.path.join(srcdir(), "configure.ac")) as f:
            m = re.search(r"AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]", f.read())
    except OSError:
        return None
    return m.group(1) if m else None
