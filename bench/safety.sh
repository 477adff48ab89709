#!/usr/bin/env bash
# Acknowledged writes through faults (tests/safety/partition.py: network namespaces, needs
# root), for Picket and real Redis side by side, then one table: per scenario and side, the
# writes acknowledged and lost, INCR results handed out twice, the longest time without an
# acknowledged write, and the most masters acknowledging at one instant.
#
#   bash bench/safety.sh [ROUNDS] [CUT_SECONDS] [SCENARIO...]
#       (defaults: 5 rounds, 15 s, every scenario; SIDES="redis redis+m picket picket+m fencing")
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cut=${2:-15}
shift $(($# < 2 ? $# : 2))
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    scenarios=(isolate-master master-from-sentinels isolate-replica sentinel-majority pause-master failovers kill-master)
fi
sides=${SIDES:-redis redis+m picket picket+m fencing}
cargo build --release -q -p picket-node -p picket-sentinel
out=$(mktemp)
for sc in "${scenarios[@]}"; do
    for side in $sides; do
        case $side in
            redis) args=(--kind redis) ;;
            redis+m) args=(--kind redis --mitigation) ;;
            picket) args=(--kind picket) ;;
            picket+m) args=(--kind picket --mitigation) ;;
            fencing) args=(--kind picket --fencing) ;;
            *) echo "unknown side $side" >&2; exit 2 ;;
        esac
        python3 tests/safety/partition.py --scenario "$sc" --rounds "$rounds" --cut "$cut" "${args[@]}" \
            | tail -1 >>"$out"
    done
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'scenario':<22} {'side':<36} {'rounds':>6} {'acked':>7} {'lost':>6} {'lost %':>6} "
      f"{'dup INCR':>8} {'unwritable s':>12} {'masters':>7}")
for r in rows:
    side = ("redis-server 7.0" if r["kind"] == "redis" else "picket") + (
        " + min-replicas-to-write 1" if r["mitigation"] else "") + (" fencing" if r["fencing"] else "")
    print(f"{r['scenario']:<22} {side:<36} {r['rounds']:>6} {r['acked']:>7} {r['lost']:>6} "
          f"{r['lost_pct']:>6} {r['incr_duplicates']:>8} {r['unwritable_s']:>12} {r['max_masters']:>7}")
PY
rm -f "$out"
