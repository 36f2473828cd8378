#!/usr/bin/env bash
# perf-report.sh - runs the throughput matrix with `shoal bench --json`, plus
# --recovery and --memory, and writes a markdown report.
#
#   scripts/perf-report.sh [--shoal PATH] [--out FILE] [--runs N] [--quick]
#
# Each row runs N times (default 3) on a node of its own; the table shows the
# median of each figure over the runs (separately: the p99 shown may come from
# another run than the throughput) and the lowest and highest throughput. The
# 1-minute load average is taken before each run: other processes on the
# machine show there. The raw JSON lines go next to the report (FILE.jsonl),
# the bench's progress and the node's stderr to FILE.log.
#
# --quick divides every transfer count, the recovery journal and the memory
# accounts by 10: a check that the script works, not figures to publish.
# About 10 minutes on a 2-core machine with --runs 3.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shoal=${SHOAL:-$root/build/tools/shoal}
out=perf-report.md
runs=3
scale=1
while [ $# -gt 0 ]; do
    case $1 in
    --shoal) shoal=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --quick) scale=10; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-report.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
command -v jq >/dev/null || { echo "perf-report.sh: needs jq" >&2; exit 2; }
[ -x "$shoal" ] || { echo "perf-report.sh: no shoal binary at $shoal (--shoal PATH)" >&2; exit 2; }

jsonl=$out.jsonl
log=$out.log
: >"$jsonl"
: >"$log"
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }

# bench LABEL ARGS...: runs `shoal bench ARGS --json` $runs times; appends one
# line per run to the JSONL file, tagged with the label and the load average.
bench() {
    local label=$1 i line load
    shift
    for ((i = 1; i <= runs; i++)); do
        load=$(load1)
        echo "== $label (run $i of $runs, load $load): shoal bench $* --json" | tee -a "$log" >&2
        if ! line=$("$shoal" bench "$@" --json 2>>"$log" | tail -n 1); then
            echo "perf-report.sh: '$label' run $i failed (see $log)" >&2
        fi
        if jq -e . >/dev/null 2>&1 <<<"$line"; then
            jq -c --arg row "$label" --arg load "$load" --arg args "$*" \
                '. + {"row": $row, "load": ($load | tonumber), "args": $args}' <<<"$line" >>"$jsonl"
        fi
    done
    echo "$label" >>"$rows"
}

t() { echo $(($1 / scale)); }

start=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for c in 1 8 16 64 256 1024; do
    case $c in
    1) n=10000 ;; 8) n=30000 ;; 16) n=50000 ;; *) n=100000 ;;
    esac
    bench "concurrency $c" --accounts 10000 --concurrency "$c" --transfers "$(t $n)"
done
bench "accounts 1k" --accounts 1000 --concurrency 256 --transfers "$(t 100000)"
bench "accounts 100k" --accounts 100000 --concurrency 256 --transfers "$(t 100000)"
bench "accounts 1M" --accounts "$(t 1000000)" --concurrency 256 --transfers "$(t 100000)"
bench "hot 1" --accounts 10000 --concurrency 256 --hot 1 --transfers "$(t 100000)"
bench "async" --accounts 10000 --concurrency 256 --durability async --transfers "$(t 100000)"
bench "recovery" --recovery "$(t 1000000)" --replay "$(t 200000)"
bench "memory" --memory "$(t 1000000)"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# The median of each figure over a row's runs.
jq_lib='def median: map(select(. != null)) | sort |
          if length == 0 then null
          elif length % 2 == 1 then .[length / 2 | floor]
          else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def r(n): if . == null then "-" else (. * pow(10; n) | round) / pow(10; n) | tostring end;'

