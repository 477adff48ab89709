#!/usr/bin/env bash
# Throughput of the data commands of issue 15 on picket-node against redis-server, in one
# run, alternating A B A B: redis-benchmark -c 50 sending
#   pfadd         PFADD of random elements to one HyperLogLog (dense after the first rounds);
#   pfcount       PFCOUNT of one key (the cached cardinality);
#   pfcount-2     PFCOUNT of two keys (a merge of 16384 registers each time);
#   bitcount      BITCOUNT of a 64 KiB string;
#   setbit        SETBIT in a 1 MiB string (redis-benchmark's random numbers are zero-padded,
#                 which offsets refuse, so one offset, alternating values);
#   sort-100      SORT of a 100-element list of numbers;
#   sort-by-100   SORT ... BY w_* GET # of the same list (a key lookup per element);
#   geoadd        GEOADD of a new member (one position) to one geo set;
#   geosearch     GEOSEARCH ... BYRADIUS 5 km COUNT 10 ASC WITHDIST in a set of 10000 points
#                 spread over 1 x 1 degree;
# at -P 1 and -P 16. Prints requests per second and their ratio Picket/Redis, and each
# server's CPU time per request and the ratio redis/picket (medians of the rounds).
#
#   bench/commands.sh [rounds] [requests]   (PICKET=path runs another picket-node build;
#                                            TESTS="geosearch pfadd" picks tests)
. "$(dirname "$0")/lib.sh"
bench_init picket-node
ROUNDS=${1:-3}
N=${2:-100000}
start_pair

for port in $PPORT $RPORT; do
  {
    echo "SETRANGE bits 65535 x"
    echo "SETRANGE bigbits 1048575 x"
    for i in $(seq 1 100); do echo "RPUSH nums $(( (i * 7919) % 1000 ))"; echo "SET w_$(( (i * 7919) % 1000 )) $((i % 17))"; done
    for i in $(seq 1 5000); do echo "PFADD hll2 e$i"; done
    echo "PFADD hll3 a b c"
    awk 'BEGIN { srand(7); for (i = 0; i < 100; i++) { l = "GEOADD pts"; for (j = 0; j < 100; j++) l = l sprintf(" %.6f %.6f p%d", 13 + rand(), 52 + rand(), i * 100 + j); print l } }'
  } | redis-cli -p $port >/dev/null
done

TESTS=${TESTS:-"pfadd pfcount pfcount-2 bitcount setbit sort-100 sort-by-100 geoadd geosearch"}
declare -A PR RR PC RC
for P in 1 16; do
  for r in $(seq "$ROUNDS"); do
    for t in $TESTS; do
      n=$N
      case $t in
        pfadd) cmd=(pfadd hll __rand_int__) ;;
        pfcount) cmd=(pfcount hll2) ;;
        pfcount-2) n=$((N / 10)); cmd=(pfcount hll2 hll3) ;;
        bitcount) n=$((N / 5)); cmd=(bitcount bits) ;;
        setbit) cmd=(setbit bigbits 777777 $((r % 2))) ;;
        sort-100) n=$((N / 5)); cmd=(sort nums) ;;
        sort-by-100) n=$((N / 10)); cmd=(sort nums by w_* get '#') ;;
        geoadd) cmd=(geoadd gw 13.4 52.5 m__rand_int__) ;;
        geosearch) n=$((N / 5)); cmd=(geosearch pts fromlonlat 13.5 52.5 byradius 5 km count 10 asc withdist) ;;
      esac
      read -r v c < <(bench_rate $PPORT "$PP" "$P" "$n" -r 1000000 "${cmd[@]}"); PR["$P $t"]+="$v "; PC["$P $t"]+="$c "
      read -r v c < <(bench_rate $RPORT "$RP" "$P" "$n" -r 1000000 "${cmd[@]}"); RR["$P $t"]+="$v "; RC["$P $t"]+="$c "
    done
  done
done
printf '%-4s %-14s %10s %10s %8s %10s %10s %9s\n' "-P" test picket redis ratio "pk us/req" "rd us/req" "cpu ratio"
for P in 1 16; do
  for t in $TESTS; do
    pm=$(echo "${PR["$P $t"]}" | median); rm=$(echo "${RR["$P $t"]}" | median)
    pc=$(echo "${PC["$P $t"]}" | median); rc=$(echo "${RC["$P $t"]}" | median)
    awk -v P="$P" -v t="$t" -v a="$pm" -v b="$rm" -v pc="$pc" -v rc="$rc" 'BEGIN { printf "%-4s %-14s %10.0f %10.0f %8.2f %10.3f %10.3f %9.2f\n", P, t, a, b, a / b, pc, rc, (pc > 0 ? rc / pc : 0) }'
  done
done
