#!/usr/bin/env bash
# projection-bench.sh - what projections cost and how fast they rebuild,
# measured side by side on this machine in one run (docs/PERFORMANCE.md,
# "Projections"):
#
#   1. command throughput with the bank's projections live against none:
#      `shoal bench --endpoint` on a node started with --projections on,
#      then off, alternately (ROUNDS times each), with the largest lag the
#      projections showed during each "on" run (sampled every 100 ms);
#   2. the rebuild speed over a store of EVENTS events: the store is
#      filled with projections off, then the node starts with them on and
#      every bank projection builds from position 0 (at once); then
#      `rebuild bank_totals` builds that one again, alone, beside the
#      one served, until it takes over.
#
# Usage: scripts/projection-bench.sh [--shoal BIN] [--events N]
#            [--transfers N] [--rounds N] [--json]
#   --shoal BIN      the shoal binary (default build-rel/tools/shoal, built
#                    as Release if missing)
#   --events N       events in the store for the rebuild (default 1000000)
#   --transfers N    transfers per throughput run (default 30000)
#   --rounds N       on/off pairs (default 2)
#   --json           one JSON line at the end
#
# Example: scripts/projection-bench.sh --events 200000 --rounds 1
set -euo pipefail
cd "$(dirname "$0")/.."

shoal=build-rel/tools/shoal events=1000000 transfers=30000 rounds=2 json=0
while [ $# -gt 0 ]; do
    case "$1" in
        --shoal) shoal=$2; shift 2 ;;
        --events) events=$2; shift 2 ;;
        --transfers) transfers=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --json) json=1; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "projection-bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [ ! -x "$shoal" ]; then
    cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-rel --parallel "$(nproc)" --target shoal >/dev/null
