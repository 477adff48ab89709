#!/usr/bin/env python3
"""Acknowledged writes through faults, for Picket and for real Redis.

Hosts are Linux network namespaces (tests/safety/lab.py: 3 nodes, 3 sentinels, 2 clients).
One round: start the group, start a writing client on each client host (redis-py's Sentinel
discovery; every acknowledged SET of a unique key is recorded with the time it was sent, the
time its reply came and the master that gave it, and every INCR result), inject the
scenario's fault for --cut seconds, end it, let the group settle, then read the final state
from the master the sentinels agree on and count: acknowledged writes lost, INCR results
handed out twice or above the final count, the longest time without an acknowledged write
(no writable master), and the most masters acknowledging writes at one instant.

Scenarios (--scenario):
  isolate-master         the master cut off with one sentinel and one client
  master-from-sentinels  the master cut off from the sentinels only
  isolate-replica        one replica cut off
  sentinel-majority      two of the three sentinels cut off (each alone)
  pause-master           the master stopped (SIGSTOP) for --cut seconds, then resumed
  failovers              SENTINEL FAILOVER every 5 s for --cut seconds
  kill-master            kill -9 of the master under load with appendfsync always,
                         restarted after --cut seconds

    partition.py --kind picket|redis [--fencing | --mitigation] [--scenario S]
                 [--rounds N] [--cut SECONDS]

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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import CLIENTS, NET, NODES, SENTINELS, Lab

NODE_PORT = 7000
SENTINEL_PORT = 7100
DOWN_AFTER = 2000
SCENARIOS = [
    "isolate-master",
    "master-from-sentinels",
    "isolate-replica",
    "sentinel-majority",
    "pause-master",
    "failovers",
    "kill-master",
]
# Acknowledgements of one master less than this apart belong to one stretch of its accepting.
RUN_GAP_S = 1.0


def binaries(kind, bin_dir):
    if kind == "redis":
        return shutil.which("redis-server"), shutil.which("redis-sentinel")
    return os.path.join(bin_dir, "picket-node"), os.path.join(bin_dir, "picket-sentinel")


def node_conf(host, master, fencing, mitigation, durable):
    lines = [
        f"port {NODE_PORT}",
        f"bind {NET}.{NODES[host]}",
        "protected-mode no",
        'save ""',
        "appendonly yes" if durable else "appendonly no",
        "appendfsync always",
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
import redis
from redis.sentinel import Sentinel
name, until, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
sentinels = [(a, int(p)) for a, p in (s.split(":") for s in sys.argv[4].split(","))]
s = Sentinel(sentinels, socket_timeout=0.5, sentinel_kwargs={"socket_timeout": 0.5})
clients = {}
acked, incrs, errors, i = [], [], 0, 0
while time.time() < until:
    i += 1
    try:
        host, port = s.discover_master("mymaster")
        addr = f"{host}:{port}"
        m = clients.get(addr)
        if m is None:
            m = clients[addr] = redis.Redis(host=host, port=port, socket_timeout=0.5,
                                            socket_connect_timeout=0.5)
        sent = time.time()
        if m.set(f"{name}:{i}", i):
            acked.append([f"{name}:{i}", sent, time.time(), addr])
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


def start_group(lab, kind, fencing, mitigation, durable, bin_dir, work):
    """Starts the nodes (n1 the master) and the sentinels; returns each node's command line
    and log, once the group is healthy."""
    node_bin, sentinel_bin = binaries(kind, bin_dir)
    master = "n1"
    nodes = {}
    for host in NODES:
        d = os.path.join(work, host)
        os.makedirs(d)
        conf = os.path.join(d, "node.conf")
        open(conf, "w").write(node_conf(host, master, fencing, mitigation, durable))
        args, log = [node_bin, conf, "--dir", d], os.path.join(d, "log")
        nodes[host] = (args, log, lab.spawn(host, args, log))
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
            return nodes
        time.sleep(0.2)
    raise RuntimeError("the group did not become healthy in 30 s")


def inject(lab, scenario, nodes, cut_s):
    """The scenario's fault, for cut_s seconds, then its end."""
    if scenario == "isolate-master":
        lab.cut({"n1", "s1", "c1"})
    elif scenario == "master-from-sentinels":
        lab.cut({"n1"}, SENTINELS)
    elif scenario == "isolate-replica":
        lab.cut({"n2"})
    elif scenario == "sentinel-majority":
        lab.cut({"s2"})
        lab.cut({"s3"})
    elif scenario == "pause-master":
        os.killpg(nodes["n1"][2].pid, signal.SIGSTOP)
    elif scenario == "kill-master":
        os.killpg(nodes["n1"][2].pid, signal.SIGKILL)
    if scenario == "failovers":
        end = time.time() + cut_s
        n = 0
        while time.time() < end:
            host = list(SENTINELS)[n % 3]
            ask(lab, host, f"{NET}.{SENTINELS[host]}", SENTINEL_PORT, "sentinel", "failover", "mymaster")
            n += 1
            time.sleep(min(5.0, max(0.0, end - time.time())))
        return
    time.sleep(cut_s)
    if scenario == "pause-master":
        os.killpg(nodes["n1"][2].pid, signal.SIGCONT)
    elif scenario == "kill-master":
        args, log, _ = nodes["n1"]
        lab.spawn("n1", args, log + ".restarted")
    else:
        lab.heal()


