#!/usr/bin/env bash
# shoal's one entry point for building, testing and running it from a checkout.
#
#   ./build.sh demo     install what is missing, build, run `shoal demo`
#   ./build.sh test     install what is missing, build with -Werror under
#                       ASan/UBSan, run every test, then build the fuzz
#                       targets with clang and fuzz each briefly, then build
#                       the binary `build` makes and run a short bench on it
#                       (what CI runs)
#   ./build.sh build    install what is missing, build build/tools/shoal
#   ./build.sh deps     only install what is missing
#
# Extra arguments after demo go to `shoal demo` (./build.sh demo --seed 42).
set -euo pipefail
cd "$(dirname "$0")"

jobs=$(nproc 2>/dev/null || echo 2)

build() {   # build DIR [cmake options...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" --parallel "$jobs"
}

command=${1:-demo}
[ $# -gt 0 ] && shift
case "$command" in
    deps)
        scripts/install-deps.sh ;;
    build)
        scripts/install-deps.sh
        build build
        echo "built build/tools/shoal" ;;
    demo)
        # The build's progress on stderr: stdout is the demo's summary alone.
        scripts/install-deps.sh >&2
        build build >&2
        exec build/tools/shoal demo "$@" ;;
    test)
        scripts/install-deps.sh
        build build-test -DSHOAL_WERROR=ON -DSHOAL_SANITIZE=ON
        # The libFuzzer targets (fuzz/) need clang: a second, small build of
        # the decoders' libraries and the targets only, each fuzzed for a few
        # seconds. Not -Werror: the gcc build above is the warnings' gate.
        CC=clang CXX=clang++ build build-fuzz -DSHOAL_FUZZ=ON
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        (cd build-test && ctest --output-on-failure --timeout 1500 "$@")
        (cd build-fuzz && ctest --output-on-failure --timeout 300 "$@")
        # The binary users run (./build.sh build: jemalloc, no sanitizers),
        # which the tests above do not: built, and one short bench on it,
        # books checked.
        cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build build --parallel "$jobs" --target shoal
        build/tools/shoal bench --accounts 100 --transfers 2000 --concurrency 64 ;;
    -h|--help|help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' ;;
    *)
        echo "build.sh: unknown command '$command' (demo, test, build, deps)" >&2
        exit 2 ;;
esac
