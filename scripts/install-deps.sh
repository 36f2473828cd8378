#!/usr/bin/env bash
# Installs the Debian packages shoal builds with, when any is missing.
# A no-op (and no root needed) when everything is there.
#
#   scripts/install-deps.sh [--bench]
#
# --bench also installs what the benchmark scripts use and the build and
# tests never do: PostgreSQL (server, psql, pgbench) for
# scripts/pg-baseline.sh. Debian's package
# makes and starts a cluster of its own (15/main, port 5432); the scripts
# do not use it.
set -euo pipefail

bench=false
case ${1:-} in
"") ;;
--bench) bench=true ;;
*) echo "install-deps: unknown argument '$1' (--bench or nothing)" >&2; exit 2 ;;
esac

packages=(build-essential cmake pkg-config libzmq3-dev libczmq-dev libmsgpack-dev
          libleveldb-dev libcmocka-dev libmicrohttpd-dev libncurses-dev libjson-c-dev python3
          libjemalloc-dev  # the shoal binary's allocator (not in the sanitized builds)
          tmux          # the shoal top test reads its screen from a tmux pane
          python3-zmq python3-msgpack   # the Python client example and its test
          prometheus    # prometheus: promtool, which the metrics test runs
          clang libclang-rt-dev    # the libFuzzer targets of fuzz/ (libFuzzer's runtime)
          jq)           # the benchmark scripts read shoal bench --json; a test runs one
if $bench; then
    packages+=(postgresql)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
