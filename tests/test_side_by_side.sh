#!/bin/sh
# test_side_by_side.sh - scripts/side-by-side.sh against the real shoal:
# two benches at once (each a node of its own on a free loopback port), one
# line a side, the ratio of their CPU per transfer, the JSON lines; and its
# refusals: one side, bad numbers, a side whose bench fails.
#
#   test_side_by_side.sh SHOAL SCRIPT
set -u
shoal=$1
script=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/test_side_by_side.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Two sides, one with the projections off.
"$script" --rounds 1 --transfers 6000 --jsonl "$work/runs.jsonl" \
    "on=$shoal" "off=$shoal::--node-arg=--projections=off" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] || fail "two sides: exit $rc, $(cat "$work/err")"
[ -s "$work/err" ] && fail "two sides: it said on stderr: $(cat "$work/err")"
grep -q '^round 1  on  .* transfers/s .* µs/transfer .*projector' "$work/out" ||
    fail "no line for side on: $(cat "$work/out")"
grep '^round 1  off ' "$work/out" | grep -q projector &&
    fail "side off has a projector thread: $(cat "$work/out")"
grep -q '^round 1  off  .* µs/transfer' "$work/out" || fail "no line for side off"
grep -Eq '^off over on, CPU per transfer: median [0-9]+\.[0-9]{3} \(rounds in order: [0-9]+\.[0-9]{3}\)$' \
    "$work/out" || fail "no ratio line: $(tail -n 1 "$work/out")"
[ "$(jq -s 'map(.label) | join(",")' "$work/runs.jsonl")" = '"on,off"' ] ||
    fail "the JSON lines are not on, off: $(cat "$work/runs.jsonl")"
[ "$(jq -s 'map(select(.balanced and .completed == 6000 and .round == 1)) | length' \
    "$work/runs.jsonl")" = 2 ] || fail "a run did not complete 6000 balanced transfers"

# One side: refused before any bench runs.
"$script" --rounds 1 "on=$shoal" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 2 ] || fail "one side: exit $rc, not 2"
grep -q 'give two sides' "$work/err" || fail "one side: $(cat "$work/err")"

# Usage errors: exit 2, said clearly, no bench run.
for args in "--rounds 0" "--transfers x" "--rounds"; do
    # shellcheck disable=SC2086
    "$script" $args "on=$shoal" "off=$shoal" >"$work/out" 2>"$work/err"
    rc=$?
    [ $rc -eq 2 ] || fail "$args: exit $rc, not 2"
    grep -Eq 'takes a number|needs a value|give two sides' "$work/err" || fail "$args: $(cat "$work/err")"
done

# A side whose bench fails (an unknown bench option): exit 1, its error shown.
"$script" --rounds 1 --transfers 1000 "on=$shoal" "bad=$shoal::--no-such-option" \
    >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 1 ] || fail "failing side: exit $rc, not 1"
grep -q "bad's bench failed" "$work/err" || fail "failing side: $(cat "$work/err")"
grep -q 'no-such-option' "$work/err" || fail "failing side: the bench's error is not shown"

[ $failures -eq 0 ] && echo "test_side_by_side: ok"
exit $failures
