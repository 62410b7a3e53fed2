"""Network namespaces for end-to-end tests that need a network of their own
(stdlib only): several hosts, each a namespace, joined by veth pairs and
bridges, with addresses, routes and sysctls that touch nothing outside.

A test script built on it is two processes, as test_dns.py is:

  * outside (main()): creates the namespaces <tag>-<pid>-<role>, each with
    lo up, and runs the script again inside one of them, its home
    (`ip netns exec NS python3 SCRIPT --inside role=ns,... [unittest
    arguments]`) with TMPDIR a directory of its own, relaying its exit
    status.  Whatever happens (failure, SIGTERM, SIGINT, the inner process
    killed) it then kills every process still in any of the namespaces,
    deletes them and that directory; deleting a namespace deletes every
    link in it: links
    are created in their namespaces directly (veth() names both ends'
    namespaces), never in the root namespace, so nothing is left there
    even for a moment.  A process it had to kill is a failure.
  * inside: the unittest run, its sockets in the home namespace.  It builds
    links, addresses and routes with `ip -n NS` (ip()), runs programs in
    another namespace with exec_argv() (the mini-balancer Daemon takes it as
    its prefix), and creates sockets in another one within entered().

Files for the home namespace's /etc (main()'s etc: resolv.conf, say) go to
/etc/netns/<ns>/, which `ip netns exec` bind-mounts over /etc's files of
the same name for the program it runs; they are removed with the namespace
(and /etc/netns with them, if it was made for them).

Skipped (77) unless run as root with `ip` (iproute2), or when this machine
cannot create a network namespace."""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness

IP = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
INSIDE = "--inside"
IP_TIMEOUT = 10.0
NETNS_ETC = "/etc/netns"
CLONE_NEWNET = 0x40000000


class NetnsUnavailable(Exception):
    """This machine cannot give us a network namespace: a reason to skip."""


# --------------------------------------------------------------------------
# ip(8)

