#!/usr/bin/env python3
"""Acknowledged writes through a network partition, for Picket and for real Redis.

Hosts are Linux network namespaces (3 nodes, 3 sentinels, 2 clients) joined by a bridge in a
hub namespace, all created here with addresses of the documentation range 198.51.100.0/24
used only inside them, and removed at the end whatever happens. Needs root and iproute2.

One round: start the group, start a writing client on each client host (redis-py's Sentinel
discovery; every acknowledged SET of a unique key and every INCR result is recorded), cut the
master off together with one sentinel and one client, heal after --cut seconds, let the group
settle, then read the final state from the master the sentinels agree on and count:
acknowledged writes lost, INCR results above the final count, time without a writable master.

    partition.py --kind picket|redis [--fencing | --mitigation] [--rounds N] [--cut SECONDS]

Prints one JSON line per round, then a summary line.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

NET = "198.51.100"
NODES = {"n1": 11, "n2": 12, "n3": 13}
SENTINELS = {"s1": 21, "s2": 22, "s3": 23}
CLIENTS = {"c1": 31, "c2": 32}
NODE_PORT = 7000
SENTINEL_PORT = 7100
DOWN_AFTER = 2000


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
        for host, last in {**NODES, **SENTINELS, **CLIENTS}.items():
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

    def cut(self, side):
        """Cuts the hosts of `side` off from every other host (both directions)."""
        everyone = {**NODES, **SENTINELS, **CLIENTS}
        for host in everyone:
            inside = host in side
            for other, last in everyone.items():
                if other != host and (other in side) != inside:
                    self.run_in(self.ns(host), "ip", "route", "add", "blackhole", f"{NET}.{last}/32")

    def heal(self):
        for host in {**NODES, **SENTINELS, **CLIENTS}:
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


def binaries(kind, bin_dir):
    if kind == "redis":
        return shutil.which("redis-server"), shutil.which("redis-sentinel")
    return os.path.join(bin_dir, "picket-node"), os.path.join(bin_dir, "picket-sentinel")


def node_conf(host, master, fencing, mitigation):
    lines = [
        f"port {NODE_PORT}",
        f"bind {NET}.{NODES[host]}",
        "protected-mode no",
        'save ""',
        "appendonly no",
        "repl-diskless-sync-delay 0",
    ]
    if host != master:
        lines.append(f"replicaof {NET}.{NODES[master]} {NODE_PORT}")
    if fencing:
        lines.append("fencing yes")
    if mitigation:
        lines += ["min-replicas-to-write 1", "min-replicas-max-lag 10"]
    return "\n".join(lines) + "\n"


def sentinel_conf(host, master, fencing):
    lines = [
        f"port {SENTINEL_PORT}",
        f"bind {NET}.{SENTINELS[host]}",
        "protected-mode no",
        f"sentinel monitor mymaster {NET}.{NODES[master]} {NODE_PORT} 2",
        f"sentinel down-after-milliseconds mymaster {DOWN_AFTER}",
        "sentinel failover-timeout mymaster 6000",
    ]
    if fencing:
        lines.append("sentinel fencing mymaster 1")
    return "\n".join(lines) + "\n"


WRITER = r"""
import json, sys, time
from redis.sentinel import Sentinel
name, until, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
sentinels = [(a, int(p)) for a, p in (s.split(":") for s in sys.argv[4].split(","))]
s = Sentinel(sentinels, socket_timeout=0.5, sentinel_kwargs={"socket_timeout": 0.5})
acked, incrs, errors, i = [], [], 0, 0
while time.time() < until:
    i += 1
    try:
        m = s.master_for("mymaster", socket_timeout=0.5, retry_on_timeout=False)
        if m.set(f"{name}:{i}", i):
            acked.append(f"{name}:{i}")
        incrs.append(m.incr("counter"))
    except Exception:
        errors += 1
        time.sleep(0.05)
