#!/usr/bin/env bash
# The shoal binary exports the public API of shoal.h to the modules it loads,
# and nothing else: every defined dynamic symbol is either a function that
# shoal.h or shoal_base.h marks SHOAL_EXPORT, or something the linker or a
# dependency's data (copy relocations: stdout, optarg, zsys_interrupted,
# ncurses' stdscr, LINES and COLS) needs. Usage: test_exports.sh SHOAL_BIN SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
declared=$(grep -h '^SHOAL_EXPORT' "$src/runtime/include/shoal.h" "$src/common/shoal_base.h" |
    grep -o 'shoal_[a-z_]* (' | tr -d ' (' | sort -u)
exported=$(nm -D --defined-only "$bin" | awk '{print $3}' | sort -u)
status=0
for symbol in $exported; do
    case "$symbol" in
        shoal_module_init|shoal_module_abi)
            echo "FAIL: the binary defines $symbol, which modules define"; status=1 ;;
        shoal_*) grep -qx "$symbol" <<<"$declared" ||
                   { echo "FAIL: $symbol is exported but not public API"; status=1; } ;;
        _*|data_start|*@GLIBC_*|*@NCURSES*|zsys_interrupted) ;;
        *) echo "FAIL: $symbol is exported"; status=1 ;;
    esac
done
for symbol in $declared; do
    [ "$symbol" = shoal_module_init ] && continue
    grep -qx "$symbol" <<<"$exported" || { echo "FAIL: public $symbol is not exported"; status=1; }
done
count=$(grep -c '^shoal_' <<<"$exported")
if [ $status -eq 0 ]; then
    echo "1 passed, 0 failed: $count public symbols exported, nothing internal"
else
    echo "0 passed, 1 failed"
fi
exit $status
