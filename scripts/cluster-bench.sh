#!/usr/bin/env bash
# Cluster figures for docs/PERFORMANCE.md: `shoal bench` on a node alone,
# on a cluster of one (CURVE on the client link), and on clusters of 2 and 3
# nodes (most transfers cross nodes), interleaved ROUNDS times in one run so
# that the machine's drift hits every configuration alike. Prints the median
# transfers/s and p99 of each, and ratios to the node alone.
#
#   scripts/cluster-bench.sh [ROUNDS] [TRANSFERS]      (defaults 3, 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
shoal=build/tools/shoal
rounds=${1:-3}
transfers=${2:-20000}
[ -x "$shoal" ] || ./build.sh build >/dev/null
configs=("alone:" "cluster1:--nodes 1" "cluster2:--nodes 2" "cluster3:--nodes 3")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
    for config in "${configs[@]}"; do
        name=${config%%:*} args=${config#*:}
        # shellcheck disable=SC2086
        "$shoal" bench --accounts 10000 --transfers "$transfers" --concurrency 256 \
            --workers 2 --seed "$round" --json $args 2>/dev/null | tail -1 >>"$out/$name"
        echo "round $round $name: $(tail -1 "$out/$name" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["transfers_per_second"], "transfers/s, p99", r["latency_ms"]["p99"], "ms, balanced", r["balanced"])')" >&2
    done
done
python3 - "$out" "${configs[@]}" <<'PY'
import json, statistics, sys
out, configs = sys.argv[1], [c.split(":")[0] for c in sys.argv[2:]]
rows = {}
for name in configs:
    runs = [json.loads(line) for line in open(f"{out}/{name}")]
    assert all(r["balanced"] for r in runs), name
    rows[name] = (statistics.median(r["transfers_per_second"] for r in runs),
                  statistics.median(r["latency_ms"]["p99"] for r in runs), len(runs))
base = rows[configs[0]][0]
print("| configuration | transfers/s (median) | p99 ms | ratio to a node alone | runs |")
print("| --- | ---: | ---: | ---: | ---: |")
for name in configs:
    tps, p99, n = rows[name]
    print(f"| {name} | {tps:,.0f} | {p99:.0f} | {tps / base:.2f} | {n} |")
PY