json.dump({"acked": acked, "incrs": incrs, "errors": errors, "tried": i}, open(out, "w"))
"""


def sentinel_addrs():
    return ",".join(f"{NET}.{v}:{SENTINEL_PORT}" for v in SENTINELS.values())


def ask(lab, host, *args):
    r = lab.run_in(lab.ns(host), "redis-cli", "-h", args[0], "-p", str(args[1]), *args[2:], check=False)
    return r.stdout.strip()


def agreed_master(lab):
    """The master every sentinel names, once they agree and it accepts writes."""
    views = set()
    for host, last in SENTINELS.items():
        out = ask(lab, host, f"{NET}.{last}", SENTINEL_PORT, "sentinel", "get-master-addr-by-name", "mymaster")
        views.add(tuple(out.split()))
    if len(views) != 1:
        return None
    addr = views.pop()
    if len(addr) != 2:
        return None
    role = ask(lab, "c2", addr[0], addr[1], "role").split("\n")[0]
    if role != "master":
        return None
    if ask(lab, "c2", addr[0], addr[1], "set", "settled", "1") != "OK":
        return None
    return addr


def one_round(lab, kind, fencing, mitigation, cut_s, bin_dir, work):
    node_bin, sentinel_bin = binaries(kind, bin_dir)
    master = "n1"
    for host in NODES:
        d = os.path.join(work, host)
        os.makedirs(d)
        conf = os.path.join(d, "node.conf")
        open(conf, "w").write(node_conf(host, master, fencing, mitigation))
        lab.spawn(host, [node_bin, conf, "--dir", d], os.path.join(d, "log"))
    time.sleep(1.0)
    for host in SENTINELS:
        d = os.path.join(work, host)
        os.makedirs(d)
        conf = os.path.join(d, "sentinel.conf")
        open(conf, "w").write(sentinel_conf(host, master, fencing))
        lab.spawn(host, [sentinel_bin, conf, "--dir", d], os.path.join(d, "log"))
    deadline = time.time() + 30
    while time.time() < deadline:
        info = ask(lab, "s1", f"{NET}.{SENTINELS['s1']}", SENTINEL_PORT, "sentinel", "master", "mymaster")
        fields = info.split("\n")
        try:
            slaves = int(fields[fields.index("num-slaves") + 1])
            others = int(fields[fields.index("num-other-sentinels") + 1])
        except (ValueError, IndexError):
            slaves = others = 0
        if slaves == 2 and others == 2 and agreed_master(lab):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the group did not become healthy in 30 s")
    write_for = cut_s + 10
    until = time.time() + write_for
    results = {}
    writers = []
    for c in CLIENTS:
        out = os.path.join(work, f"{c}.json")
        results[c] = out
        writers.append(lab.spawn(c, [sys.executable, "-c", WRITER, c, str(until), out, sentinel_addrs()], out + ".log"))
    time.sleep(3)
    lab.cut({"n1", "s1", "c1"})
    t_cut = time.time()
    time.sleep(cut_s)
    lab.heal()
    for w in writers:
        w.wait(timeout=write_for + 30)
    settle_deadline = time.time() + 60
    addr = None
    while time.time() < settle_deadline and addr is None:
        addr = agreed_master(lab)
        time.sleep(0.3)
    if addr is None:
        raise RuntimeError("no agreed writable master 60 s after healing")
    # Let the replicas converge on the final master.
    time.sleep(2)
    acked, incrs, tried, errors = [], [], 0, 0
    for c, path in results.items():
        r = json.load(open(path))
        acked += r["acked"]
        incrs += r["incrs"]
        tried += r["tried"]
        errors += r["errors"]
    present = set()
    for i in range(0, len(acked), 500):
        chunk = acked[i : i + 500]
        vals = ask(lab, "c2", addr[0], addr[1], "mget", *chunk).split("\n")
        present |= {k for k, v in zip(chunk, vals) if v != ""}
    lost = [k for k in acked if k not in present]
    count = int(ask(lab, "c2", addr[0], addr[1], "get", "counter") or 0)
    incr_bad = sum(1 for v in incrs if v > count)
    # Two clients handed the same INCR result: two masters acknowledged at once.
    incr_dup = len(incrs) - len(set(incrs))
    return {
        "kind": kind,
        "fencing": fencing,
        "mitigation": mitigation,
        "cut_s": cut_s,
        "acked": len(acked),
        "lost": len(lost),
        "lost_pct": round(100.0 * len(lost) / max(1, len(acked)), 1),
        "incr_acked": len(incrs),
        "incr_above_final": incr_bad,
        "incr_duplicates": incr_dup,
        "incr_missing": max(0, len(incrs) - count),
        "tried": tried,
        "errors": errors,
        "final_master": ":".join(addr),
        "cut_at": round(t_cut, 3),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["picket", "redis"], default="picket")
    ap.add_argument("--fencing", action="store_true")
    ap.add_argument("--mitigation", action="store_true", help="min-replicas-to-write 1, max-lag 10")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--cut", type=float, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--bin-dir", help="where picket-node and picket-sentinel are [target/release]")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    bin_dir = a.bin_dir or os.path.join(root, "target", "release")
    if os.geteuid() != 0:
        sys.exit("partition.py needs root (ip netns)")
    if a.fencing and a.kind == "redis":
        sys.exit("--fencing is Picket's; use --mitigation for Redis's min-replicas-to-write")
    rounds = []
    for n in range(a.rounds):
        lab = Lab()
        work = tempfile.mkdtemp(prefix="picket-safety-")
        signal.signal(signal.SIGTERM, lambda *_: (lab.down(), sys.exit(143)))
        try:
            lab.up()
            r = one_round(lab, a.kind, a.fencing, a.mitigation, a.cut, bin_dir, work)
            r["round"] = n + 1
            rounds.append(r)
            print(json.dumps(r), flush=True)
        except Exception as e:
            for host in list(NODES) + list(SENTINELS):
                log = os.path.join(work, host, "log")
                if os.path.exists(log):
                    print(f"--- {host} log (tail)", file=sys.stderr)
                    print("".join(open(log).readlines()[-15:]), file=sys.stderr)
            raise SystemExit(f"round {n + 1}: {e}")
        finally:
            lab.down()
            if not a.keep:
                shutil.rmtree(work, ignore_errors=True)
    acked = sum(r["acked"] for r in rounds)
    lost = sum(r["lost"] for r in rounds)
    summary = {
        "summary": True,
        "kind": a.kind,
        "fencing": a.fencing,
        "mitigation": a.mitigation,
        "rounds": len(rounds),
        "acked": acked,
        "lost": lost,
        "lost_pct": round(100.0 * lost / max(1, acked), 1),
        "incr_above_final": sum(r["incr_above_final"] for r in rounds),
        "incr_duplicates": sum(r["incr_duplicates"] for r in rounds),
        "incr_missing": sum(r["incr_missing"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
