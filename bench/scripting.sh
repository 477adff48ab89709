#!/usr/bin/env bash
# Scripting throughput of picket-node against redis-server, in one run, alternating A B A B:
# redis-benchmark -c 50 sending
#   evalsha-1line   EVALSHA of `return 1` (the per-script overhead), at -P 1 and -P 16;
#   incr-100        EVALSHA of a script doing 100 redis.call('INCR', KEYS[1]) (the cost of
#                   redis.call), at -P 1 and -P 16.
# Prints requests per second and their ratio Picket/Redis, and each server's CPU time per
# request and the ratio redis/picket (medians of the rounds).
#
#   bench/scripting.sh [rounds] [requests]   (PICKET=path runs another picket-node build)
. "$(dirname "$0")/lib.sh"
bench_init picket-node
ROUNDS=${1:-3}
N=${2:-200000}
start_pair

ONE='return 1'
INCR='for i = 1, 100 do redis.call("INCR", KEYS[1]) end return 1'
for port in $PPORT $RPORT; do
  redis-cli -p $port script load "$ONE" >/dev/null
  redis-cli -p $port script load "$INCR" >/dev/null
done
SHA_ONE=$(redis-cli -p $RPORT script load "$ONE")
SHA_INCR=$(redis-cli -p $RPORT script load "$INCR")

declare -A PR RR PC RC
for P in 1 16; do
  for r in $(seq "$ROUNDS"); do
    for t in evalsha-1line incr-100; do
      case $t in
        evalsha-1line) n=$N; cmd=(evalsha "$SHA_ONE" 0) ;;
        incr-100) n=$((N / 10)); cmd=(evalsha "$SHA_INCR" 1 counter) ;;
      esac
      read -r v c < <(bench_rate $PPORT "$PP" "$P" "$n" "${cmd[@]}"); PR["$P $t"]+="$v "; PC["$P $t"]+="$c "
      read -r v c < <(bench_rate $RPORT "$RP" "$P" "$n" "${cmd[@]}"); RR["$P $t"]+="$v "; RC["$P $t"]+="$c "
    done
  done
done
printf '%-4s %-14s %10s %10s %8s %10s %10s %9s\n' "-P" test picket redis ratio "pk us/req" "rd us/req" "cpu ratio"
for key in "${!PR[@]}"; do echo "$key"; done | sort -k1,1n -k2 | while read -r P t; do
  pm=$(echo "${PR["$P $t"]}" | median); rm=$(echo "${RR["$P $t"]}" | median)
  pc=$(echo "${PC["$P $t"]}" | median); rc=$(echo "${RC["$P $t"]}" | median)
  awk -v P="$P" -v t="$t" -v a="$pm" -v b="$rm" -v pc="$pc" -v rc="$rc" 'BEGIN { printf "%-4s %-14s %10.0f %10.0f %8.2f %10.3f %10.3f %9.2f\n", P, t, a, b, a / b, pc, rc, (pc > 0 ? rc / pc : 0) }'
done
