#!/usr/bin/env bash
# The SDK as a module author outside the tree meets it: installs the build
# into a temporary prefix, builds every example of examples/ (each with a
# Makefile) there with pkg-config alone and runs its tests, which use the
# test kit (make test); loads counter into the installed `shoal node`
# (ipc:// in the test's own directory) and sends Add by=5, and order with
# its warehouses and runs one order through `shoal send` (nested items); builds a module with find_package(shoal)
# and a C client with pkg-config shoal-client; and checks that a module
# built for another ABI, or with none, is refused and the node does not
# start. Every wait polls against a deadline.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/shoal-install.XXXXXX")
node_pid=""
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
DEADLINE=30 # seconds for a node to be ready (ASan start-up is slow)

# 1. Install; nothing of the source tree may be needed from here on.
cmake --install "$build" --prefix "$T/prefix" >/dev/null
P=$T/prefix
export PKG_CONFIG_PATH=$P/lib/pkgconfig
unset CPATH C_INCLUDE_PATH
for f in bin/shoal include/shoal/shoal.h include/shoal/shoal_base.h include/shoal/client.h \
         include/shoal/client_window.h include/shoal/json.h include/shoal/envelope.h \
         lib/libshoal_client.a lib/libshoal_transport.a lib/libshoal_common.a \
         include/shoal/shoal_testkit.h lib/libshoal_testkit.a lib/pkgconfig/shoal-testkit.pc \
         lib/pkgconfig/shoal.pc lib/pkgconfig/shoal-client.pc lib/cmake/shoal/shoalConfig.cmake \
         share/doc/shoal/README.md share/doc/shoal/PROTOCOL.md share/doc/shoal/MODULES.md \
         share/doc/shoal/DESIGN-NOTES.md share/doc/shoal/PERFORMANCE.md \
         share/shoal/shoal-node@.service \
         share/shoal/shoal-alerts.yml; do
    [ -f "$P/$f" ] || fail "cmake --install did not install $f"
done
cflags=$(pkg-config --cflags shoal) || fail "pkg-config cannot find shoal in $PKG_CONFIG_PATH"
case "$cflags" in *"$src"*) fail "pkg-config --cflags shoal points into the tree: $cflags" ;; esac
abi=$(pkg-config --variable=shoal_abi shoal)
[[ "$abi" =~ ^[0-9]+$ ]] || fail "shoal.pc has no shoal_abi ($abi)"

# 2. Every example, copied out of the tree, built with its Makefile and
#    its test-kit tests run (make test). The kit needs no ZeroMQ or LevelDB.
pkg-config --libs shoal-testkit | grep -Eq 'zmq|leveldb' &&
    fail "pkg-config --libs shoal-testkit needs ZeroMQ or LevelDB: $(pkg-config --libs shoal-testkit)"
