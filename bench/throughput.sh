#!/usr/bin/env bash
# Throughput of picket-node against redis-server on this machine, in one run, alternating
# A B A B: redis-benchmark -c 50 with the string tests (set, get, incr, mset) and the
# collection tests (lpush, rpush, lpop, rpop, sadd, hset, spop, zadd, zpopmin, lrange_100,
# lrange_600) at -P 1 and -P 16. Prints requests per second for each and the ratio
# Picket/Redis (median of the rounds). Then the resident memory of both, each dataset loaded
# into fresh processes: 1,000,000 keys with 16-byte values, 1,000,000 hashes of 5 fields,
# 100,000 sorted sets of 10 members.
#
#   bench/throughput.sh [rounds] [requests]   (TESTS=... picks tests, MEMORY=0 skips memory,
#                                             PICKET=path runs another picket-node build)
. "$(dirname "$0")/lib.sh"
bench_init picket-node
ROUNDS=${1:-3}
N=${2:-200000}
TESTS=${TESTS:-set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_600}
PICKET=${PICKET:-target/release/picket-node}
tmp=$BENCH_TMP
PPORT=$BENCH_PORT; RPORT=$((PPORT + 1))
start_both() { # pin
  start_server "$1" $PICKET $PPORT "$tmp/p" --enable-debug-command yes; PP=$SERVER_PID
  start_server "$1" redis-server $RPORT "$tmp/r" --appendonly no --enable-debug-command yes; RP=$SERVER_PID
}
# The servers run on the last CPU and redis-benchmark on the others, so the client does not
# steal the server's core (the ratios are much steadier).
start_both "$PIN_S"

run() { # port pipeline -> lines "TEST rps"
  $PIN_C redis-benchmark -p "$1" -c 50 -n "$N" -P "$2" -t "$TESTS" -q --csv 2>/dev/null | tail -n +2 | tr -d '"' | awk -F, '{gsub(/ /, "_", $1); print $1, $2}'
}
declare -A PR RR
for P in 1 16; do
  for r in $(seq "$ROUNDS"); do
    while read -r t v; do PR["$P $t"]+="$v "; done < <(run $PPORT $P)
    while read -r t v; do RR["$P $t"]+="$v "; done < <(run $RPORT $P)
  done
done
printf '%-4s %-22s %12s %12s %8s\n' "-P" test picket redis ratio
for key in "${!PR[@]}"; do echo "$key"; done | sort -k1,1n -k2 | while read -r P t; do
  pm=$(echo "${PR["$P $t"]}" | median); rm=$(echo "${RR["$P $t"]}" | median)
  awk -v P="$P" -v t="$t" -v a="$pm" -v b="$rm" 'BEGIN { printf "%-4s %-22s %12.0f %12.0f %8.2f\n", P, t, a, b, a / b }'
done

[ "${MEMORY:-1}" = 0 ] && exit 0
stop_server $PPORT $PP; stop_server $RPORT $RP

# Memory: each dataset is loaded into a fresh picket-node and a fresh redis-server.
rss() { awk '/VmRSS/ {print $2 * 1024}' /proc/$1/status; }
memory_case() { # name loader(port)
  start_both ""
  for port in $PPORT $RPORT; do "$2" $port; done
  local pk rk pr rr
  pk=$(redis-cli -p $PPORT dbsize); rk=$(redis-cli -p $RPORT dbsize)
  pr=$(rss $PP); rr=$(rss $RP)
  awk -v n="$1" -v pk="$pk" -v rk="$rk" -v pr="$pr" -v rr="$rr" 'BEGIN { printf "memory %-26s picket %d keys rss %7.1f MiB, redis %d keys rss %7.1f MiB, ratio %.2f\n", n, pk, pr / 1048576, rk, rr / 1048576, pr / rr }'
  stop_server $PPORT $PP; stop_server $RPORT $RP
}
load_strings() { redis-cli -p "$1" debug populate 1000000 key 16 >/dev/null; }
load_hashes() {
  awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "HSET hash:%d name user%d email u%d@example.com age %d city c%d score %d\r\n", i, i, i, i % 90, i % 500, i }' |
    redis-cli -p "$1" --pipe >/dev/null
}
load_zsets() {
  awk 'BEGIN { for (i = 0; i < 100000; i++) { printf "ZADD board:%d", i; for (j = 0; j < 10; j++) printf " %d player:%d", (i * 7 + j * 13) % 1000, j; printf "\r\n" } }' |
    redis-cli -p "$1" --pipe >/dev/null
}
memory_case "1M strings (16 bytes)" load_strings
memory_case "1M hashes (5 fields)" load_hashes
memory_case "100k zsets (10 members)" load_zsets
