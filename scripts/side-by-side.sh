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
# machine gives: their CPU per transfer differs by 1-2 % with nothing
# changed (an A/A run, docs/PERFORMANCE.md). Each node gets about half of
# the machine, so the transfers/s printed are not the node's peak: compare
# the CPU per transfer, the figure a change of code moves.
#
# Prints one line a round and side, then B's CPU per transfer over A's for
# each round and their median; with --jsonl, each bench's JSON line with
# its label and round. Exits non-zero if a bench fails or its books do not
# balance. About 40 s a round on a 2-core machine.
set -euo pipefail

rounds=3
transfers=150000
jsonl=
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --transfers) transfers=$2; shift 2 ;;
    --jsonl) jsonl=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) echo "side-by-side.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ $# -ne 2 ] || [[ $1 != *=* ]] || [[ $2 != *=* ]]; then
    echo "side-by-side.sh: give two sides, LABEL=COMMAND[::BENCH ARGS] (see --help)" >&2
    exit 2
fi
case $rounds$transfers in *[!0-9]*) echo "side-by-side.sh: --rounds and --transfers take numbers" >&2; exit 2 ;; esac
command -v jq >/dev/null || { echo "side-by-side.sh: needs jq (scripts/install-deps.sh)" >&2; exit 2; }

labels=() commands=() extras=()
for side in "$1" "$2"; do
    labels+=("${side%%=*}")
    rest=${side#*=}
    commands+=("${rest%%::*}")
    if [[ $rest == *::* ]]; then extras+=("${rest#*::}"); else extras+=(""); fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/side-by-side.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$jsonl" ] && : > "$jsonl"

ratios=()
status=0
for round in $(seq 1 "$rounds"); do
    pids=()
    for i in 0 1; do
        mkdir -p "$work/$i"
        # shellcheck disable=SC2086 # the command and the bench args split into words
        (${commands[$i]} bench --accounts 10000 --concurrency 512 \
            --transfers "$transfers" --json ${extras[$i]} >"$work/$i/out" 2>"$work/$i/err") &
        pids+=($!)
    done
    rcs=()
    for i in 0 1; do
        rc=0
        wait "${pids[$i]}" || rc=$?
        rcs+=("$rc")
    done
    for i in 0 1; do
        if [ "${rcs[$i]}" -ne 0 ]; then
            echo "side-by-side.sh: ${labels[$i]}'s bench failed (round $round):" >&2
            tail -n 5 "$work/$i/err" >&2
            exit 1
        fi
    done
    cpu=()
    for i in 0 1; do
        line=$(grep '^{' "$work/$i/out" | tail -n 1)
        [ -n "$jsonl" ] && jq -c --arg side "${labels[$i]}" --argjson round "$round" \
            '. + {label: $side, round: $round}' <<<"$line" >>"$jsonl"
        threads=$(jq -r '[.node_threads_us_per_transfer // {} | to_entries[]
                          | "\(.key | sub("^shoal-"; "")) \(.value)"] | join(", ")' <<<"$line")
        printf 'round %s  %-12s %6.0f transfers/s  %5.1f µs/transfer  %s%s\n' "$round" "${labels[$i]}" \
            "$(jq -r .transfers_per_second <<<"$line")" "$(jq -r .cpu_us_per_transfer <<<"$line")" \
            "$threads" "$(jq -r 'if .balanced then "" else "  BOOKS DO NOT BALANCE" end' <<<"$line")"
        [ "$(jq -r .balanced <<<"$line")" = true ] || status=1
        cpu+=("$(jq -r .cpu_us_per_transfer <<<"$line")")
    done
    ratios+=("$(awk -v a="${cpu[0]}" -v b="${cpu[1]}" 'BEGIN { printf "%.3f", b / a }')")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 }
    END { if (NR % 2) print r[(NR + 1) / 2]; else printf "%.3f\n", (r[NR / 2] + r[NR / 2 + 1]) / 2 }')
list=$(printf '%s, ' "${ratios[@]}")
echo "${labels[1]} over ${labels[0]}, CPU per transfer: median $median (rounds in order: ${list%, })"
exit $status
