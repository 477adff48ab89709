#!/usr/bin/env bash
# Failover timing: picket-sentinel and redis-sentinel, each with 3 sentinels over its own
# 3 redis-server nodes (down-after-milliseconds 1000, failover-timeout 5000), rounds
# alternating between the two sides. Each round kills the current master with SIGKILL and
# measures: kill -> +switch-master seen by a client (GET-MASTER-ADDR-BY-NAME changes), kill ->
# first successful write on the new master (redis-cli polling the sentinel, and a fresh redis-py
# Sentinel client retrying as an application does), and the old master's restart -> its
# master_link_status:up as a replica. Prints the medians per side. The nodes run with
# repl-diskless-sync-delay 0 (Redis's default of 5 s would add 5 s to every rejoin, on both
# sides alike).
#
#   bench/failover.sh [rounds]
. "$(dirname "$0")/lib.sh"
# A round's steps fail on purpose (a killed master refuses connections): no -e here.
set +e
bench_init picket-sentinel
ROUNDS=${1:-5}
PICKET=$PWD/target/release/picket-sentinel
tmp=$BENCH_TMP
base=$BENCH_PORT
cleanup() {
  # Nodes restarted inside a round run in a subshell: stop them by port.
  for port in $base $((base + 1)) $((base + 2)) $((base + 100)) $((base + 101)) $((base + 102)); do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  bench_cleanup
}
trap cleanup EXIT

start_node() { # port [master-port]
  local extra=""; [ -n "${2:-}" ] && extra="--replicaof 127.0.0.1 $2"
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --repl-diskless-sync-delay 0 --dir "$tmp" --logfile "$tmp/node-$1.log" $extra >/dev/null 2>&1 &
  bench_track $!
  wait_ping "$1" 10
}

setup() { # side first-port -> nodes at P..P+2, sentinels at P+10..P+12
  local side=$1 p=$2
  start_node $p; start_node $((p+1)) $p; start_node $((p+2)) $p
  for i in 0 1 2; do
    local sp=$((p+10+i)) conf="$tmp/$side-$i.conf"
    printf "port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n" $sp "$tmp" $p > "$conf"
    if [ "$side" = picket ]; then $PICKET "$conf" --logfile "$tmp/$side-$i.log" & else redis-sentinel "$conf" --logfile "$tmp/$side-$i.log" & fi
    bench_track $!
  done
  # Wait until every sentinel knows 2 replicas and 2 peers.
  for i in 0 1 2; do
    for _ in $(seq 300); do
      out=$(redis-cli -p $((p+10+i)) sentinel master mymaster 2>/dev/null | tr '\n' ' ' || true)
      [[ "$out" == *"num-slaves 2 "* && "$out" == *"num-other-sentinels 2 "* ]] && break; sleep 0.1
    done
  done
  sleep 2
}

# ms from $2 (epoch ms) to the first write acknowledged through redis-py's Sentinel client
# asking the sentinel on port $1, started fresh after the kill, as an application retries.
py_first_write() {
  python3 - "$1" "$2" <<'PY'
import sys, time
from redis.sentinel import Sentinel
port, t0 = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 30
while time.time() < deadline:
    try:
        master = Sentinel([("127.0.0.1", port)], socket_timeout=0.2).master_for(
            "mymaster", socket_timeout=0.2)
        master.set("bench:py", "v")
        break
    except Exception:
        time.sleep(0.01)
print(int(time.time() * 1000) - t0)
PY
}

master_port() { redis-cli -p "$1" sentinel get-master-addr-by-name mymaster 2>/dev/null | sed -n 2p || true; }

round() { # side first-port -> prints "switch write rejoin" in ms
  local p=$2 s=$(( $2 + 10 ))
  local mp; mp=$(master_port $s)
  local pid; pid=$(redis-cli -p "$mp" info server | awk -F: '/^process_id/ {print $2}' | tr -d '\r')
  local t0; t0=$(ms)
  kill -9 "$pid"
  py_first_write "$s" "$t0" > "$tmp/py-$1" &
  local py=$!
  local np="$mp"
  for _ in $(seq 3000); do np=$(master_port $s); [ -n "$np" ] && [ "$np" != "$mp" ] && break; sleep 0.01; done
  local t1; t1=$(ms)
  for _ in $(seq 3000); do [ "$(redis-cli -p "$np" set bench:k v 2>/dev/null)" = OK ] && break; sleep 0.01; done
  local t2; t2=$(ms)
  start_node "$mp"
  local t3; t3=$(ms)
  for _ in $(seq 6000); do redis-cli -p "$mp" info replication 2>/dev/null | grep -q "master_link_status:up" && break; sleep 0.01; done
  local t4; t4=$(ms)
  wait "$py"
  echo "$((t1 - t0)) $((t2 - t0)) $((t4 - t3)) $(cat "$tmp/py-$1")"
  sleep 3
}

setup picket $base
setup redis $((base + 100))
declare -a PS PW PR PY RS RW RR RY
for r in $(seq "$ROUNDS"); do
  read -r a b c d < <(round picket $base); PS+=($a); PW+=($b); PR+=($c); PY+=($d)
  echo "round $r picket: switch ${a} ms, first write ${b} ms (redis-py ${d} ms), rejoin ${c} ms"
  read -r a b c d < <(round redis $((base + 100))); RS+=($a); RW+=($b); RR+=($c); RY+=($d)
  echo "round $r redis:  switch ${a} ms, first write ${b} ms (redis-py ${d} ms), rejoin ${c} ms"
done
printf '\n%-16s %12s %16s %16s %12s\n' side switch_ms first_write_ms redis_py_write rejoin_ms
printf '%-16s %12s %16s %16s %12s\n' picket-sentinel "$(echo "${PS[@]}" | median)" "$(echo "${PW[@]}" | median)" "$(echo "${PY[@]}" | median)" "$(echo "${PR[@]}" | median)"
printf '%-16s %12s %16s %16s %12s\n' redis-sentinel "$(echo "${RS[@]}" | median)" "$(echo "${RW[@]}" | median)" "$(echo "${RY[@]}" | median)" "$(echo "${RR[@]}" | median)"
