#!/usr/bin/env python3
"""A VIP moved by keepalived (VRRP) between two machines running
mini-balancer (DESIGN.md "Beyond one machine"), with the shipped
examples/keepalived.conf: the standby's mini-balancer listens on the VIP
before it has it (freebind = true), and when the master's mini-balancer
dies its vrrp_script (mini-balancerctl show info) fails, the master gives
the VIP up (FAULT) and the standby takes it: new clients get through again
within keepalived's timing, each to the backend it had (source-hash).

Both configurations come from the example, templated: keepalived.conf
itself (interface, VIP, state, priority, the script's mini-balancerctl and
control socket), and the mini-balancer configuration shown in its comments
(admin_socket, bind_on, the backends; freebind and source-hash as shown).

The network (netns.py: namespaces of our own, nothing in the root one):

                          client ns (the tests run here)
             bridge "lan": 10.93.0.100/24; client sources 10.93.0.101 ... 108
                 p1                      p2                      pb
                 |                       |                       |
          eth0 10.93.0.11         eth0 10.93.0.12         eth0 10.93.0.21 ... 24
          lb1 ns                  lb2 ns                  backends ns
          keepalived MASTER 150   keepalived BACKUP 100   b1 ... b4 on :8000
          mini-balancer on        mini-balancer on
          VIP 10.93.0.10:80       VIP 10.93.0.10:80
          (freebind)              (freebind)

keepalived runs in the foreground (--dont-fork --log-console --no-syslog),
VRRP only (--vrrp), under `ip netns exec`, with its pid files (-p, -r) in
the test's directory: two keepalived processes on one machine need nothing
else apart, their namespaces separate their links and VRRP traffic.

Skipped (77) unless run as root with `ip` (iproute2) and keepalived."""

import atexit
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402

KEEPALIVED = shutil.which("keepalived") or shutil.which("keepalived", path="/usr/sbin:/sbin")
ROLES = ("client", "lb1", "lb2", "backends")
LBS = {"lb1": ("MASTER", 150), "lb2": ("BACKUP", 100)}
LAN = "lan"
CLIENT = "10.93.0.100"
SOURCES = [f"10.93.0.{i}" for i in range(101, 109)]
VIP = "10.93.0.10"
PREFIX = 24
VIP_PORT = 80
LB_ADDRESS = {"lb1": "10.93.0.11", "lb2": "10.93.0.12"}
INSTANCE_OF = {a: lb for lb, a in LB_ADDRESS.items()}
BACKENDS = {f"b{i}": f"10.93.0.{20 + i}" for i in range(1, 5)}
BACKEND_PORT = 8000
ORDERS = {"lb1": ["b1", "b2", "b3", "b4"], "lb2": ["b3", "b1", "b4", "b2"]}

SLOW = 6 if harness.VALGRIND else 1
STARTUP = 15.0 * SLOW      # keepalived started until the master holds the VIP
MARGIN = 4.0 * SLOW        # beyond keepalived's own timing, for a busy machine
GRACE = 2.0                # the VIP on the standby until its gratuitous ARP has come
CONNECT_TIMEOUT = 3.0      # one connection of the load (a SYN retransmitted once fits)
PACE = 0.02                # between two connections of the load
AFTER = 40                 # connections that must get through after the move
POLL = 0.05

# The example's placeholders (documentation addresses) and what we need.
EXAMPLE_VIP = "192.0.2.10"
EXAMPLE_CTL = "/usr/bin/mini-balancerctl"
EXAMPLE_SOCKET = "/run/mini-balancer/admin.sock"

NS = {}

# keepalived processes not stopped yet.  Stopped with SIGTERM at exit too
# (an interrupted test skips its cleanups), before harness's own exit
# handler would SIGKILL them: keepalived then stops its VRRP child and
# gives the VIP up, where a SIGKILL leaves the child running.
_keepalived = set()