{
    echo "# shoal bench report"
    echo
    echo "- started $start; $runs run(s) per row, medians shown$([ "$scale" = 1 ] || echo "; QUICK (counts / 10)")"
    echo "- commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "- machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
        "$(free -g | awk '/^Mem:/ {print $2 " GiB RAM"}'), kernel $(uname -r)"
    echo "- disk of \$TMPDIR (${TMPDIR:-/tmp}): $(df -h "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $1 ", " $2 " (" $5 " used)"}')"
    echo "- load average (1, 5, 15 min): $load_start at the start, $load_end at the end"
    echo
    echo "## Transfers"
    echo
    echo "| row | accounts | in flight | hot | durability | transfers | transfers/s (min-max) | p50 ms | p99 ms | p99.9 ms | events/s | commits/s | records/commit | outbox re-sends | peak RSS MB | books | load |"
    echo "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    while read -r label; do
        case $label in recovery | memory) continue ;; esac
        jq -r -s --arg row "$label" "$jq_lib"'
            map(select(.row == $row)) as $x | if ($x | length) == 0 then "| \($row) | failed | | | | | | | | | | | | | | | |" else
            "| \($row) | \($x[0].accounts) | \($x[0].concurrency) | \(if $x[0].hot > 0 then $x[0].hot else "off" end) | \($x[0].durability) | \($x[0].transfers) | " +
            "\($x | map(.transfers_per_second) | median | r(0)) (\($x | map(.transfers_per_second) | min | r(0))-\($x | map(.transfers_per_second) | max | r(0))) | " +
            "\($x | map(.latency_ms.p50) | median | r(1)) | \($x | map(.latency_ms.p99) | median | r(1)) | \($x | map(.latency_ms.p999) | median | r(1)) | " +
            "\($x | map(.events_per_second) | median | r(0)) | \($x | map(.commits_per_second) | median | r(0)) | \($x | map(.records_per_commit) | median | r(1)) | " +
            "\($x | map(.resends) | median | r(0)) | \($x | map(.peak_rss_kb) | median | . / 1024 | r(0)) | " +
            "\(if ($x | all(.balanced)) then "balance" else "BROKEN" end) (\($x | length) runs) | \($x | map(.load) | median | r(2)) |" end' "$jsonl"
    done <"$rows"
    echo
    echo "transfers/s: completed transfers over the span from the first Started event to the"
    echo "last terminal one (journal timestamps). Latency: Started to terminal event per"
    echo "transfer (1 ms steps). Node figures over the transfers, from its counters."
    echo
    echo "## Recovery"
    echo
    echo "| journal events | written at events/s | on disk MB | restart: ready ms | restart: first answer ms | idle restarts: first answer ms | replay events | full replay ms | replay events/s | from snapshot ms | load |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    jq -r -s "$jq_lib"'map(select(.row == "recovery")) as $x | if ($x | length) == 0 then "| failed | | | | | | | | | | |" else
        "| \($x[0].events) | \($x | map(.write_events_per_second) | median | r(0)) | \($x | map(.data_mb) | median | r(0)) | " +
        "\($x | map(.ready_ms) | median | r(0)) (\($x | map(.ready_ms) | min | r(0))-\($x | map(.ready_ms) | max | r(0))) | " +
        "\($x | map(.first_answer_ms) | median | r(0)) (\($x | map(.first_answer_ms) | min | r(0))-\($x | map(.first_answer_ms) | max | r(0))) | " +
        "\($x | map(.first_answer_ms_samples[1:][]) | median | r(0)) | \($x[0].replay_events) | \($x | map(.full_replay_ms) | median | r(1)) | " +
        "\($x | map(.full_replay_events_per_second) | median | r(0)) | \($x | map(.snapshot_replay_ms) | median | r(2)) | \($x | map(.load) | median | r(2)) |" end' "$jsonl"
    echo
    echo "Restart: from just before the spawn of a node killed with SIGKILL right after"
    echo "writing the journal (median over runs, min-max). Idle restarts: the same node"
    echo "killed again with nothing written since. Replay: first \`get\` of one account"
    echo "with that many events, after a restart (page cache warm)."
    echo
    echo "## Memory"
    echo
    echo "| accounts | state bytes | opened: RSS before-after MB | opened: bytes/actor | opened: second half | get only: RSS before-after MB | get only: bytes/actor | get only: second half | load |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    jq -r -s "$jq_lib"'map(select(.row == "memory")) as $x | if ($x | length) == 0 then "| failed | | | | | | | | |" else
        "| \($x[0].accounts) | \($x[0].state_bytes) | " +
        "\($x | map(.open.rss_before_kb) | median | . / 1024 | r(0))-\($x | map(.open.rss_after_kb) | median | . / 1024 | r(0)) | " +
        "\($x | map(.open.bytes_per_actor) | median | r(0)) | \($x | map(.open.marginal_bytes_per_actor) | median | r(0)) | " +
        "\($x | map(.get.rss_before_kb) | median | . / 1024 | r(0))-\($x | map(.get.rss_after_kb) | median | . / 1024 | r(0)) | " +
        "\($x | map(.get.bytes_per_actor) | median | r(0)) | \($x | map(.get.marginal_bytes_per_actor) | median | r(0)) | \($x | map(.load) | median | r(2)) |" end' "$jsonl"
    echo
    echo "Bytes per actor: growth of the node's VmRSS divided by its active actors; both"
    echo "include LevelDB's block cache (64 MiB at most), \"opened\" its memtables too."
} >"$out"
echo "perf-report.sh: wrote $out (raw: $jsonl, log: $log)" >&2
