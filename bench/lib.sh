# The preamble every benchmark shares: build, CPU pinning, a temp dir, cleanup traps, ports,
# starting and stopping servers with deadlines, and the median. Source it first:
#
#   . "$(dirname "$0")/lib.sh"; bench_init picket-node
#
# After bench_init: $ROOT (the repository, the working directory), $BENCH_TMP (removed at
# exit), $PIN_S / $PIN_C (taskset prefixes: the server on the last CPU, clients on the others,
# empty with one CPU), $BENCH_PORT (a random base port in 20000-29999).
set -euo pipefail

BENCH_PIDS=()

# bench_init PACKAGE... : builds the release binaries of PACKAGEs and checks the Redis tools.
bench_init() {
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cd "$ROOT"
  for p in "$@"; do cargo build --release -q -p "$p"; done
  for t in redis-server redis-cli redis-benchmark redis-sentinel; do
    command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y redis-server redis-sentinel redis-tools" >&2; exit 1; }
  done
  PIN_S=""; PIN_C=""
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    local last=$(( $(nproc) - 1 ))
    PIN_S="taskset -c $last"; PIN_C="taskset -c 0-$((last - 1))"
  fi
  BENCH_TMP=${KEEP_DIR:-$(mktemp -d)}
  BENCH_PORT=$((20000 + RANDOM % 10000))
  trap bench_cleanup EXIT
}

# Kills every process started through start_server (and bench_track), removes the temp dir.
bench_cleanup() {
  for p in "${BENCH_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  [ -n "${KEEP_DIR:-}" ] || rm -rf "$BENCH_TMP"
}

# bench_track PID : killed at exit.
bench_track() { BENCH_PIDS+=("$1"); }

# wait_ping PORT [SECONDS] : until the server answers PONG (default 60 s); fails the script
# when the deadline passes.
wait_ping() {
  local deadline=$(( $(date +%s) + ${2:-60} ))
  until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "server on port $1 did not answer PONG" >&2; exit 1; }
    sleep 0.01
  done
}

# start_server PIN BIN PORT DIR [ARG...] : starts a node in DIR (loopback, no save points, its
# log in DIR/log), waits for PONG, and sets SERVER_PID and START_MS (process start -> PONG).
start_server() {
  local pin=$1 bin=$2 port=$3 dir=$4; shift 4
  mkdir -p "$dir"
  local t0; t0=$(date +%s%N)
  $pin "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --logfile "$dir/log" "$@" >/dev/null 2>&1 &
  SERVER_PID=$!
  bench_track "$SERVER_PID"
  wait_ping "$port"
  START_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# stop_server PORT PID : SHUTDOWN NOSAVE, then waits for the process (killed after 30 s).
stop_server() {
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
  local deadline=$(( $(date +%s) + 30 ))
  while kill -0 "$2" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { kill -9 "$2" 2>/dev/null || true; break; }
    sleep 0.01
  done
  wait "$2" 2>/dev/null || true
}

# info_field PORT SECTION FIELD : one INFO field.
info_field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'; }

# median : the median of the numbers on standard input (spaces or lines).
# The server's CPU time so far, in ns, summed over its threads (the scheduler's own account:
# user and system time, without the 10 ms ticks of /proc/PID/stat).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ms : milliseconds since the epoch.
ms() { date +%s%3N; }

# Starts picket-node ($PICKET, default target/release/picket-node) and redis-server on
# $PPORT / $RPORT, pinned to the server CPU: their pids in $PP / $RP.
start_pair() {
  PICKET=${PICKET:-target/release/picket-node}
  PPORT=$BENCH_PORT; RPORT=$((PPORT + 1))
  start_server "$PIN_S" "$PICKET" $PPORT "$BENCH_TMP/p"; PP=$SERVER_PID
  start_server "$PIN_S" redis-server $RPORT "$BENCH_TMP/r" --appendonly no; RP=$SERVER_PID
}

# bench_rate PORT PID PIPELINE REQUESTS [redis-benchmark options] COMMAND...: redis-benchmark
# -c 50 against one server; prints "requests-per-second cpu-us-per-request" (the server's
# CPU time over the run).
bench_rate() {
  local port=$1 pid=$2 p=$3 n=$4 before after rps
  shift 4
  before=$(cpu_ns "$pid")
  rps=$($PIN_C redis-benchmark -p "$port" -c 50 -n "$n" -P "$p" -q --csv "$@" 2>/dev/null | tail -n 1 | tr -d '"' | awk -F, '{ print $2 }')
  after=$(cpu_ns "$pid")
  awk -v r="$rps" -v t=$((after - before)) -v n="$n" 'BEGIN { printf "%s %.4f\n", r, t / 1000 / n }'
}