@atexit.register
def _stop_keepalived():
    for proc in list(_keepalived):
        harness.stop_process(proc, 5.0)
    _keepalived.clear()


def setUpModule():
    NS.update(netns.names())
    client = NS["client"]
    netns.bridge(client, LAN)
    netns.batch(client, [f"addr add {CLIENT}/{PREFIX} dev {LAN}"]
                + [f"addr add {a}/32 dev {LAN}" for a in SOURCES])
    for lb, address in LB_ADDRESS.items():
        port = f"p{lb[-1]}"
        netns.veth(client, port, NS[lb], "eth0")
        netns.ip("link", "set", "dev", port, "master", LAN, ns=client)
        netns.ip("addr", "add", f"{address}/{PREFIX}", "dev", "eth0", ns=NS[lb])
    netns.veth(client, "pb", NS["backends"], "eth0")
    netns.ip("link", "set", "dev", "pb", "master", LAN, ns=client)
    netns.batch(NS["backends"], [f"addr add {a}/{PREFIX} dev eth0" for a in BACKENDS.values()])


def ctl_binary(directory):
    """mini-balancerctl under test ($MB_CTL, else beside $MB_BINARY), copied
    into DIRECTORY/bin: the example's enable_script_security makes
    keepalived refuse a script any part of whose path a user other than
    root may write, as a build tree of a user's whose tests run with sudo
    is.  Our temporary directory is root's alone."""
    path = os.environ.get("MB_CTL") or os.path.join(os.path.dirname(harness.binary()),
                                                    "mini-balancerctl")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"mini-balancerctl not found at {path} (set MB_CTL)")
    os.mkdir(os.path.join(directory, "bin"), 0o755)
    copy = os.path.join(directory, "bin", "mini-balancerctl")
    shutil.copyfile(path, copy)
    os.chmod(copy, 0o755)
    return copy


# --------------------------------------------------------------------------
# The example, templated

def example():
    with open(os.path.join(harness.srcdir(), "examples", "keepalived.conf")) as f:
        return f.read()


def substitute(text, substitutions, what):
    """Apply each (pattern, replacement) to TEXT's lines outside comments
    (keepalived's start with # or !); each must match exactly once, so that
    an edit of the example that the test no longer follows fails here."""
    counts = [0] * len(substitutions)
    out = []
    for line in text.splitlines():
        m = re.match(r"([^#!]*)(.*)", line)
        code, comment = m.group(1), m.group(2)
        for i, (pattern, replacement) in enumerate(substitutions):
            code, n = re.subn(pattern, replacement, code)
            counts[i] += n
        out.append(code + comment)
    for (pattern, _), n in zip(substitutions, counts):
        if n != 1:
            raise AssertionError(f"{what}: {pattern!r} matches {n} times, want once")
    return "\n".join(out) + "\n"


def keepalived_config(state, priority, ctl, socket_path):
    return substitute(example(), [
        (r"^(\s*state\s+)(MASTER|BACKUP)\b", rf"\g<1>{state}"),
        (r"^(\s*priority\s+)\d+\b", rf"\g<1>{priority}"),
        (r"^(\s*interface\s+)\S+", r"\g<1>eth0"),
        (rf"^(\s*){re.escape(EXAMPLE_VIP)}/\d+\b", rf"\g<1>{VIP}/{PREFIX}"),
        (rf'^(\s*script\s+)"{re.escape(EXAMPLE_CTL)} show info"',
         rf'\g<1>"{ctl} -s {socket_path} show info"'),
    ], "examples/keepalived.conf")


def example_setting(keyword):
    """The number after KEYWORD in the example (outside comments)."""
    found = []
    for line in example().splitlines():
        code = re.match(r"[^#!]*", line).group(0)
        m = re.match(rf"\s*{keyword}\s+(\d+)\s*$", code)
        if m:
            found.append(int(m.group(1)))
    if len(found) != 1:
        raise AssertionError(f"examples/keepalived.conf: {keyword} set {len(found)} times")
    return found[0]