def one_round(lab, scenario, kind, fencing, mitigation, cut_s, bin_dir, work):
    durable = scenario == "kill-master"
    nodes = start_group(lab, kind, fencing, mitigation, durable, bin_dir, work)
    write_for = cut_s + 10
    until = time.time() + write_for
    results = {}
    writers = []
    for c in CLIENTS:
        out = os.path.join(work, f"{c}.json")
        results[c] = out
        writers.append(lab.spawn(c, [sys.executable, "-c", WRITER, c, str(until), out, sentinel_addrs()], out + ".log"))
    time.sleep(3)
    t_fault = time.time()
    inject(lab, scenario, nodes, cut_s)
    for w in writers:
        w.wait(timeout=write_for + 30)
    settle_deadline = time.time() + 60
    addr = None
    while time.time() < settle_deadline and addr is None:
        addr = agreed_master(lab)
        time.sleep(0.3)
    if addr is None:
        raise RuntimeError("no agreed writable master 60 s after the fault ended")
    # Let the replicas converge on the final master.
    time.sleep(2)
    acked, incrs, tried, errors = [], [], 0, 0
    for c, path in results.items():
        r = json.load(open(path))
        acked += r["acked"]
        incrs += r["incrs"]
        tried += r["tried"]
        errors += r["errors"]
    r = check(lab, addr, acked, incrs)
    r.update({
        "scenario": scenario,
        "kind": kind,
        "fencing": fencing,
        "mitigation": mitigation,
        "cut_s": cut_s,
        "tried": tried,
        "errors": errors,
        "final_master": ":".join(addr),
        "fault_at": round(t_fault, 3),
    })
    return r


def check(lab, addr, acked, incrs):
    """Reads the final state from the agreed master and counts what went wrong."""
    keys = [a[0] for a in acked]
    present = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        vals = ask(lab, "c2", addr[0], addr[1], "mget", *chunk).split("\n")
        present |= {k for k, v in zip(chunk, vals) if v != ""}
    lost = [k for k in keys if k not in present]
    count = int(ask(lab, "c2", addr[0], addr[1], "get", "counter") or 0)
    return {
        "acked": len(keys),
        "lost": len(lost),
        "lost_pct": round(100.0 * len(lost) / max(1, len(keys)), 1),
        "incr_acked": len(incrs),
        "incr_above_final": sum(1 for v in incrs if v > count),
        # Two clients handed the same INCR result: two masters acknowledged at once.
        "incr_duplicates": len(incrs) - len(set(incrs)),
        "incr_missing": max(0, len(incrs) - count),
        "unwritable_s": longest_gap(acked),
        "max_masters": most_masters_at_once(acked),
    }


def longest_gap(acked):
    """The longest time between two consecutive acknowledged writes (of any client): time
    without a writable master."""
    times = sorted(a[2] for a in acked)
    return round(max((b - a for a, b in zip(times, times[1:])), default=0.0), 2)


def most_masters_at_once(acked):
    """The most masters acknowledging writes at one instant. Each master's acknowledgements
    fall into stretches (less than RUN_GAP_S apart); a stretch surely covers from its first
    reply to its last request, and the answer is the most stretches of different masters that
    overlap."""
    by_master = {}
    for _, sent, got, addr in acked:
        by_master.setdefault(addr, []).append((sent, got))
    edges = []
    for writes in by_master.values():
        writes.sort(key=lambda w: w[1])
        stretch = [writes[0]]
        for w in writes[1:] + [None]:
            if w is None or w[1] - stretch[-1][1] > RUN_GAP_S:
                start = stretch[0][1]
                edges += [(start, 1), (max(start, stretch[-1][0]), -1)]
                stretch = []
            if w is not None:
                stretch.append(w)
    best = cur = 0
    for _, d in sorted(edges, key=lambda e: (e[0], -e[1])):
        cur += d
        best = max(best, cur)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["picket", "redis"], default="picket")
    ap.add_argument("--scenario", choices=SCENARIOS, default="isolate-master")
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
            r = one_round(lab, a.scenario, a.kind, a.fencing, a.mitigation, a.cut, bin_dir, work)
            r["round"] = n + 1
            rounds.append(r)
            print(json.dumps(r), flush=True)
        except Exception as e:
            for host in list(NODES) + list(SENTINELS):
                for name in ("log", "log.restarted"):
                    log = os.path.join(work, host, name)
                    if os.path.exists(log):
                        print(f"--- {host} {name} (tail)", file=sys.stderr)
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
        "scenario": a.scenario,
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
        "unwritable_s": max((r["unwritable_s"] for r in rounds), default=0.0),
        "max_masters": max((r["max_masters"] for r in rounds), default=0),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
