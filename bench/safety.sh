#!/usr/bin/env bash
# Acknowledged writes lost when the master is cut off with one sentinel and one writing client
# (tests/safety/partition.py: network namespaces, needs root), for Picket and real Redis side
# by side, then one table.
#
#   bash bench/safety.sh [ROUNDS] [CUT_SECONDS]      (defaults: 5 rounds, 15 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cut=${2:-15}
cargo build --release -q -p picket-node -p picket-sentinel
out=$(mktemp)
run() {
    python3 tests/safety/partition.py --rounds "$rounds" --cut "$cut" "$@" | tail -1 >>"$out"
}
run --kind redis
run --kind redis --mitigation
run --kind picket
run --kind picket --mitigation
run --kind picket --fencing
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'side':<42} {'rounds':>6} {'acked':>8} {'lost':>7} {'lost %':>7} {'dup INCR':>9}")
for r in rows:
    side = ("redis-server 7.0" if r["kind"] == "redis" else "picket") + (
        " + min-replicas-to-write 1" if r["mitigation"] else "") + (" fencing" if r["fencing"] else "")
    print(f"{side:<42} {r['rounds']:>6} {r['acked']:>8} {r['lost']:>7} {r['lost_pct']:>7} {r['incr_duplicates']:>9}")
PY
rm -f "$out"