def mini_balancer_config(socket_path, order):
    """The mini-balancer configuration in the example's comments (from its
    admin_socket line to the frontend's closing brace, "#   " before each
    line), with our control socket, VIP and backends."""
    lines = []
    for line in example().splitlines():
        if not lines and not re.match(r"#   admin_socket\s*=", line):
            continue
        if not line.startswith("#"):
            break
        lines.append(line[4:] if line.startswith("#   ") else "")
        if line == "#   }":
            break
    text = "\n".join(lines) + "\n"
    for needed in (r"freebind\s*=\s*true", r"balance\s*=\s*source-hash",
                   rf'bind_on\s*=\s*"{re.escape(EXAMPLE_VIP)}:80"'):
        if not re.search(rf"^\s*{needed}\s*$", text, re.M):
            raise AssertionError(f"examples/keepalived.conf: no {needed!r} in the "
                                 f"mini-balancer configuration of its comments:\n{text}")
    backend = re.compile(r"^\s*backend .*$\n?", re.M)
    if len(backend.findall(text)) < 1:
        raise AssertionError(f"examples/keepalived.conf: no backend in:\n{text}")
    ours = "".join(f'  backend {t} {{ forward_to = "{BACKENDS[t]}:{BACKEND_PORT}" }}\n'
                   for t in order)
    text = re.sub(r"^}$", lambda _: ours + "}", backend.sub("", text), count=1, flags=re.M)
    text = text.replace(f'"{EXAMPLE_VIP}:80"', f'"{VIP}:{VIP_PORT}"')
    text = text.replace(f'"{EXAMPLE_SOCKET}"', f'"{socket_path}"')
    return harness.config(text)


# --------------------------------------------------------------------------
# Clients and the network's state

