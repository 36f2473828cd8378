#!/usr/bin/env bash
# side-by-side.sh - two `shoal bench` runs at the same time, round after
# round, compared by the node's CPU per completed transfer.
#
#   scripts/side-by-side.sh [--rounds N] [--transfers M] [--jsonl FILE] A B
#
# A and B are each LABEL=COMMAND[::BENCH ARGS]: COMMAND runs shoal (a path,
# or `env VAR=1 path`), BENCH ARGS are added to `bench --accounts 10000
# --concurrency 512 --transfers M --json` (default M 150000). Examples:
#
#   scripts/side-by-side.sh main=build/tools/shoal \
#       'off=build/tools/shoal::--node-arg=--projections=off'
#   scripts/side-by-side.sh --rounds 5 old=/tmp/old/build/tools/shoal \
#       new=build/tools/shoal
#
# Why at the same time: this machine's speed drifts by up to 2x from one
# minute to the next (a neighbour's load, not our own), and every thread's
# CPU per transfer drifts with it, so two runs one after the other differ
# by 15-30 % with nothing changed. Two runs at once share whatever the
# machine gives: their CPU per transfer differs by 1-3 % with nothing
# changed (an A/A run, docs/PERFORMANCE.md). Each node gets about half of
# the machine, so the transfers/s printed are not the node's peak: compare
# the CPU per transfer, the figure a change of code moves.
#
# Prints one line a round and side, then B's CPU per transfer over A's for
# each round and their median; with --jsonl, each bench's JSON line with
# its label and round. Exits 1 if a bench fails (its books do not balance,
# say: the reason is shown) or gives no CPU figure, 2 on a usage error.
# About 40 s a round on a 2-core machine.
set -euo pipefail
export LC_ALL=C # printf's %f reads "50.0" in every locale

rounds=3
transfers=150000
jsonl=
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "side-by-side.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --rounds|--transfers|--jsonl)
        [ $# -ge 2 ] || die "$1 needs a value (see --help)"
        case $1 in
        --rounds) rounds=$2 ;;
        --transfers) transfers=$2 ;;
        --jsonl) jsonl=$2 ;;
        esac
        shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
    esac
done
if [ $# -ne 2 ] || [[ $1 != *=* ]] || [[ $2 != *=* ]]; then
    die "give two sides, LABEL=COMMAND[::BENCH ARGS] (see --help)"
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds takes a number of 1 or more, not '$rounds'"
[[ $transfers =~ ^[1-9][0-9]*$ ]] || die "--transfers takes a number of 1 or more, not '$transfers'"
command -v jq >/dev/null || die "needs jq (scripts/install-deps.sh)"

labels=() commands=() extras=()
for side in "$1" "$2"; do
    labels+=("${side%%=*}")
    rest=${side#*=}
    commands+=("${rest%%::*}")
    if [[ $rest == *::* ]]; then extras+=("${rest#*::}"); else extras+=(""); fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/side-by-side.XXXXXX")
pids=()
# Killed or interrupted, the script stops its benches, and each bench's
# node goes with it (bench/node_child.c: the parent's death signals it).
stop() {
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM
[ -n "$jsonl" ] && : > "$jsonl"

# Why a side failed: the bench's problem (the books, say) from its JSON
# line if it printed one, and the end of its stderr.
s_failed() {
    local i=$1
    echo "side-by-side.sh: ${labels[$i]}'s bench failed (round $round):" >&2
    grep '^{' "$work/$i/out" 2>/dev/null | tail -n 1 | jq -r '.problem // empty' >&2 || true
    grep -E 'books balance|broken' "$work/$i/out" >&2 || true
    tail -n 5 "$work/$i/err" >&2
    exit 1
}

ratios=()
for round in $(seq 1 "$rounds"); do
    pids=()
    for i in 0 1; do
        mkdir -p "$work/$i"
        set -f # the command and the bench args split into words, not file names
        # shellcheck disable=SC2086
        ${commands[$i]} bench --accounts 10000 --concurrency 512 --transfers "$transfers" \
            --json ${extras[$i]} >"$work/$i/out" 2>"$work/$i/err" &
        pids+=($!)
        set +f
    done
    # The first to fail stops the other: its round is lost anyway.
    failed=-1
    left=("${pids[@]}")
    while [ ${#left[@]} -gt 0 ]; do
        rc=0
        wait -n -p done_pid "${left[@]}" || rc=$?
        if [ "$rc" -ne 0 ] && [ $failed -lt 0 ]; then
            [ "$done_pid" = "${pids[0]}" ] && failed=0 || failed=1
            kill "${pids[@]}" 2>/dev/null || true
        fi
        rest=()
        for pid in "${left[@]}"; do [ "$pid" = "$done_pid" ] || rest+=("$pid"); done
        left=("${rest[@]}")
    done
    pids=()
    [ $failed -ge 0 ] && s_failed $failed
    cpu=()
    for i in 0 1; do
        line=$(grep '^{' "$work/$i/out" | tail -n 1 || true)
        jq -e '.cpu_us_per_transfer > 0' >/dev/null 2>&1 <<<"$line" || {
            echo "side-by-side.sh: ${labels[$i]}'s bench gave no CPU per transfer (round $round)" >&2
            exit 1
        }
        [ -n "$jsonl" ] && jq -c --arg side "${labels[$i]}" --argjson round "$round" \
            '. + {label: $side, round: $round}' <<<"$line" >>"$jsonl"
        threads=$(jq -r '[.node_threads_us_per_transfer // {} | to_entries[]
                          | "\(.key | sub("^shoal-"; "")) \(.value)"] | join(", ")' <<<"$line")
        printf 'round %s  %-12s %6.0f transfers/s  %5.1f µs/transfer  %s\n' "$round" "${labels[$i]}" \
            "$(jq -r .transfers_per_second <<<"$line")" "$(jq -r .cpu_us_per_transfer <<<"$line")" \
            "$threads"
        cpu+=("$(jq -r .cpu_us_per_transfer <<<"$line")")
    done
    ratios+=("$(awk -v a="${cpu[0]}" -v b="${cpu[1]}" 'BEGIN { printf "%.3f", b / a }')")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 }
    END { if (NR % 2) print r[(NR + 1) / 2]; else printf "%.3f\n", (r[NR / 2] + r[NR / 2 + 1]) / 2 }')
list=$(printf '%s, ' "${ratios[@]}")
echo "${labels[1]} over ${labels[0]}, CPU per transfer: median $median (rounds in order: ${list%, })"
