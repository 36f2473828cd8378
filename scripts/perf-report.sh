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
#
#   scripts/perf-report.sh --pg [--shoal PATH] [--doc FILE] [--runs N] [--quick]
#                          [--transfers M] [--pg-seconds S] [--ceiling-ms MS]
#
# --pg runs shoal against PostgreSQL and against LevelDB alone instead, side
# by side in one run, each round in this order: scripts/pg-baseline.sh
# --mode uniform (64 clients, 10,000 accounts, S seconds, default 20), then
# `shoal bench --accounts 10000 --concurrency 512 --transfers M` (default
# 200000), then pg-baseline --mode hot, then the same bench with --hot 1, then
# both benches again with --node-arg=--projections=off (like for like:
# PostgreSQL's transaction keeps no read model), then `shoal bench --ceiling` (batches of 1, 64, 1000 and of the records per
# commit the two benches showed). --runs N rounds (default 1). It rewrites the
# marked section of FILE (default docs/PERFORMANCE.md) with the ratio table:
# shoal's transfers/s over PostgreSQL's, and shoal's LevelDB records/s (its
# transfers/s times its records per transfer, from the node's counters)
# over what LevelDB alone sustained at the same records per commit, and the
# node's CPU µs per completed transfer (cpu_us_per_transfer, see `shoal
# bench --help`), with the JSON lines it was made from; progress and the
# benches' stderr go to a log in $TMPDIR (or /tmp). Needs PostgreSQL
# (scripts/install-deps.sh --bench) and jq (scripts/install-deps.sh).
# About 4 minutes a round on a 2-core machine.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shoal=${SHOAL:-$root/build/tools/shoal}
out=perf-report.md
runs=3
scale=1
pg=false
doc=$root/docs/PERFORMANCE.md
pg_transfers=200000
pg_seconds=20
ceiling_ms=5000
runs_given=false
while [ $# -gt 0 ]; do
    case $1 in
    --shoal) shoal=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --runs) runs=$2; runs_given=true; shift 2 ;;
    --quick) scale=10; shift ;;
    --pg) pg=true; shift ;;
    --doc) doc=$2; shift 2 ;;
    --transfers) pg_transfers=$2; shift 2 ;;
    --pg-seconds) pg_seconds=$2; shift 2 ;;
    --ceiling-ms) ceiling_ms=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-report.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
command -v jq >/dev/null || { echo "perf-report.sh: needs jq" >&2; exit 2; }
[ -x "$shoal" ] || { echo "perf-report.sh: no shoal binary at $shoal (--shoal PATH)" >&2; exit 2; }
for n in "$runs" "$pg_transfers" "$pg_seconds" "$ceiling_ms"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "perf-report.sh: '$n' is not a positive integer" >&2; exit 2; }
done


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

# --pg: shoal against PostgreSQL and LevelDB alone, side by side (see the top).
begin_mark='<!-- perf-report.sh --pg: begin (the script rewrites everything up to the end mark) -->'
end_mark='<!-- perf-report.sh --pg: end -->'

# pg_step LABEL COMMAND...: runs COMMAND (its last stdout line is JSON) and
# appends that line to $jsonl tagged with the label, round and load.
pg_step() {
    local label=$1 line load
    shift
    load=$(load1)
    echo "== $label (round $round of $runs, load $load): $*" | tee -a "$log" >&2
    if ! line=$("$@" 2>>"$log" | tail -n 1); then
        echo "perf-report.sh: '$label' failed in round $round (see $log)" >&2
    fi
    if jq -e . >/dev/null 2>&1 <<<"$line"; then
        jq -c --arg row "$label" --arg load "$load" --argjson round "$round" \
            '. + {"row": $row, "load": ($load | tonumber), "round": $round}' <<<"$line" >>"$jsonl"
    else
        echo "perf-report.sh: '$label' printed no JSON in round $round (see $log)" >&2
    fi
}