def ask(source, timeout=harness.IO_TIMEOUT):
    """(backend, instance) of a new connection from SOURCE to the VIP."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((VIP, VIP_PORT))
        line = harness.recv_line(s, timeout)
    name, _, peer = line.partition(" ")
    if name not in BACKENDS or peer not in INSTANCE_OF:
        raise AssertionError(f"{source} -> VIP: unexpected greeting {line!r}")
    return name, INSTANCE_OF[peer]


def has_vip(lb):
    return f"{VIP}/{PREFIX}" in netns.addresses(NS[lb], "eth0")


class Vrrp(harness.TestCase):

    def setUp(self):
        super().setUp()
        # Short: the path is in the keepalived script's command line and a
        # unix socket address.
        sockets, created = harness.short_socket_dir(self.tmpdir, "lb1.sock")
        if created:
            self.addCleanup(harness.remove_temp_dir, sockets)
        with netns.entered(NS["backends"]):
            for name, host in BACKENDS.items():
                self._own(harness.Backend(harness.ident_peer_handler(name),
                                          addr=harness.Addr(host, BACKEND_PORT), name=name))
        ctl = ctl_binary(self.tmpdir)
        self.daemons, self.keepalived, self.configs = {}, {}, {}
        for lb, (state, priority) in LBS.items():
            directory = os.path.join(self.tmpdir, lb)
            os.mkdir(directory)
            socket_path = os.path.join(sockets, f"{lb}.sock")
            text = mini_balancer_config(socket_path, ORDERS[lb])
            self.check_mini_balancer_config(directory, text)
            self.configs[lb] = text
            self.daemons[lb] = self.start_daemon(lb, directory)
            conf = os.path.join(directory, "keepalived.conf")
            with open(conf, "w") as f:
                f.write(keepalived_config(state, priority, ctl, socket_path))
            self.check_keepalived_config(lb, conf)
            self.keepalived[lb] = self.start_keepalived(lb, directory, conf)

    def start_daemon(self, lb, directory):
        return harness.Daemon(self, self.configs[lb], directory=directory,
                              prefix=netns.exec_argv(NS[lb])).start()

    def check_mini_balancer_config(self, directory, text):
        """The daemon must accept the example's configuration, freebind
        included (DESIGN.md "Beyond one machine"): said here, before a
        start that would fail with the same message."""
        path = os.path.join(directory, "check.conf")
        with open(path, "w") as f:
            f.write(text)
        r = harness.run(["-t", "-c", path])
        self.assertEqual(r.returncode, 0, f"mini-balancer -t refuses the configuration of "
                                          f"examples/keepalived.conf's comments:\n{text}\n{r}")

    def check_keepalived_config(self, lb, conf):
        """keepalived -t: the templated example is valid and its script
        usable (found, executable, secure enough for enable_script_security)."""
        r = subprocess.run([*netns.exec_argv(NS[lb]), KEEPALIVED, "-t", "-f", conf],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=harness.EXIT_TIMEOUT)
        self.assertEqual(r.returncode, 0, f"keepalived -t -f {conf} ({lb}): exit status "
                                          f"{r.returncode}\n{r.stdout}{r.stderr}")

    def start_keepalived(self, lb, directory, conf):
        log = os.path.join(directory, "keepalived.log")
        argv = [*netns.exec_argv(NS[lb]), KEEPALIVED, "--dont-fork", "--log-console",
                "--no-syslog", "--log-detail", "--vrrp", "-f", conf,
                "-p", os.path.join(directory, "keepalived.pid"),
                "-r", os.path.join(directory, "vrrp.pid")]
        proc = harness.spawn(argv, log)
        _keepalived.add(proc)

        def stop():
            status = harness.stop_process(proc)
            _keepalived.discard(proc)
            logs = getattr(self, "daemon_logs", None)
            text = (f"--- keepalived {lb} ({' '.join(argv)}), exit status {status}:\n"
                    f"{harness._tail(log, 6000)}--- end of keepalived {lb}\n")
            if logs is not None:
                logs.append(text)
            if os.environ.get("MB_E2E_VERBOSE"):
                sys.stderr.write(text)
        self.addCleanup(stop)
        return proc

    def assert_running(self):
        for lb, proc in self.keepalived.items():
            self.assertIsNone(proc.poll(), f"keepalived in {lb} exited")

    def wait_vip(self, lb, timeout, what):
        """Poll until LB, and LB only, has the VIP; returns when it was seen."""
        other = next(x for x in LBS if x != lb)
        deadline = time.monotonic() + timeout
        for _ in range(1 << 16):
            self.assert_running()
            if has_vip(lb) and not has_vip(other):
                return time.monotonic()
            if time.monotonic() > deadline:
                break
            time.sleep(POLL)
        self.fail(f"{what}: within {timeout:.1f} s the VIP did not come to {lb} alone "
                  f"(lb1: {netns.addresses(NS['lb1'], 'eth0')}, "
                  f"lb2: {netns.addresses(NS['lb2'], 'eth0')})")

    def first_answers(self):
        """{source: backend} once every source gets through the VIP (bounded:
        the client learns the VIP's link address first)."""
        deadline = time.monotonic() + harness.IO_TIMEOUT
        for _ in range(1 << 16):
            try:
                return {src: ask(src) for src in SOURCES}
            except (OSError, AssertionError) as e:
                if time.monotonic() > deadline:
                    self.fail(f"clients do not get through the VIP: {e!r}")
            time.sleep(POLL)

    def test_vip_moves_to_the_standby_when_the_master_stops_answering(self):
        """The master (lb1) takes the VIP; the standby's daemon listens on
        the VIP all along (freebind); SIGKILL of the master's daemon under a
        stream of new connections moves the VIP to the standby within
        keepalived's timing, and clients get through the standby to the
        backends they had; the master's daemon started again takes the VIP
        back."""
        interval, fall = example_setting("interval"), example_setting("fall")
        advert = example_setting("advert_int")
        self.wait_vip("lb1", STARTUP, "keepalived started, lb1 the master")
        self.assertIsNotNone(harness.listener_inode(self.daemons["lb2"],
                                                    harness.Addr(VIP, VIP_PORT)),
                             "the standby's mini-balancer does not listen on the VIP "
                             "(freebind = true) before it has it")
        baseline = self.first_answers()
        self.assertEqual({lb for _, lb in baseline.values()}, {"lb1"},
                         f"clients through the master: {baseline}")
        baseline = {src: backend for src, (backend, _) in baseline.items()}

        load = harness.ConnectionLoad(lambda src: ask(src, CONNECT_TIMEOUT), SOURCES,
                                      PACE).start()
        budget = fall * interval + 3 * advert + MARGIN
        try:
            harness.wait_for(lambda: load.count(lambda a: a.ok) >= len(SOURCES), STARTUP,
                             "connections through the VIP before the kill")
            killed = time.monotonic()
            self.daemons["lb1"].proc.kill()
            self.daemons["lb1"].wait(harness.EXIT_TIMEOUT)
            moved = self.wait_vip("lb2", budget, "mini-balancer on lb1 killed")
            settled = moved + GRACE
            harness.wait_for(lambda: load.count(lambda a: a.start >= settled) >= AFTER,
                             GRACE + AFTER * (PACE + CONNECT_TIMEOUT),
                             f"{AFTER} connections after the move")
        finally:
            attempts = load.stop(CONNECT_TIMEOUT + harness.IO_TIMEOUT)
        self.assert_running()

        before, during, after, failed = harness.phases(attempts, killed, settled)
        slowest = max((a.end - a.start for a in attempts if a.ok), default=0.0)
        outage = (max(a.end for a in failed) - min(a.start for a in failed)) if failed else 0.0
        sys.stderr.write(
            f"\nVRRP: the VIP moved to the standby {moved - killed:.2f} s after the SIGKILL "
            f"(budget: fall {fall} x interval {interval} + 3 x advert_int {advert} + margin "
            f"{MARGIN:.0f} = {budget:.0f} s); {len(failed)} of {len(during)} new connections "
            f"failed between the kill and {GRACE:.0f} s after the move (failures over "
            f"{outage:.2f} s, one every {PACE * 1000:.0f} ms or so); slowest success "
            f"{slowest:.2f} s; {len(before)} connections before the kill and {len(after)} "
            f"after, of which {sum(not a.ok for a in before + after)} failed\n")
        harness.assert_edges_clean(self, before, after, "the kill", "the move")
        self.assertEqual({a.answer[1] for a in after}, {"lb2"}, "who relayed after the move")
        self.assertEqual([a for a in attempts if a.ok and a.answer[0] != baseline[a.client]],
                         [], f"clients that reached another backend (before: {baseline})")
        self.assertTrue(has_vip("lb2") and not has_vip("lb1"), "the VIP after the move")

        # The master's daemon started again (its stale control socket
        # replaced): after rise good checks lb1 leaves FAULT and, with the
        # higher priority, takes the VIP back, as the example says.
        rise = example_setting("rise")
        directory = os.path.join(self.tmpdir, "lb1-again")
        os.mkdir(directory)
        restarted = time.monotonic()
        self.daemons["lb1"] = self.start_daemon("lb1", directory)
        back = self.wait_vip("lb1", rise * interval + 3 * advert + MARGIN,
                             "mini-balancer on lb1 started again")
        sys.stderr.write(f"VRRP: the VIP came back to lb1 {back - restarted:.2f} s after its "
                         f"mini-balancer started again (rise {rise} x interval {interval})\n")
        again = self.first_answers()
        self.assertEqual(again, {src: (backend, "lb1") for src, backend in baseline.items()},
                         "clients through lb1 again, each to the backend it had")


if __name__ == "__main__":
    netns.main("mbvrrp", ROLES, "client", [("keepalived", KEEPALIVED, "keepalived")])