examples=0
for dir in "$src"/examples/*/; do
    [ -f "$dir/Makefile" ] || continue
    name=$(basename "$dir")
    cp -r "$dir" "$T/$name"
    make -s -C "$T/$name" clean >/dev/null
    out=$(make -s -C "$T/$name" test CFLAGS="-O2 -Wall -Wextra -Wno-unused-parameter -Werror" 2>&1) ||
        fail "examples/$name: make test against the installed shoal: $out"
    examples=$((examples + 1))
done
[ $examples -ge 2 ] || fail "found $examples examples with a Makefile, expected counter and order"
nm -D "$T/counter/counter.so" | grep -q ' shoal_module_abi$' || fail "counter.so exports no shoal_module_abi"
nm -D "$T/order/order.so" | grep -q ' shoal_module_abi$' || fail "order.so exports no shoal_module_abi"

# 3. A real node of the installed binary with that module.
start_node() { # start_node MODULE...: starts a node, waits for ready
    local args=()
    for m in "$@"; do args+=(--module "$m"); done
    rm -rf "$T/data"
    "$P/bin/shoal" node --data "$T/data" --endpoint "ipc://$T/node.ipc" --workers 1 \
        "${args[@]}" >"$T/node.out" 2>"$T/node.err" &
    node_pid=$!
    local until=$((SECONDS + DEADLINE))
    until grep -q "ready on" "$T/node.out" 2>/dev/null; do
        kill -0 "$node_pid" 2>/dev/null || fail "the node exited: $(cat "$T/node.err")"
        [ $SECONDS -lt $until ] || fail "no ready line in ${DEADLINE}s: $(cat "$T/node.err")"
        sleep 0.05
    done
}
stop_node() {
    kill -TERM "$node_pid"
    wait "$node_pid" || fail "the node exited $? on SIGTERM: $(cat "$T/node.err")"
    node_pid=""
}
start_node "$T/counter/counter.so"
out=$("$P/bin/shoal" send --endpoint "ipc://$T/node.ipc" --timeout 20000 counter/c1 Add by=5) ||
    fail "shoal send failed: $out"
grep -q '"ok":true' <<<"$out" && grep -q '"reply":{"value":5}' <<<"$out" ||
    fail "Add by=5 replied $out"

# 4. The C client library, linked with pkg-config shoal-client alone.
cc -o "$T/install_client" "$src/tests/install_client.c" $(pkg-config --cflags --libs shoal-client) ||
    fail "a client does not link with pkg-config shoal-client"
out=$("$T/install_client" "ipc://$T/node.ipc" counter/c1 2) || fail "install_client: $out"
[ "$out" = "value=7" ] || fail "install_client printed $out, expected value=7"
stop_node

# 4b. The order example in a real node: stock two warehouses, place an
#     order across both (nested items with key:=JSON), wait until both
#     reserved, pay, wait until committed; the stock has gone.
send() { "$P/bin/shoal" send --endpoint "ipc://$T/node.ipc" --timeout 20000 "$@"; }
wait_status() { # wait_status ADDRESS STATUS
    local until=$((SECONDS + DEADLINE)) got=""
    until grep -q "\"status\":\"$2\"" <<<"$got"; do
        [ $SECONDS -lt $until ] || fail "$1 never became $2: $got"
        sleep 0.05
        got=$("$P/bin/shoal" get --endpoint "ipc://$T/node.ipc" "$1" 2>&1) || true
    done
}
start_node "$T/order/order.so"
send warehouse/w1 Stock sku=apple qty:=5 >/dev/null || fail "Stock at w1"
send warehouse/w2 Stock sku=pear qty:=2 >/dev/null || fail "Stock at w2"
out=$(send order/o1 Place 'items:=[{"sku":"apple","qty":2,"warehouse":"warehouse/w1"},{"sku":"pear","qty":1,"warehouse":"warehouse/w2"}]') ||
    fail "Place failed: $out"
grep -q '"reply":{"status":"placed"}' <<<"$out" || fail "Place replied $out"
wait_status order/o1 reserved
out=$(send order/o1 Pay) || fail "Pay failed: $out"
wait_status order/o1 committed
out=$("$P/bin/shoal" get --endpoint "ipc://$T/node.ipc" warehouse/w1) || fail "get w1: $out"
grep -q '"apple":{"on_hand":3,"reserved":0}' <<<"$out" || fail "warehouse/w1 after the order: $out"
stop_node

# 5. find_package(shoal): a module built with shoal::api, a client with
#    shoal::client, counter's test with shoal::testkit.
mkdir -p "$T/cmake-module"
cp "$T/counter/counter.c" "$T/counter/test_counter.c" "$src/tests/install_client.c" "$T/cmake-module/"
cat >"$T/cmake-module/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(counter_cmake C)
find_package(shoal REQUIRED)
add_library(counter MODULE counter.c)
set_target_properties(counter PROPERTIES PREFIX "")
target_link_libraries(counter PRIVATE shoal::api)
add_executable(install_client install_client.c)
target_link_libraries(install_client PRIVATE shoal::client)
add_executable(test_counter test_counter.c counter.c)
target_link_libraries(test_counter PRIVATE shoal::testkit)
if(NOT SHOAL_ABI_VERSION MATCHES "^[0-9]+$" OR NOT EXISTS "${SHOAL_EXECUTABLE}")
  message(FATAL_ERROR "shoalConfig.cmake sets no SHOAL_ABI_VERSION or SHOAL_EXECUTABLE")
endif()
CMAKE
cmake -S "$T/cmake-module" -B "$T/cmake-module/build" -DCMAKE_PREFIX_PATH="$P" >/dev/null &&
    cmake --build "$T/cmake-module/build" >/dev/null || fail "find_package(shoal) does not build a module"
out=$("$T/cmake-module/build/test_counter" 2>&1) || fail "test_counter linked with shoal::testkit: $out"
start_node "$T/cmake-module/build/counter.so"
out=$("$T/cmake-module/build/install_client" "ipc://$T/node.ipc" counter/c2 3) || fail "install_client: $out"
[ "$out" = "value=3" ] || fail "the shoal::client program printed $out, expected value=3"
stop_node

# 5b. A module alone needs nothing but shoal::api: with no pkg-config file
#     of shoal's dependencies to be found, it still configures and builds
#     (it required czmq's, libzmq's, msgpack's and json-c's), and says the
#     targets it could not define.
mkdir -p "$T/api-only" "$T/no-pc"
cp "$T/counter/counter.c" "$T/api-only/"
cat >"$T/api-only/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(counter_api_only C)
find_package(shoal REQUIRED)
add_library(counter MODULE counter.c)
set_target_properties(counter PROPERTIES PREFIX "")
target_link_libraries(counter PRIVATE shoal::api)
CMAKE
out=$(PKG_CONFIG_LIBDIR="$T/no-pc" PKG_CONFIG_PATH= cmake -S "$T/api-only" -B "$T/api-only/build" \
    -DCMAKE_PREFIX_PATH="$P" 2>&1) || fail "find_package(shoal) for shoal::api alone: $out"
grep -q "shoal::client needs libczmq" <<<"$out" || fail "no word of shoal::client: $out"
cmake --build "$T/api-only/build" >/dev/null || fail "a module of shoal::api alone does not build"
[ -f "$T/api-only/build/counter.so" ] || fail "no counter.so from shoal::api alone"

# 6. A module built for another ABI, and one with no ABI: refused, no start.
sed 's/^SHOAL_MODULE;.*/SHOAL_EXPORT const int shoal_module_abi = 999;/' "$T/counter/counter.c" >"$T/abi999.c"
grep -v '^SHOAL_MODULE;' "$T/counter/counter.c" >"$T/noabi.c"
for m in abi999 noabi; do
    cc -shared -fPIC $(pkg-config --cflags shoal) -o "$T/$m.so" "$T/$m.c"
    rm -rf "$T/data"
    set +e
    timeout $DEADLINE "$P/bin/shoal" node --data "$T/data" --endpoint "ipc://$T/node.ipc" \
        --module "$T/$m.so" >"$T/node.out" 2>"$T/node.err"
    status=$?
    set -e
    [ $status -ne 0 ] && [ $status -ne 124 ] || fail "the node started with $m.so (exit $status)"
    ! grep -q "ready on" "$T/node.out" || fail "the node said ready with $m.so"
    err=$(cat "$T/node.err")
    case $m in
        abi999) want="module $T/$m.so was built for shoal ABI 999; this node is ABI $abi: rebuild it" ;;
        noabi) want="module $T/$m.so has no shoal_module_abi" ;;
    esac
    grep -qF "$want" <<<"$err" || fail "$m.so: expected '$want', got: $err"
    grep -qF "ABI $abi" <<<"$err" || fail "$m.so: the message does not name ABI $abi: $err"
done

echo "1 passed, 0 failed: installed, $examples examples built out of the tree and tested with the kit, loaded, an order run, other ABIs refused"