fi
python=/usr/bin/python3
dir=$(mktemp -d /tmp/shoal-projbench.XXXXXX)
node_pid=
cleanup() {
    [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# start_node DATA on|off: a node on an ipc endpoint in $dir, waits for ready.
start_node() {
    local data=$1 projections=$2
    rm -f "$dir/node.out"
    "$shoal" node --data "$data" --endpoint "ipc://$dir/node.ipc" --metrics off \
        --projections "$projections" --log-level warn >"$dir/node.out" 2>>"$dir/node.log" &
    node_pid=$!
    for _ in $(seq 300); do
        grep -q "ready" "$dir/node.out" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "projection-bench.sh: the node did not start (see $dir/node.log)" >&2
    exit 1
}

stop_node() {
    kill "$node_pid" && wait "$node_pid" 2>/dev/null || true
    node_pid=
}

# The projections' state as "end max_lag all_live" (a Python client).
probe() {
    "$python" - "ipc://$dir/node.ipc" "$@" <<'EOF'
import sys, time
sys.path.insert(0, "examples/python")
import shoal_client as sc
endpoint, mode = sys.argv[1], sys.argv[2]
client = sc.Client(endpoint)
def state():
    reply = client.request(sc.QUERY, "node/projections", "projections")
    builds = [b for b in reply.data["projections"] if b["registered"]]
    lag = max([b["lag"] for b in builds] or [0])
    return reply.data["end"], lag, all(b["lag"] == 0 for b in builds)
if mode == "watch":  # the largest lag until the file sys.argv[3] appears
    import os
    worst = 0
    while not os.path.exists(sys.argv[3]):
        worst = max(worst, state()[1])
        time.sleep(0.1)
    print(worst)
elif mode == "rebuild":  # seconds until every projection has caught up
    start = time.monotonic()
    while True:
        end, lag, live = state()
        if live:
            print("%.3f %d" % (time.monotonic() - start, end))
            break
        time.sleep(0.05)
elif mode == "rebuild-one":  # `shoal projections rebuild NAME`, until it serves
    name = sys.argv[3]
    def served():
        reply = client.request(sc.QUERY, "node/projections", "projections")
        return [b for b in reply.data["projections"] if b["name"] == name and b["served"]][0]
    before = served()["build"]
    start = time.monotonic()
    reply = client.request(sc.QUERY, "node/projections", "projection_control",
                           {"action": "rebuild", "name": name})
    assert reply.ok, reply
    while True:
        now = served()
        if now["build"] != before and now["lag"] == 0:
            print("%.3f %d" % (time.monotonic() - start, now["position"]))
            break
        time.sleep(0.02)
EOF
}

bench() {   # bench -> transfers/s
    "$shoal" bench --endpoint "ipc://$dir/node.ipc" --accounts 10000 --concurrency 512 \
        --transfers "$transfers" --json 2>/dev/null | "$python" -c \
        'import json,sys; print(int(json.loads(sys.stdin.read().strip().splitlines()[-1])["transfers_per_second"]))'
}

echo "projection-bench: $rounds on/off pairs of $transfers transfers; rebuild over $events events"
on_rates=() off_rates=() lags=()
for round in $(seq "$rounds"); do
    for mode in on off; do
        rm -rf "$dir/data"
        start_node "$dir/data" "$mode"
        rm -f "$dir/done"
        if [ "$mode" = on ]; then
            probe watch "$dir/done" >"$dir/lag" &
            watcher=$!
        fi
        rate=$(bench)
        touch "$dir/done"
        if [ "$mode" = on ]; then
            wait "$watcher"
            lags+=("$(cat "$dir/lag")")
            on_rates+=("$rate")
            echo "  round $round: projections on:  $rate transfers/s, largest lag ${lags[-1]} events"
        else
            off_rates+=("$rate")
            echo "  round $round: projections off: $rate transfers/s"
        fi
        stop_node
    done
done

# The rebuild: fill a store with projections off, then start with them on.
rm -rf "$dir/big"
start_node "$dir/big" off
# About 5 events per completed transfer (Started, Debited, Credited on the
# accounts, and the saga's own), as `shoal bench` reports.
fill=$((events / 5))
"$shoal" bench --endpoint "ipc://$dir/node.ipc" --accounts 10000 --concurrency 512 \
    --transfers "$fill" --json >/dev/null 2>&1
stop_node
start_node "$dir/big" on
read -r seconds end < <(probe rebuild)
rebuild_rate=$("$python" -c "print(int($end / $seconds))")
echo "  first build of the bank's projections over $end events: $seconds s, $rebuild_rate events/s"
read -r totals_seconds totals_end < <(probe rebuild-one bank_totals)
stop_node
totals_rate=$("$python" -c "print(int($totals_end / $totals_seconds))")
echo "  rebuild of bank_totals alone (shoal projections rebuild) over $totals_end events: $totals_seconds s, $totals_rate events/s"

summary=$("$python" - "${on_rates[*]}" "${off_rates[*]}" "${lags[*]}" "$end" "$seconds" \
    "$totals_seconds" <<'EOF'
import json, sys
on = [int(x) for x in sys.argv[1].split()]
off = [int(x) for x in sys.argv[2].split()]
lags = [int(x) for x in sys.argv[3].split()]
end, seconds = int(sys.argv[4]), float(sys.argv[5])
mean = lambda xs: sum(xs) / len(xs)
print(json.dumps({"on_transfers_per_s": on, "off_transfers_per_s": off,
                  "ratio_on_off": round(mean(on) / mean(off), 3), "largest_lag": max(lags),
                  "rebuild_events": end, "rebuild_seconds": seconds,
                  "rebuild_events_per_s": int(end / seconds),
                  "bank_totals_rebuild_seconds": float(sys.argv[6]),
                  "bank_totals_rebuild_events_per_s": int(end / float(sys.argv[6]))}))
EOF
)
if [ "$json" = 1 ]; then
    echo "$summary"
else
    "$python" -c 'import json,sys; d=json.loads(sys.argv[1]); print("  throughput with projections / without: %.2f (largest lag %d events)" % (d["ratio_on_off"], d["largest_lag"]))' "$summary"
fi
