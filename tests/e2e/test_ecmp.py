#!/usr/bin/env python3
"""Several instances behind an ECMP route (DESIGN.md "Beyond one machine"):
three mini-balancers with one configuration, their backends listed in a
different order each, share a VIP that the client's network reaches over a
multipath route; with balance = source-hash every instance sends a client
address to the same backend, so it does not matter which instance a flow
hashes to, and withdrawing a dead instance's path moves no client to
another backend.

The network (netns.py: namespaces of our own, nothing in the root one):

                            client ns (the tests run here)
        lo: 10.90.0.1 ... 10.90.0.40, the client sources
        route 10.99.0.1 (VIP) -> nexthop group 100 = 1/2/3 (resilient where the
        kernel has it); fib_multipath_hash_policy = 1 (L4: ports count)
          c1 10.91.1.2          c2 10.91.2.2          c3 10.91.3.2
             |                     |                     |
          eth0 10.91.1.1        eth0 10.91.2.1        eth0 10.91.3.1
          lb1 ns                lb2 ns                lb3 ns
          lo: VIP/32            lo: VIP/32            lo: VIP/32
          mini-balancer: frontend "vip" on VIP:80, frontend "own" on its eth0:81
          back 10.92.0.11       back 10.92.0.12       back 10.92.0.13
             |                     |                     |
             l1 ------------------ br0 ------------------ l3     backends ns
                     br0: 10.92.0.1 ... 10.92.0.4, backends b1 ... b4 on :8000

Each backend (a thread of the test process, its listener made in the
backends namespace) answers "<name> <peer address>" on connect: the name
says which backend a client reached, the peer address which instance
relayed it (10.92.0.1k is lbk).

Each instance's own address: besides the VIP, every instance has a second
frontend "own" on its link address with the same backends (same titles and
weights, its own order), so a client can reach every instance on purpose,
from the same source address, whatever ECMP would pick; a client inside an
lb namespace would have that namespace's source address, not the client's.

Skipped (77) unless run as root with `ip` (iproute2)."""

import collections
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402

ROLES = ("client", "lb1", "lb2", "lb3", "backends")
LBS = ("lb1", "lb2", "lb3")
VIP = "10.99.0.1"
VIP_PORT = 80
OWN_PORT = 81
SOURCE_NET = "10.90.0.0/24"
SOURCES = [f"10.90.0.{i}" for i in range(1, 41)]
BACKENDS = {f"b{i}": f"10.92.0.{i}" for i in range(1, 5)}
BACKEND_PORT = 8000
# The same backends, in another order on each instance.
ORDERS = {"lb1": ["b1", "b2", "b3", "b4"], "lb2": ["b4", "b3", "b2", "b1"],
          "lb3": ["b3", "b1", "b4", "b2"]}
TRIES = 4                 # connections through the VIP per source (other source ports)
GROUP = 100               # the nexthop group's id; instance k's nexthop is id k
BUCKETS = 64              # of the resilient group
CONNECT_TIMEOUT = 2.0     # one connection of the load thread
PACE = 0.005              # between two connections of the load thread
WARM = 40                 # load connections before the kill
IN_WINDOW = 30            # load connections started between the kill and the withdrawal
AFTER = 120               # load connections after the withdrawal
WAIT = 20.0 * (6 if harness.VALGRIND else 1)
CHECK = "  health_check {\n    interval = 200ms\n    timeout = 200ms\n    fall = 1\n    rise = 1\n  }\n"
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

NS = {}                   # role -> namespace, set by setUpModule


def index(lb):
    return int(lb[2:])


def gateway(lb):
    """Instance LB's address on its link to the client."""
    return f"10.91.{index(lb)}.1"


def client_end(lb):
    return f"10.91.{index(lb)}.2"


def back_address(lb):
    """Instance LB's address towards the backends: what a backend sees."""
    return f"10.92.0.{10 + index(lb)}"


INSTANCE_OF = {back_address(lb): lb for lb in LBS}


def setUpModule():
    NS.update(netns.names())
    build_network()


