"""Hosts made of Linux network namespaces for tests/safety/partition.py.

3 node hosts, 3 sentinel hosts and 2 client hosts, joined by a bridge in a hub namespace, all
created here with addresses of the documentation range 198.51.100.0/24 used only inside them,
and removed by `Lab.down` whatever happens. Faults: cut hosts off (blackhole routes, both
directions), heal. Needs root and iproute2.
"""

import os
import signal
import subprocess

NET = "198.51.100"
NODES = {"n1": 11, "n2": 12, "n3": 13}
SENTINELS = {"s1": 21, "s2": 22, "s3": 23}
CLIENTS = {"c1": 31, "c2": 32}
EVERYONE = {**NODES, **SENTINELS, **CLIENTS}


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class Lab:
    """The namespaces, the bridge, and the processes started in them."""

    def __init__(self):
        self.prefix = f"pk{os.getpid() % 100000}"
        self.names = []
        self.procs = []
        self.hub = f"{self.prefix}hub"

    def ns(self, host):
        return f"{self.prefix}{host}"

    def up(self):
        sh("ip", "netns", "add", self.hub)
        self.names.append(self.hub)
        self.run_in(self.hub, "ip", "link", "add", "br0", "type", "bridge")
        self.run_in(self.hub, "ip", "link", "set", "br0", "up")
        for host, last in EVERYONE.items():
            ns = self.ns(host)
            sh("ip", "netns", "add", ns)
            self.names.append(ns)
            a, b = f"{self.prefix}{host}a", f"{self.prefix}{host}b"
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            sh("ip", "link", "set", a, "netns", ns)
            sh("ip", "link", "set", b, "netns", self.hub)
            self.run_in(self.hub, "ip", "link", "set", b, "master", "br0")
            self.run_in(self.hub, "ip", "link", "set", b, "up")
            self.run_in(ns, "ip", "addr", "add", f"{NET}.{last}/24", "dev", a)
            self.run_in(ns, "ip", "link", "set", a, "up")
            self.run_in(ns, "ip", "link", "set", "lo", "up")

    def run_in(self, ns, *args, check=True):
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def spawn(self, host, args, log):
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *args],
            stdout=open(log, "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(p)
        return p

    def cut(self, side, rest=None):
        """Cuts the hosts of `side` off from the hosts of `rest` (default: every other host),
        both directions."""
        rest = set(EVERYONE) - set(side) if rest is None else set(rest)
        for a in side:
            for b in rest:
                if a == b:
                    continue
                self.run_in(self.ns(a), "ip", "route", "add", "blackhole", f"{NET}.{EVERYONE[b]}/32", check=False)
                self.run_in(self.ns(b), "ip", "route", "add", "blackhole", f"{NET}.{EVERYONE[a]}/32", check=False)

    def heal(self):
        for host in EVERYONE:
            out = self.run_in(self.ns(host), "ip", "route", "show", "type", "blackhole").stdout
            for line in out.splitlines():
                dest = line.split()[1]
                self.run_in(self.ns(host), "ip", "route", "del", "blackhole", dest, check=False)

    def down(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for ns in self.names:
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        self.names = []
