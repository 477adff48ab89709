#!/usr/bin/env bash
# Throughput of picket-node against redis-server on this machine, in one run, alternating
# A B A B: redis-benchmark -c 50 with the string tests (set, get, incr, mset) and the
# collection tests (lpush, rpush, lpop, rpop, sadd, hset, spop, zadd, zpopmin, lrange_100,
# lrange_600) at -P 1 and -P 16, each test its own redis-benchmark run. Prints requests per
# second for each and the ratio Picket/Redis, and each server's CPU time per request and their
# ratio (medians of the rounds). Then the resident memory of both, whole and per key (over the
# empty server's), each dataset loaded into fresh processes: 1,000,000 keys with 16-byte values, 1,000,000 hashes of 5 fields,
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

run() { # port pid pipeline test -> "rps cpu_us_per_request"
  local before after rps
  before=$(cpu_ns "$2")
  rps=$($PIN_C redis-benchmark -p "$1" -c 50 -n "$N" -P "$3" -t "$4" -q --csv 2>/dev/null | tail -n 1 | tr -d '"' | awk -F, '{ print $2 }')
  after=$(cpu_ns "$2")
  awk -v r="$rps" -v t=$((after - before)) -v n="$N" 'BEGIN { printf "%s %.4f\n", r, t / 1000 / n }'
}
declare -A PR RR PC RC
for P in 1 16; do
  for r in $(seq "$ROUNDS"); do
    for t in ${TESTS//,/ }; do
      read -r v c < <(run $PPORT "$PP" "$P" "$t"); PR["$P $t"]+="$v "; PC["$P $t"]+="$c "
      read -r v c < <(run $RPORT "$RP" "$P" "$t"); RR["$P $t"]+="$v "; RC["$P $t"]+="$c "
    done
  done
done
# rps: requests per second (redis-benchmark on the client CPUs; at -P 16 it uses its whole CPU
# and can be the limit). cpu/req: the server's CPU time per request, in microseconds (user +
# system; the capacity of a saturated server is its inverse). "cpu ratio" is redis/picket:
# above 1.0 Picket does the same work with less CPU.
printf '%-4s %-12s %10s %10s %8s %10s %10s %9s\n' "-P" test picket redis ratio "pk us/req" "rd us/req" "cpu ratio"
for key in "${!PR[@]}"; do echo "$key"; done | sort -k1,1n -k2 | while read -r P t; do
  pm=$(echo "${PR["$P $t"]}" | median); rm=$(echo "${RR["$P $t"]}" | median)
  pc=$(echo "${PC["$P $t"]}" | median); rc=$(echo "${RC["$P $t"]}" | median)
  awk -v P="$P" -v t="$t" -v a="$pm" -v b="$rm" -v pc="$pc" -v rc="$rc" 'BEGIN { printf "%-4s %-12s %10.0f %10.0f %8.2f %10.3f %10.3f %9.2f\n", P, t, a, b, a / b, pc, rc, (pc > 0 ? rc / pc : 0) }'
done

[ "${MEMORY:-1}" = 0 ] && exit 0
stop_server $PPORT $PP; stop_server $RPORT $RP

# Memory: each dataset is loaded into a fresh picket-node and a fresh redis-server.
rss() { awk '/VmRSS/ {print $2 * 1024}' /proc/$1/status; }
# Both the whole resident size and the part the data added (resident size over that of the
# same server empty, per key): the issue's bar is memory per key, and an empty picket-node is
# about 12 MiB larger than an empty redis-server (code, runtime, command metadata), which
# weighs on the small datasets.
memory_case() { # name loader(port)
  start_both ""
  local pk rk pr rr p0 r0
  p0=$(rss $PP); r0=$(rss $RP)
  for port in $PPORT $RPORT; do "$2" $port; done
  pk=$(redis-cli -p $PPORT dbsize); rk=$(redis-cli -p $RPORT dbsize)
  pr=$(rss $PP); rr=$(rss $RP)
  awk -v n="$1" -v pk="$pk" -v rk="$rk" -v pr="$pr" -v rr="$rr" -v p0="$p0" -v r0="$r0" 'BEGIN { printf "memory %-26s picket %d keys rss %7.1f MiB (%.0f B/key), redis %d keys rss %7.1f MiB (%.0f B/key), ratio %.2f, per key %.2f\n", n, pk, pr / 1048576, (pr - p0) / pk, rk, rr / 1048576, (rr - r0) / rk, pr / rr, ((pr - p0) / pk) / ((rr - r0) / rk) }'
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