def build_network():
    """Everything of the picture above but the route to the VIP (Paths)."""
    client, backends = NS["client"], NS["backends"]
    # Replies from the VIP come back on whichever link the flow went out
    # on: no reverse-path filter on the client (set before the links exist,
    # so "default" reaches them too).
    for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"):
        netns.sysctl(client, key, 0)
    netns.sysctl(client, "net.ipv4.fib_multipath_hash_policy", 1)
    # The sources sit on lo (a dummy link would do as well, where the kernel
    # has the module).
    netns.batch(client, [f"addr add {a}/32 dev lo" for a in SOURCES])
    netns.bridge(backends, "br0")
    netns.batch(backends, [f"addr add {a}/24 dev br0" for a in BACKENDS.values()])
    for lb in LBS:
        k = index(lb)
        netns.veth(client, f"c{k}", NS[lb], "eth0")
        netns.ip("addr", "add", f"{client_end(lb)}/24", "dev", f"c{k}", ns=client)
        netns.veth(NS[lb], "back", backends, f"l{k}")
        netns.ip("link", "set", "dev", f"l{k}", "master", "br0", ns=backends)
        netns.batch(NS[lb], [f"addr add {gateway(lb)}/24 dev eth0",
                             f"addr add {back_address(lb)}/24 dev back",
                             f"addr add {VIP}/32 dev lo",
                             f"route add {SOURCE_NET} via {client_end(lb)} dev eth0"])


class Paths:
    """The client's route to the VIP over the instances: a resilient
    nexthop group where the kernel and ip have it (withdrawing a member
    moves only the flows that hashed to it), else a plain nexthop group,
    else a multipath route (both rehash other flows too)."""

    def __init__(self, ns):
        self.ns = ns
        self.kind = None
        self.members = []

    def install(self, lbs=LBS):
        self.clear()
        self.members = list(lbs)
        made = []
        for lb in lbs:
            if netns.ip("nexthop", "add", "id", index(lb), "via", gateway(lb), "dev",
                        f"c{index(lb)}", ns=self.ns, check=False) is None:
                break
            made.append(lb)
        ids = "/".join(str(index(lb)) for lb in lbs)
        if len(made) == len(lbs):
            if netns.ip("nexthop", "add", "id", GROUP, "group", ids, "type", "resilient",
                        "buckets", BUCKETS, ns=self.ns, check=False) is not None:
                self.kind = "resilient nexthop group"
            elif netns.ip("nexthop", "add", "id", GROUP, "group", ids, ns=self.ns,
                          check=False) is not None:
                self.kind = "nexthop group (hash-threshold)"
        if self.kind:
            netns.ip("route", "add", f"{VIP}/32", "nhid", GROUP, ns=self.ns)
        else:
            self.clear()
            self.members = list(lbs)
            self.kind = "multipath route"
            netns.ip("route", "add", f"{VIP}/32", *self._hops(lbs), ns=self.ns)

    def _hops(self, lbs):
        hops = []
        for lb in lbs:
            hops += ["nexthop", "via", gateway(lb), "dev", f"c{index(lb)}"]
        return hops

    def withdraw(self, lb):
        """Take LB's path out, as a routing daemon would once it is dead."""
        self.members.remove(lb)
        if self.kind == "multipath route":
            netns.ip("route", "replace", f"{VIP}/32", *self._hops(self.members), ns=self.ns)
        else:
            netns.ip("nexthop", "del", "id", index(lb), ns=self.ns)

    def clear(self):
        netns.ip("route", "del", f"{VIP}/32", ns=self.ns, check=False)
        for nh in (GROUP, *(index(lb) for lb in LBS)):
            netns.ip("nexthop", "del", "id", nh, ns=self.ns, check=False)
        self.kind = None


