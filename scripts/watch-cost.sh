#!/usr/bin/env bash
# watch-cost.sh - what being watched costs a node: `shoal bench` against a
# node of its own, unwatched and watched, interleaved, ROUNDS rounds.
# Watched means a Prometheus-style scraper fetching /metrics each second
# (curl in a loop) and `shoal top --once` run in a loop (each run takes two
# samples one second apart: stats and busiest twice, pending once, about a
# second per run), both for the whole bench.
#
# Prints per run the node's CPU seconds (utime + stime of /proc/PID/stat,
# set-up included) per completed transfer and the bench's transfers/s,
# then the means and the watched/unwatched ratios.
#
#   scripts/watch-cost.sh                      # build/tools/shoal, 3 rounds
#   SHOAL=build/tools/shoal ROUNDS=5 TRANSFERS=50000 scripts/watch-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."

shoal=${SHOAL:-build/tools/shoal}
rounds=${ROUNDS:-3}
transfers=${TRANSFERS:-20000}
accounts=${ACCOUNTS:-10000}
workers=${WORKERS:-2}
concurrency=${CONCURRENCY:-256}
tick=$(getconf CLK_TCK)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-watch-XXXXXX")
node_pid="" watchers=()

stop_all() {
    for pid in "${watchers[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${watchers[@]}"; do wait "$pid" 2>/dev/null || true; done
    watchers=()
    if [ -n "$node_pid" ]; then
        kill "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
        node_pid=""
    fi
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# The node's CPU seconds so far.
cpu_seconds() {
    awk -v tick="$tick" '{ printf "%.3f", ($14 + $15) / tick }' "/proc/$1/stat"
}

# run NAME WATCHED: one bench on a fresh node; prints "tps cpu completed".
# Runs in this shell (not a subshell), so that the trap stops what it left.
run() {
    local name=$1 watched=$2 dir="$tmp/$1"
    mkdir -p "$dir"
    local endpoint="ipc://$dir/node.ipc"
    "$shoal" node --data "$dir/data" --endpoint "$endpoint" --metrics 127.0.0.1:0 \
        --workers "$workers" >"$dir/ready" 2>"$dir/log" &
    node_pid=$!
    for _ in $(seq 200); do grep -q 'ready on' "$dir/ready" && break; sleep 0.05; done
    grep -q 'ready on' "$dir/ready" || { echo "watch-cost: the node did not start" >&2; exit 1; }
    local url
    url=$(grep -o 'http://[^)]*/metrics' "$dir/ready")
    if [ "$watched" = yes ]; then
        (while :; do curl -s -o /dev/null "$url" || true; sleep 1; done) &
        watchers+=($!)
        (while :; do "$shoal" top --once --endpoint "$endpoint" >/dev/null 2>&1 || true; done) &
        watchers+=($!)
    fi
    local before after
    before=$(cpu_seconds "$node_pid")
    "$shoal" bench --endpoint "$endpoint" --accounts "$accounts" --transfers "$transfers" \
        --concurrency "$concurrency" --seed "$RANDOM" --json >"$dir/bench" 2>"$dir/bench.err"
    after=$(cpu_seconds "$node_pid")
    stop_all
    python3 - "$dir/bench" "$before" "$after" <<'EOF'
import json, sys
line = [l for l in open (sys.argv[1]) if l.startswith ("{")][-1]
b = json.loads (line)
print ("%.1f %.3f %d" % (b["transfers_per_second"], float (sys.argv[3]) - float (sys.argv[2]),
                         b["completed"]))
EOF
}

printf "%-6s %-9s %12s %10s %10s %16s\n" round watched transfers/s completed "node CPU s" "CPU ms/transfer"
results="$tmp/results"
: >"$results"
for round in $(seq "$rounds"); do
    for watched in no yes; do
        run "r$round-$watched" "$watched" >"$tmp/run"
        read -r tps cpu completed <"$tmp/run"
        per=$(awk -v c="$cpu" -v n="$completed" 'BEGIN { printf "%.4f", n ? 1000 * c / n : 0 }')
        printf "%-6s %-9s %12s %10s %10s %16s\n" "$round" "$watched" "$tps" "$completed" "$cpu" "$per"
        echo "$watched $tps $per" >>"$results"
    done
done
awk '{ tps[$1] += $2; cpu[$1] += $3; n[$1]++ }
     END {
         printf "\nmean unwatched: %.1f transfers/s, %.4f CPU ms per completed transfer\n",
                tps["no"] / n["no"], cpu["no"] / n["no"]
         printf "mean watched:   %.1f transfers/s, %.4f CPU ms per completed transfer\n",
                tps["yes"] / n["yes"], cpu["yes"] / n["yes"]
         printf "watched/unwatched: throughput %.3f, CPU per transfer %.3f\n",
                tps["yes"] / tps["no"], cpu["yes"] / cpu["no"]
     }' "$results"
