#!/usr/bin/env bash
# Persistence benchmark, picket-node against redis-server in one run, alternating:
#  - SAVE time and file size for 1,000,000 keys of mixed types (60% strings, 10% each of
#    lists, hashes, sets and sorted sets of 5 elements);
#  - start-up load time of that file (process start -> first PONG);
#  - BGSAVE of that dataset while redis-benchmark overwrites its strings (SET -P 16): the
#    BGSAVE's duration and the SET throughput while it runs (Redis forks; Picket writes a
#    point-in-time capture a slice at a time);
#  - redis-benchmark SET at -P 16 with appendonly yes, appendfsync everysec.
# Prints medians and the ratio Picket/Redis.
#
#   bench/persistence.sh [rounds]
. "$(dirname "$0")/lib.sh"
bench_init picket-node
ROUNDS=${1:-3}
PICKET=$PWD/target/release/picket-node
tmp=$BENCH_TMP
PORT=$BENCH_PORT
start() { start_server "$PIN_S" "$@" ; }  # bin dir extra... ; sets SERVER_PID and START_MS
stop() { stop_server $PORT $SERVER_PID; }

gen() {
  awk 'BEGIN {
    for (i = 0; i < 600000; i++) printf "SET str:%012d value-%d-abcdefghij\r\n", i, i
    for (i = 0; i < 100000; i++) printf "RPUSH list:%d a%d b%d c%d d%d e%d\r\n", i, i, i, i, i, i
    for (i = 0; i < 100000; i++) printf "HSET hash:%d f1 %d f2 v%d f3 x f4 yy f5 %d\r\n", i, i, i, i * 7
    for (i = 0; i < 100000; i++) printf "SADD set:%d %d %d %d %d %d\r\n", i, i, i + 1, i + 2, i + 3, i + 4
    for (i = 0; i < 100000; i++) printf "ZADD zset:%d 1 m%d 2.5 n%d 3 o%d 4 p%d 5 q%d\r\n", i, i, i, i, i, i
  }'
}
gen > "$tmp/data.txt"

declare -A T
for r in $(seq "$ROUNDS"); do
  for side in picket redis; do
    bin=$PICKET; [ $side = redis ] && bin=redis-server
    d="$tmp/$side"; rm -rf "$d"; mkdir -p "$d"
    start "$bin" $PORT "$d"
    redis-cli -p $PORT --pipe < "$tmp/data.txt" >/dev/null
    # BGSAVE while clients overwrite existing keys (__rand_int__ is 12 digits, as str:%012d).
    t0=$(date +%s%N)
    redis-cli -p $PORT bgsave >/dev/null
    ( until [ "$(info_field $PORT persistence rdb_bgsave_in_progress)" = 0 ]; do sleep 0.005; done
      date +%s%N > "$tmp/bgend" ) &
    poll=$!
    rps=$($PIN_C redis-benchmark -p $PORT -c 50 -n 200000 -P 16 -r 600000 -q --csv SET str:__rand_int__ overwritten 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2)
    wait $poll
    T["$side bgsave"]+="$(( ($(cat "$tmp/bgend") - t0) / 1000000 )) "
    T["$side bgsave_set"]+="$rps "
    t0=$(date +%s%N); redis-cli -p $PORT save >/dev/null; t1=$(date +%s%N)
    T["$side save"]+="$(( (t1 - t0) / 1000000 )) "
    T["$side size"]=$(stat -c %s "$d/dump.rdb")
    stop
    start "$bin" $PORT "$d"
    T["$side load"]+="$START_MS "
    keys=$(redis-cli -p $PORT dbsize)
    [ "$keys" = 1000000 ] || { echo "$side loaded $keys keys"; exit 1; }
    stop
    start "$bin" $PORT "$d" --appendonly yes --appendfsync everysec --dbfilename none.rdb
    rps=$($PIN_C redis-benchmark -p $PORT -c 50 -n 1000000 -P 16 -r 1000000 -t set -q --csv 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2)
    T["$side aof_set"]+="$rps "
    stop
  done
done
printf '%-34s %12s %12s %8s\n' measure picket redis ratio
for m in save load bgsave; do
  p=$(echo "${T["picket $m"]}" | median); r=$(echo "${T["redis $m"]}" | median)
  awk -v m="$m time (ms, median)" -v a="$p" -v b="$r" 'BEGIN { printf "%-34s %12d %12d %8.2f\n", m, a, b, a / b }'
done
awk -v a="${T["picket size"]}" -v b="${T["redis size"]}" 'BEGIN { printf "%-34s %12d %12d %8.2f\n", "rdb file size (bytes)", a, b, a / b }'
p=$(echo "${T["picket bgsave_set"]}" | median); r=$(echo "${T["redis bgsave_set"]}" | median)
awk -v a="$p" -v b="$r" 'BEGIN { printf "%-34s %12.0f %12.0f %8.2f\n", "SET -P 16 during BGSAVE (req/s)", a, b, a / b }'
p=$(echo "${T["picket aof_set"]}" | median); r=$(echo "${T["redis aof_set"]}" | median)
awk -v a="$p" -v b="$r" 'BEGIN { printf "%-34s %12.0f %12.0f %8.2f\n", "SET -P 16, AOF everysec (req/s)", a, b, a / b }'