pg_report() {
    [ -f "$doc" ] || { echo "perf-report.sh: no $doc (--doc FILE)" >&2; exit 2; }
    local dir base
    dir=${TMPDIR:-/tmp}
    base=$(basename "$doc" .md)
    jsonl=$dir/$base-pg.jsonl
    log=$dir/$base-pg.log
    : >"$jsonl"
    : >"$log"
    local transfers seconds
    transfers=$(t "$pg_transfers")
    seconds=$((pg_seconds / scale > 0 ? pg_seconds / scale : 1))
    local command
    command="scripts/perf-report.sh --pg --shoal ${shoal#"$root"/} --runs $runs --transfers $pg_transfers --pg-seconds $pg_seconds --ceiling-ms $ceiling_ms$([ "$scale" = 1 ] || echo " --quick")"
    local start load_start load_end
    start=$(date -u '+%Y-%m-%d %H:%M UTC')
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    for ((round = 1; round <= runs; round++)); do
        pg_step "pg uniform" "$root/scripts/pg-baseline.sh" --mode uniform --seconds "$seconds" --json
        pg_step "shoal uniform" "$shoal" bench --accounts 10000 --concurrency 512 --transfers "$transfers" --json
        pg_step "pg hot" "$root/scripts/pg-baseline.sh" --mode hot --seconds "$seconds" --json
        pg_step "shoal hot" "$shoal" bench --accounts 10000 --concurrency 512 --hot 1 --transfers "$transfers" --json
        # Like for like: PostgreSQL's transaction keeps no read model, so the
        # same two benches again without the bank's projections.
        pg_step "shoal uniform, projections off" "$shoal" bench --accounts 10000 --concurrency 512 \
            --transfers "$transfers" --node-arg=--projections=off --json
        pg_step "shoal hot, projections off" "$shoal" bench --accounts 10000 --concurrency 512 --hot 1 \
            --transfers "$transfers" --node-arg=--projections=off --json
        # The ceiling at the records per commit the node just showed too.
        local batches=(--batch 1 --batch 64 --batch 1000) b
        for b in $(jq -r --argjson round "$round" 'select(.round == $round and (.row | startswith("shoal ")))
                | .records_per_commit // empty | round' "$jsonl" | sort -n -u); do
            ((b >= 1 && b <= 100000)) && [ "$b" != 1 ] && [ "$b" != 64 ] && [ "$b" != 1000 ] &&
                batches+=(--batch "$b")
        done
        pg_step "ceiling" "$shoal" bench --ceiling "${batches[@]}" --ceiling-ms "$(t "$ceiling_ms")" --json
    done
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)

    section=$(mktemp)
    trap 'rm -f "$section"' EXIT
    {
        echo "$begin_mark"
        echo
        echo "Produced by \`$command\`, started $start$([ "$scale" = 1 ] || echo ", QUICK (a check of the script, not figures to publish)"):"
        echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)'),"
        echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)),"
        echo "\$TMPDIR on $(df -h "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $1}'), load average (1, 5, 15 min) $load_start at the start, $load_end at the end."
        echo "PostgreSQL $(jq -r -s 'map(select(.postgres)) | .[0].postgres // "?"' "$jsonl"), LevelDB $(jq -r -s 'map(select(.mode == "ceiling")) | .[0].leveldb // "?"' "$jsonl")."
        echo
        echo "| round | workload | PostgreSQL transfers/s | shoal transfers/s | shoal / PostgreSQL | books (pg, shoal) | shoal node CPU µs/transfer | shoal records/transfer | shoal records/commit | shoal records/s | LevelDB alone, records/s at that batch (unsynced, fsyncs beside, as shoal writes) | shoal / LevelDB alone | transfers/s LevelDB alone allows at shoal's records/transfer | load before (pg, shoal, ceiling) |"
        echo "| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        jq -r -s '
            def r(n): if . == null then "-" else (. * pow(10; n) | round) / pow(10; n) | tostring end;
            def f1: if . == null then "-" else (. * 10 | round) as $x | "\($x / 10 | floor).\($x % 10)" end;
            def div(a; b): if a == null or b == null or b == 0 then null else a / b end;
            . as $all | [.[].round] | unique | .[] as $round |
            ($all | map(select(.round == $round))) as $x |
            ($x | map(select(.row == "ceiling")) | .[0].batches // []) as $ceiling |
            ("uniform", "hot", "uniform, projections off", "hot, projections off") as $w |
            ($w | split(",") | .[0]) as $mode |
            ($x | map(select(.row == "pg " + $mode)) | .[0][$mode]) as $pg |
            ($x | map(select(.row == "shoal " + $w)) | .[0]) as $s |
            ($s.records_per_commit // null | if . == null then null else round end) as $batch |
            ($ceiling | map(select(.records_per_commit == $batch)) | .[0] | .group.records_per_second // .records_per_second) as $top |
            "| \($round) | \($w) | \($pg.transfers_per_second | r(0)) | \($s.transfers_per_second | r(0)) | " +
            "\(div($s.transfers_per_second; $pg.transfers_per_second) | f1)× | " +
            "\(if $pg == null then "-" elif $pg.balanced then "balance" else "BROKEN" end), " +
            "\(if $s == null then "-" elif $s.balanced then "balance" else "BROKEN" end) | " +
            "\($s.cpu_us_per_transfer // null | r(0)) | \($s.records_per_transfer | f1) | \($s.records_per_commit | r(0)) | \($s.records_per_second | r(0)) | " +
            "\($top | r(0)) | \(div($s.records_per_second; $top) * 100 | r(0))% | " +
            "\(div($top; $s.records_per_transfer) | r(0)) | " +
            "\([($x | map(select(.row == "pg " + $mode)) | .[0].load), $s.load,
                ($x | map(select(.row == "ceiling")) | .[0].load)] | map(f1) | join(", ")) |"' "$jsonl"
        echo
        echo "shoal's node CPU by thread, µs per completed transfer, busiest first (node_threads_us_per_transfer):"
        echo
        echo "| round | workload | threads |"
        echo "| ---: | --- | --- |"
        jq -r -s '
            .[] | select(.row != null and (.row | startswith("shoal "))) |
            "| \(.round) | \(.row | ltrimstr("shoal ")) | " +
            (if .node_threads_us_per_transfer == null then "-"
             else (.node_threads_us_per_transfer | to_entries | map("\(.key) \(.value)") | join(", ")) end) + " |"' "$jsonl"
        echo
        echo "LevelDB alone (\`shoal bench --ceiling\`, $(t "$ceiling_ms") ms per batch size, right after the benches of its round):"
        echo
        echo "| round | records per commit | synced: commits/s | records/s | MB/s | synced write p50 ms | p99 ms | unsynced, fsyncs beside: records/s | commits/s | fsyncs/s |"
        echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        jq -r -s 'def r(n): if . == null then "-" else (. * pow(10; n) | round) / pow(10; n) | tostring end;
            .[] | select(.row == "ceiling") | .round as $round | .batches[] |
            "| \($round) | \(.records_per_commit) | \(.commits_per_second | r(0)) | \(.records_per_second | r(0)) | " +
            "\(.mb_per_second | r(1)) | \(.write_ms.p50 | r(2)) | \(.write_ms.p99 | r(2)) | " +
            "\(.group.records_per_second // null | r(0)) | \(.group.commits_per_second // null | r(0)) | \(.group.syncs_per_second // null | r(0)) |"' "$jsonl"
        echo
        echo "Measured one after the other on the same machine, in the order of the"
        echo "table's columns: only the ratios of one round are meant to be compared."
        echo "The load is the 1-minute load average just before each measurement: other"
        echo "processes on the machine show there, and they slow the CPU-bound shoal node"
        echo "more than PostgreSQL, which waits on its locks and fsyncs."
        echo "PostgreSQL's transfers/s is pgbench's committed transactions per second"
        echo "(${seconds} s, 64 clients, connection set-up excluded); shoal's is completed"
        echo "transfers over the span from the first Started to the last terminal event"
        echo "($transfers transfers, 512 in flight). shoal's records are its LevelDB records"
        echo "(puts and deletes) over the same span, from the node's counters; LevelDB alone"
        echo "is read at shoal's own records per commit (rounded), written as shoal writes"
        echo "them since its group sync (without sync, a thread fsyncing the logs beside;"
        echo "the synced rate is in the second table), so the last"
        echo "column is the transfers/s the store would allow with shoal's present record"
        echo "count, if nothing else cost anything. The node's CPU µs per transfer is its"
        echo "user and system time (all threads, /proc, 10 ms ticks) from the first Start"
        echo "sent until the node was quiet (cpu_quiet in the JSON; false: until every"
        echo "transfer was seen terminal, the bench's gets included), over the completed"
        echo "transfers. The rows \"projections off\" are the same benches with"
        echo "\`--node-arg=--projections=off\`, against the same PostgreSQL run: its"
        echo "transaction keeps no read model, where shoal's node by default also keeps"
        echo "the bank's three projections (an account's transfers, the bank's totals, the"
        echo "large debits) up to date. The issue's targets are read on the rows with them."
        echo
        echo "<details><summary>The JSON lines the table was made from</summary>"
        echo
        echo '```'
        cat "$jsonl"
        echo '```'
        echo
        echo "</details>"
        echo
        echo "$end_mark"
    } >"$section"
    if grep -qF "$begin_mark" "$doc" && grep -qF "$end_mark" "$doc"; then
        awk -v begin="$begin_mark" -v end="$end_mark" -v file="$section" '
            $0 == begin { while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == end { skip = 0; next }
            !skip' "$doc" >"$doc.new"
    else
        { cat "$doc"; echo; echo "## Against PostgreSQL, and against LevelDB alone"; echo; cat "$section"; } >"$doc.new"
    fi
    mv "$doc.new" "$doc"
    rm -f "$section"
    echo "perf-report.sh: rewrote the --pg section of $doc (log: $log)" >&2
    sed -n '/^| round | workload/,/^$/p' "$doc"
}

if $pg; then
    $runs_given || runs=1
    pg_report
    exit 0
fi

jsonl=$out.jsonl
log=$out.log
: >"$jsonl"
: >"$log"
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

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