def open_from(source, host, port, timeout=harness.IO_TIMEOUT):
    """A connection from SOURCE (any port) to HOST:PORT and what its backend
    said: (socket, backend, instance)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # The port is chosen at connect, for the 4-tuple: many connections
        # from one address never run out of ports.
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((host, port))
        line = harness.recv_line(s, timeout)
    except BaseException:
        s.close()
        raise
    name, _, peer = line.partition(" ")
    if name not in BACKENDS or peer not in INSTANCE_OF:
        s.close()
        raise AssertionError(f"{source} -> {host}:{port}: unexpected greeting {line!r}")
    return s, name, INSTANCE_OF[peer]


def ask(source, host, port, timeout=harness.IO_TIMEOUT):
    """(backend, instance) of a new connection from SOURCE to HOST:PORT."""
    s, name, lb = open_from(source, host, port, timeout)
    s.close()
    return name, lb


class Ecmp(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.paths = Paths(NS["client"])
        self.paths.install()
        self.addCleanup(self.paths.clear)
        self.backends = {}
        with netns.entered(NS["backends"]):
            for name, host in BACKENDS.items():
                self.backends[name] = self._own(harness.Backend(harness.ident_peer_handler(name),
                                                                addr=harness.Addr(host, BACKEND_PORT),
                                                                name=name))
        self.daemons = {}
        for lb in LBS:
            directory = os.path.join(self.tmpdir, lb)
            os.mkdir(directory)
            backends = [(t, f"{BACKENDS[t]}:{BACKEND_PORT}") for t in ORDERS[lb]]
            text = harness.config(*(
                # Active checks: every instance finds a backend that goes
                # away down on its own (test_backend_gone_moves_only_its_clients).
                section.replace("{\n", "{\n" + CHECK, 1) for section in (
                    harness.frontend("vip", f"{VIP}:{VIP_PORT}", backends, balance="source-hash"),
                    harness.frontend("own", f"{gateway(lb)}:{OWN_PORT}", backends,
                                     balance="source-hash"))))
            self.daemons[lb] = harness.Daemon(self, text, directory=directory,
                                              prefix=netns.exec_argv(NS[lb])).start()

    def through_vip(self, tries=TRIES):
        """{source: [(backend, instance)] of TRIES new connections via the VIP}."""
        return {src: [ask(src, VIP, VIP_PORT) for _ in range(tries)] for src in SOURCES}

    def mapping(self, seen):
        """{source: backend}, failing if a source reached two backends."""
        out = {}
        for src, pairs in seen.items():
            names = {b for b, _ in pairs}
            self.assertEqual(len(names), 1, f"source {src} reached several backends: {pairs}")
            out[src] = names.pop()
        return out

    def test_every_instance_sends_a_source_to_the_same_backend(self):
        """Each source, TRIES times through the VIP (other source ports,
        so ECMP picks other instances) and once to each instance's own
        frontend, always reaches one backend."""
        via_vip = self.through_vip()
        direct = {}
        for src in SOURCES:
            direct[src] = []
            for lb in LBS:
                backend, relayed_by = ask(src, gateway(lb), OWN_PORT)
                self.assertEqual(relayed_by, lb, f"{src} -> {gateway(lb)}:{OWN_PORT}")
                direct[src].append((backend, lb))
        mapping = self.mapping({src: via_vip[src] + direct[src] for src in SOURCES})

        # ECMP did spread the flows: otherwise this proved nothing.
        per_instance = collections.Counter(lb for pairs in via_vip.values() for _, lb in pairs)
        total = len(SOURCES) * TRIES
        spread = sum(1 for pairs in via_vip.values() if len({lb for _, lb in pairs}) > 1)
        per_backend = collections.Counter(mapping.values())
        sys.stderr.write(f"\nECMP over a {self.paths.kind}: {total} connections through the "
                         f"VIP went to {dict(sorted(per_instance.items()))}; {spread} of "
                         f"{len(SOURCES)} sources went through several instances; sources "
                         f"per backend {dict(sorted(per_backend.items()))}\n")
        for lb in LBS:
            self.assertGreaterEqual(per_instance[lb], total // 10,
                                    f"ECMP sent {lb} too few flows to test anything: "
                                    f"{dict(per_instance)}")
        self.assertGreaterEqual(spread, len(SOURCES) // 2,
                                f"few sources reached several instances: {via_vip}")
        self.assertGreaterEqual(len(per_backend), 3, f"Maglev used few backends: {mapping}")

    def test_killed_instance_moves_no_client(self):
        """SIGKILL one instance under a stream of new connections, then
        withdraw its path: only connections in flight to it or routed to it
        before the withdrawal fail; afterwards every connection gets through
        a surviving instance; no source ever reaches another backend; live
        sessions through the survivors go on (resilient group)."""
        dead = "lb2"
        baseline = self.mapping(self.through_vip(2))
        held = self.hold_sessions()

        load = harness.ConnectionLoad(lambda src: ask(src, VIP, VIP_PORT, CONNECT_TIMEOUT),
                                      SOURCES, PACE).start()
        try:
            harness.wait_for(lambda: load.count(lambda a: a.ok) >= WARM, WAIT,
                             f"{WARM} connections through the VIP before the kill")
            killed = time.monotonic()
            self.daemons[dead].proc.kill()
            self.daemons[dead].wait(harness.EXIT_TIMEOUT)
            harness.wait_for(lambda: load.count(lambda a: a.start >= killed) >= IN_WINDOW,
                             WAIT, f"{IN_WINDOW} connections started after the kill")
            self.paths.withdraw(dead)
            withdrawn = time.monotonic()
            harness.wait_for(lambda: load.count(lambda a: a.start >= withdrawn) >= AFTER,
                             WAIT, f"{AFTER} connections started after the withdrawal")
        finally:
            attempts = load.stop(CONNECT_TIMEOUT + harness.IO_TIMEOUT)

        before, window, after, failed = harness.phases(attempts, killed, withdrawn)
        sys.stderr.write(f"\nECMP ({self.paths.kind}), SIGKILL of {dead}: {len(failed)} of "
                         f"{len(window)} new connections failed in the "
                         f"{withdrawn - killed:.3f} s between the kill and the withdrawal of "
                         f"its path; {len(before)} before the kill and {len(after)} after "
                         f"the withdrawal, of which {sum(not a.ok for a in before + after)} "
                         f"failed\n")
        harness.assert_edges_clean(self, before, after, "the kill", "the withdrawal")
        self.assertLess(len(failed), len(window),
                        f"every connection between the kill and the withdrawal failed: {failed}")
        self.assertEqual({a.answer[1] for a in after}, set(LBS) - {dead},
                         "instances that served connections after the withdrawal")
        moved = [a for a in attempts if a.ok and a.answer[0] != baseline[a.client]]
        self.assertEqual(moved, [], f"sources that reached another backend (before: {baseline})")

        # Every source still maps to its backend, through whichever survivor.
        self.assertEqual(self.mapping(self.through_vip(2)), baseline,
                         "sources and backends after the kill")

        # Live sessions through the survivors: their flows kept their path.
        survivors = [(s, src, lb) for s, src, lb in held if lb != dead]
        broken = []
        for s, src, lb in survivors:
            try:
                payload = f"still here {src}\n".encode()
                harness.send_all(s, payload)
                if harness.recv_exact(s, len(payload)) != payload:
                    broken.append((src, lb))
            except (OSError, AssertionError) as e:
                broken.append((src, lb, repr(e)))
        sys.stderr.write(f"live sessions through the survivors: {len(survivors) - len(broken)} "
                         f"of {len(survivors)} went on\n")
        if self.paths.kind == "resilient nexthop group":
            self.assertEqual(broken, [], "live sessions through surviving instances broke")

    def direct(self):
        """{instance: {source: backend}} over each instance's own frontend."""
        return {lb: {src: ask(src, gateway(lb), OWN_PORT)[0] for src in SOURCES} for lb in LBS}

    def test_backend_gone_moves_only_its_clients(self):
        """A backend goes away (its listener closes): every instance's
        checks mark it down, and on every instance exactly its sources
        move, all to the same new backend whichever instance they ask;
        every other source keeps its backend."""
        gone = "b4"
        before = self.direct()
        for lb in LBS[1:]:
            self.assertEqual(before[lb], before[LBS[0]], f"{lb} and {LBS[0]} disagree before")
        baseline = before[LBS[0]]
        orphans = sorted(src for src, b in baseline.items() if b == gone)
        self.assertTrue(orphans, f"no source on {gone} to move: {baseline}")
        self.backends[gone].close()

        # Until an instance's checks mark it down, a refused connect fails
        # over to the next backend in that instance's own file order, which
        # differs between instances: agreement comes only with the checks.
        def moved():
            picks = [[ask(src, gateway(lb), OWN_PORT)[0] for src in orphans] for lb in LBS]
            return all(p == picks[0] for p in picks) and gone not in picks[0]
        harness.wait_for(moved, WAIT, f"every instance sending {gone}'s sources to one new backend")
        after = self.direct()
        for lb in LBS[1:]:
            self.assertEqual(after[lb], after[LBS[0]], f"{lb} and {LBS[0]} disagree after {gone} went")
        changed = {src: (baseline[src], after[LBS[0]][src]) for src in SOURCES
                   if after[LBS[0]][src] != baseline[src]}
        sys.stderr.write(f"\n{gone} went away: {len(orphans)} of {len(SOURCES)} sources were on "
                         f"it and moved ({collections.Counter(after[LBS[0]][s] for s in orphans)}); "
                         f"{len(changed) - len(orphans)} others moved\n")
        self.assertEqual(sorted(changed), orphans, f"sources that moved: {changed}")
        self.assertEqual(self.mapping(self.through_vip(2)), after[LBS[0]],
                         "through the VIP, after the backend went")

    def hold_sessions(self, per_instance=2):
        """Open sessions through the VIP until each instance holds
        PER_INSTANCE of them: [(socket, source, instance)]."""
        held, count = [], collections.Counter()
        for src in SOURCES * 3:
            if all(count[lb] >= per_instance for lb in LBS):
                break
            s, _, lb = open_from(src, VIP, VIP_PORT)
            self.addCleanup(harness.close_quietly, s)
            if count[lb] < per_instance:
                held.append((s, src, lb))
                count[lb] += 1
            else:
                s.close()
        self.assertTrue(all(count[lb] >= per_instance for lb in LBS),
                        f"could not hold {per_instance} sessions per instance: {dict(count)}")
        return held


if __name__ == "__main__":
    netns.main("mbecmp", ROLES, "client")
