#!/usr/bin/env bash
# What fencing costs: SET throughput and latency at -P 1 and -P 16 on a local group of a master,
# two replicas and three sentinels (`picket up`), for Picket with fencing, Picket without, and
# redis-server 7.0 with min-replicas-to-write 1 (its documented mitigation). Sides alternate,
# ROUNDS times; the client is pinned to CPU 1.
#
#   bash bench/fencing_cost.sh [ROUNDS] [REQUESTS]      (defaults: 3, 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
n=${2:-200000}
cargo build --release -q --workspace
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
up() { # name base-port flags...
    local name=$1 port=$2; shift 2
    target/release/picket up --dir "$work/$name" --base-port "$port" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do
        grep -q "Events follow" "$work/$name.log" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "group $name did not come up:" >&2; cat "$work/$name.log" >&2; exit 1
}
up fencing 17400 --fencing
up plain 17800
up redis 18200 --with-redis
redis-cli -p 18200 config set min-replicas-to-write 1 >/dev/null
redis-cli -p 18200 config set min-replicas-max-lag 10 >/dev/null
declare -A rps p50 p99
bench() { # side port pipeline
    local out
    out=$(taskset -c 1 redis-benchmark -p "$2" -t set -n "$n" -P "$3" -r 100000 --csv 2>/dev/null | tail -1)
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    IFS=, read -r _ r _ _ q50 _ q99 _ <<<"${out//\"/}"
    rps[$1/$3]="${rps[$1/$3]:-} $r"; p50[$1/$3]="${p50[$1/$3]:-} $q50"; p99[$1/$3]="${p99[$1/$3]:-} $q99"
}
for _ in $(seq 1 "$rounds"); do
    for P in 1 16; do
        bench fencing 17400 $P; bench plain 17800 $P; bench redis 18200 $P
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-44s %4s %12s %9s %9s\n" side P "SET/s" "p50 ms" "p99 ms"
for P in 1 16; do
    for side in fencing plain redis; do
        case $side in
            fencing) label="picket-node, fencing (1 replica ack)";;
            plain) label="picket-node, no fencing";;
            redis) label="redis-server 7.0, min-replicas-to-write 1";;
        esac
        printf "%-44s %4s %12s %9s %9s\n" "$label" "$P" "$(median <<<"${rps[$side/$P]}")" \
            "$(median <<<"${p50[$side/$P]}")" "$(median <<<"${p99[$side/$P]}")"
    done
done
