#!/usr/bin/env bash
# Replication benchmark, picket-node against redis-server in one run, alternating:
#  - full resync time of 1,000,000 keys of mixed types (REPLICAOF -> link up with the
#    master's offset), each side replicating from its own kind;
#  - replica lag under redis-benchmark SET -P 16 with two replicas attached: the largest
#    master_repl_offset minus a replica's slave_repl_offset seen while sampling every ~20 ms
#    (the replica is read first, so the figure errs high);
#  - master SET -P 16 throughput with two replicas attached, as a ratio to no replicas.
# Redis runs with repl-diskless-sync-delay 0 (its default of 5 s would only add waiting).
#
#   bench/replication.sh [rounds]
. "$(dirname "$0")/lib.sh"
bench_init picket-node
ROUNDS=${1:-3}
PICKET=$PWD/target/release/picket-node
# The master on the last CPU, replicas and clients on the others.
PIN_M=$PIN_S; PIN_O=$PIN_C
tmp=$BENCH_TMP
M=$BENCH_PORT; R1=$((M + 1)); R2=$((M + 2))
PIDS=()
start() { # pin bin port dir extra...
  local pin=$1 bin=$2 port=$3 dir=$4; shift 4
  start_server "$pin" "$bin" "$port" "$dir" --repl-diskless-sync-delay 0 "$@"
  PIDS+=("$port:$SERVER_PID")
}
stop_all() {
  for pp in "${PIDS[@]}"; do stop_server "${pp%%:*}" "${pp##*:}"; done
  PIDS=()
}
field() { info_field "$1" replication "$2"; }
synced() { # replica master
  [ "$(field "$1" master_link_status)" = up ] && [ "$(field "$1" slave_repl_offset)" = "$(field "$2" master_repl_offset)" ]
}

gen() {
  awk 'BEGIN {
    for (i = 0; i < 600000; i++) printf "SET str:%d value-%d-abcdefghij\r\n", i, i
    for (i = 0; i < 100000; i++) printf "RPUSH list:%d a%d b%d c%d d%d e%d\r\n", i, i, i, i, i, i
    for (i = 0; i < 100000; i++) printf "HSET hash:%d f1 %d f2 v%d f3 x f4 yy f5 %d\r\n", i, i, i, i * 7
    for (i = 0; i < 100000; i++) printf "SADD set:%d %d %d %d %d %d\r\n", i, i, i + 1, i + 2, i + 3, i + 4
    for (i = 0; i < 100000; i++) printf "ZADD zset:%d 1 m%d 2.5 n%d 3 o%d 4 p%d 5 q%d\r\n", i, i, i, i, i, i
  }'
}
gen > "$tmp/data.txt"

setbench() { # port -> req/s
  $PIN_O redis-benchmark -p "$1" -c 50 -n 2000000 -P 16 -r 1000000 -t set -q --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2
}

declare -A T
for r in $(seq "$ROUNDS"); do
  for side in picket redis; do
    bin=$PICKET; [ $side = redis ] && bin=redis-server
    d="$tmp/$side"; rm -rf "$d"
    # Full resync of 1M keys.
    start "$PIN_M" "$bin" $M "$d/m"
    redis-cli -p $M --pipe < "$tmp/data.txt" >/dev/null
    start "$PIN_O" "$bin" $R1 "$d/r1"
    t0=$(date +%s%N)
    redis-cli -p $R1 replicaof 127.0.0.1 $M >/dev/null
    until synced $R1 $M; do sleep 0.005; done
    t1=$(date +%s%N)
    T["$side sync"]+="$(( (t1 - t0) / 1000000 )) "
    [ "$(redis-cli -p $R1 dbsize)" = 1000000 ] || { echo "$side replica has $(redis-cli -p $R1 dbsize) keys"; exit 1; }
    stop_all
    # Throughput without replicas, then with two, sampling the lag meanwhile.
    start "$PIN_M" "$bin" $M "$d/m2"
    T["$side set0"]+="$(setbench $M) "
    start "$PIN_O" "$bin" $R1 "$d/r1b" --replicaof 127.0.0.1 $M
    start "$PIN_O" "$bin" $R2 "$d/r2b" --replicaof 127.0.0.1 $M
    until synced $R1 $M && synced $R2 $M; do sleep 0.05; done
    setbench $M > "$tmp/rps" &
    bp=$!
    maxlag=0
    while kill -0 $bp 2>/dev/null; do
      for rp in $R1 $R2; do
        ro=$(field $rp slave_repl_offset); mo=$(field $M master_repl_offset)
        if [ -n "$ro" ] && [ -n "$mo" ]; then
          lag=$(( mo - ro )); [ $lag -gt $maxlag ] && maxlag=$lag
        fi
      done
      sleep 0.02
    done
    wait $bp
    T["$side set2"]+="$(cat "$tmp/rps") "
    T["$side lag"]+="$maxlag "
    until synced $R1 $M && synced $R2 $M; do sleep 0.05; done
    stop_all
  done
done
printf '%-44s %12s %12s %8s\n' measure picket redis ratio
row() { awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-44s %12.0f %12.0f %8.2f\n", m, a, b, (b > 0 ? a / b : 0) }'; }
declare -A P R
for m in sync set0 set2 lag; do
  P[$m]=$(echo "${T["picket $m"]}" | median); R[$m]=$(echo "${T["redis $m"]}" | median)
done
row "full resync of 1M keys (ms, median)" "${P[sync]}" "${R[sync]}"
row "SET -P 16, no replica (req/s)" "${P[set0]}" "${R[set0]}"
row "SET -P 16, two replicas (req/s)" "${P[set2]}" "${R[set2]}"
row "max replica lag under that load (bytes)" "${P[lag]}" "${R[lag]}"
awk -v a="${P[set2]}" -v b="${P[set0]}" -v c="${R[set2]}" -v d="${R[set0]}" \
  'BEGIN { printf "%-44s %12.2f %12.2f\n", "two replicas / none (throughput)", a / b, c / d }'
echo "all rounds: picket sync ${T["picket sync"]}| redis sync ${T["redis sync"]}| picket lag ${T["picket lag"]}| redis lag ${T["redis lag"]}"