def _run_ip(args, timeout=IP_TIMEOUT):
    return subprocess.run([IP, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def ip(*args, ns=None, check=True):
    """Run `ip [-n NS] ARGS`; its stdout.  A failure raises AssertionError
    naming the command, unless CHECK is false (then None)."""
    argv = (["-n", ns] if ns else []) + [str(a) for a in args]
    r = _run_ip(argv)
    if r.returncode != 0:
        if not check:
            return None
        raise AssertionError(f"`ip {' '.join(argv)}` failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def batch(ns, commands):
    """Run ip's COMMANDS (lines without the leading "ip") in NS in one process."""
    r = subprocess.run([IP, "-n", ns, "-batch", "-"], input="\n".join(commands) + "\n",
                       capture_output=True, text=True, timeout=IP_TIMEOUT)
    if r.returncode != 0:
        raise AssertionError(f"`ip -n {ns} -batch -` failed ({r.returncode}): "
                             f"{r.stderr.strip()}; commands: {commands}")


def exec_argv(ns):
    """The argv prefix that runs a program in namespace NS (ip execs it: the
    program keeps the process id)."""
    return [IP, "netns", "exec", ns]


def veth(ns_a, name_a, ns_b, name_b):
    """A veth pair, NAME_A in NS_A and NAME_B in NS_B, both up."""
    ip("link", "add", "name", name_a, "netns", ns_a, "type", "veth",
       "peer", "name", name_b, "netns", ns_b)
    ip("link", "set", "dev", name_a, "up", ns=ns_a)
    ip("link", "set", "dev", name_b, "up", ns=ns_b)


def bridge(ns, name, ports=()):
    """A bridge NAME in NS, up, with PORTS (links of NS) enslaved."""
    ip("link", "add", "name", name, "type", "bridge", ns=ns)
    ip("link", "set", "dev", name, "up", ns=ns)
    for port in ports:
        ip("link", "set", "dev", port, "master", name, ns=ns)


def addresses(ns, dev):
    """The IPv4 addresses on DEV in NS, as "a.b.c.d/len"."""
    out = ip("-j", "-4", "addr", "show", "dev", dev, ns=ns)
    return [f"{a['local']}/{a['prefixlen']}"
            for link in json.loads(out or "[]") for a in link.get("addr_info", [])]


def pids(ns):
    r = _run_ip(["netns", "pids", ns])
    return [int(p) for p in r.stdout.split() if p.isdigit()]


# --------------------------------------------------------------------------
# Entering a namespace: one thread, for a while

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(ns):
    """Within this block the calling thread is in namespace NS: sockets it
    creates belong to NS for their whole life (a listener made here accepts
    there when used from any thread), /proc/sys/net is NS's.  Threads started
    within the block start in NS.  Other threads are not affected."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def sysctl(ns, key, value):
    """Set the net sysctl KEY ("net.ipv4.fib_multipath_hash_policy") in NS."""
    with entered(ns):
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(f"{value}\n")


# --------------------------------------------------------------------------
# The outer process: the namespaces' life

class Network:
    """The namespaces <tag>-<pid>-<role>, each with lo up, and the /etc
    files ETC ({file name: text}) of namespace HOME; remove() kills what
    runs in them and deletes them and those files, whatever state create()
    reached."""

    def __init__(self, tag, roles, home=None, etc=None):
        self.tag = tag
        self.roles = list(roles)
        self.home = home
        self.etc = dict(etc or {})
        self.names = {}         # role -> namespace
        self.etc_dir = None     # /etc/netns/<home namespace>, once made
        self.made_netns_etc = False

    def create(self):
        for role in self.roles:
            name = f"{self.tag}-{os.getpid()}-{role}"
            if os.path.exists(f"/run/netns/{name}"):
                # A leftover of a killed run that had our pid.
                for pid in pids(name):
                    _kill(pid)
                _run_ip(["netns", "del", name])
            shutil.rmtree(f"{NETNS_ETC}/{name}", ignore_errors=True)
            r = _run_ip(["netns", "add", name])
            if r.returncode != 0:
                raise NetnsUnavailable(f"`ip netns add {name}` failed ({r.returncode}): "
                                       f"{r.stderr.strip()}")
            self.names[role] = name
            r = _run_ip(["-n", name, "link", "set", "dev", "lo", "up"])
            if r.returncode != 0:
                raise NetnsUnavailable(f"cannot bring lo up in {name}: {r.stderr.strip()}")
        if self.etc:
            self._write_etc(self.names[self.home])

    def _write_etc(self, name):
        if not os.path.isdir(NETNS_ETC):
            os.mkdir(NETNS_ETC, 0o755)
            self.made_netns_etc = True
        self.etc_dir = os.path.join(NETNS_ETC, name)
        os.mkdir(self.etc_dir, 0o755)
        for file_name, text in self.etc.items():
            with open(os.path.join(self.etc_dir, file_name), "w") as f:
                f.write(text)

    def remove(self):
        """Kill what still runs in the namespaces, delete them.  Returns the
        pids that had to be killed (a test that left a process behind)."""
        leftovers = set()
        for name in self.names.values():
            for _ in range(100):                # 10 s
                found = pids(name)
                if not found:
                    break
                leftovers.update(found)
                for pid in found:
                    _kill(pid)
                time.sleep(0.1)
        for name in self.names.values():
            r = _run_ip(["netns", "del", name])
            if r.returncode != 0:
                sys.stderr.write(f"netns: `ip netns del {name}` failed: {r.stderr}")
        self.names = {}
        if self.etc_dir is not None:
            shutil.rmtree(self.etc_dir, ignore_errors=True)
            self.etc_dir = None
        if self.made_netns_etc:
            try:
                os.rmdir(NETNS_ETC)             # only if nobody else put something there
            except OSError:
                pass
            self.made_netns_etc = False
        return sorted(leftovers)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run_inside(script, tag, roles, home, etc, args):
    """Run SCRIPT's tests in namespace HOME of a new Network; their exit status."""
    network = Network(tag, roles, home, etc)
    proc = None
    status = 1
    label = os.path.basename(script)
    # The tests' temporary files go here (TMPDIR), removed below even when
    # the inner process was killed before its own cleanup.
    tmp = tempfile.mkdtemp(prefix=f"mb-e2e-{tag}-")
    try:
        network.create()
        names = ",".join(f"{role}={name}" for role, name in network.names.items())
        sys.stderr.write(f"{label}: network namespaces {names}; tests run in "
                         f"{network.names[home]}\n")
        argv = [*exec_argv(network.names[home]), sys.executable, os.path.abspath(script),
                INSIDE, names, *args]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, close_fds=True,
                                env=dict(os.environ, TMPDIR=tmp))
        status = proc.wait()
    finally:
        # No second signal interrupts the cleanup; one that came is taken after it.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        if proc is not None and proc.poll() is None:
            proc.terminate()        # the tests' own cleanups stop what they started
            try:
                proc.wait(harness.EXIT_TIMEOUT * 3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        leftovers = network.remove()
        shutil.rmtree(tmp, True)
        if leftovers:
            sys.stderr.write(f"{label}: processes left in the namespaces were killed: "
                             f"{leftovers}\n")
            if status == 0:
                status = 1
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return status if status >= 0 else 1


# --------------------------------------------------------------------------
# Both sides

# Inside: role -> namespace.  Outside: the reason to skip, if any.
_where = {"names": None, "skip": None}


def missing_requirement(programs=()):
    """Why this machine cannot run the tests (a reason to skip), or None.
    PROGRAMS: [(name, path or None, Debian package)] besides ip."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not IP:
        return "ip is not installed (Debian package iproute2)"
    for name, path, package in programs:
        if not path:
            return f"{name} is not installed (Debian package {package})"
    return None


def main(tag, roles, home, programs=(), etc=None):
    """The __main__ of a test script: outside, runs it inside HOME of a new
    network of namespaces ROLES, with ETC ({file name: text}) over HOME's
    /etc files (see the module's comment); inside, runs its tests.  Exits."""
    if sys.argv[1:2] == [INSIDE] and len(sys.argv) >= 3:
        _where["names"] = dict(item.split("=", 1) for item in sys.argv[2].split(","))
        del sys.argv[1:3]
        unittest.main(module="__main__", testRunner=harness.Runner)
    _where["skip"] = missing_requirement(programs)
    if _where["skip"] is None:
        try:
            sys.exit(_run_inside(sys.argv[0], tag, roles, home, etc, sys.argv[1:]))
        except NetnsUnavailable as e:
            _where["skip"] = f"cannot create a network namespace: {e}"
        except KeyboardInterrupt as e:      # SIGTERM or SIGINT: cleaned up already
            sys.stderr.write(f"{os.path.basename(sys.argv[0])}: interrupted ({e}); "
                             f"the namespaces are removed\n")
            sys.exit(1)
    unittest.main(module="__main__", testRunner=harness.Runner)


def names():
    """Inside: {role: namespace}; else the test is skipped (for setUpModule)."""
    if _where["skip"]:
        raise unittest.SkipTest(_where["skip"])
    if _where["names"] is None:
        raise unittest.SkipTest("run this file as a script: it creates network namespaces "
                                "and runs its tests inside one")
    return dict(_where["names"])
