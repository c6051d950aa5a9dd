#!/usr/bin/env bash
# test-valgrind.sh - the native tests and a small echo (and SMTP) workload
# under valgrind's memcheck.
#
#   scripts/test-valgrind.sh [TEST...]   (names like test_timers; default: all)
#   TEST_TIMEOUT=SECONDS                 per test / per workload (default 600)
#
# Builds the normal -O2 -g build (`make -C native`, native/build/); the core
# registers its shared stack with VALGRIND_STACK_REGISTER and marks restored
# stack slices addressable, so memcheck follows the stack copying without
# warnings. Every program runs as
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# under a timeout; any memcheck error or definite leak fails it.
#
# Tests that crash on purpose: test_overflow_guard forks children that
# overflow the shared stack or load from an unmapped address, and checks how
# they die. The checks in the parent run under valgrind as usual, but the
# children's deliberate invalid access would be reported as an error, so
# that test runs with --child-silent-after-fork=yes (see SILENT_CHILDREN).
# A test that cannot run under valgrind at all would go in SKIP with its
# reason; none needs to today.
#
# Workload: echo_server under valgrind on each backend, with echo_client
# 10 connections x 100 transactions x 100 bytes (also under valgrind)
# against it; the client's !shutdown ends the server, and both must exit 0.
# The same over TLS (epoll), and smtp_server with smtp_client 4 x 10 x 1000.
# A program that is not built is skipped with a message.
#
# Prints one line per run and a closing "valgrind: N passed, N failed" line;
# exits non-zero on any failure or when there were no tests at all.
set -u
cd "$(dirname "$0")/.."

TIMEOUT=${TEST_TIMEOUT:-600}
BUILD=native/build
LOGDIR=$BUILD/valgrind-logs
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)

# test name -> reason it runs with --child-silent-after-fork=yes
declare -A SILENT_CHILDREN=(
    [test_overflow_guard]="its forked children crash on purpose (shared-stack overflow, wild load)"
)
# test name -> reason it is not run under valgrind at all
declare -A SKIP=()

if ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "test-valgrind: installing valgrind from Debian" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
            apt-get -o DPkg::Lock::Timeout=600 install -y -qq valgrind >&2 || exit 2
    else
        echo "test-valgrind: valgrind is not installed (apt-get install valgrind)" >&2
        exit 2
    fi
fi

mkdir -p "$LOGDIR"
if ! make -C native -j"$(nproc)" >"$LOGDIR/build.log" 2>&1; then
    tail -40 "$LOGDIR/build.log" >&2
    echo "test-valgrind: the build failed (log: $LOGDIR/build.log)" >&2
    exit 1
fi

passed=0 failed=0 skipped=0 failed_names=()

report() { # name rc seconds log
    local name=$1 rc=$2 secs=$3 log=$4
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'ok      %-40s %6ss\n' "$name" "$secs"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        local why="exit $rc"
        [ "$rc" -eq 99 ] && why="memcheck errors"
        [ "$rc" -eq 124 ] && why="timed out after ${TIMEOUT}s"
        printf 'FAILED  %-40s %6ss  (%s; log: %s)\n' "$name" "$secs" "$why" "$log"
        grep -m1 -A25 "==[0-9]*== [A-Z]" "$log" | sed 's/^/        /' | head -30
    fi
}

elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }

# --- the native tests ----------------------------------------------------
. scripts/lib/native-tests.sh  # (the script has cd to the repository root)
collect_native_tests valgrind "$BUILD" "$@"

for t in "${TESTS[@]}"; do
    name=$(basename "$t")
    if [ -n "${SKIP[$name]:-}" ]; then
        skipped=$((skipped + 1))
        printf 'skip    %-40s (%s)\n' "$name" "${SKIP[$name]}"
        continue
    fi
    extra=()
    [ -n "${SILENT_CHILDREN[$name]:-}" ] && extra=(--child-silent-after-fork=yes)
    log=$LOGDIR/$name.log
    start=$(date +%s.%N)
    timeout -k 10 "$TIMEOUT" "${VG[@]}" "${extra[@]}" "$t" >"$log" 2>&1
    report "$name" $? "$(elapsed "$start")" "$log"
done

# --- workloads ------------------------------------------------------------
# Starts "$@" (a server printing "... starting on port N" or similar) under
# valgrind in the background; sets SERVER_PID and SERVER_PORT.
start_server() {
    local log=$1
    shift
    "${VG[@]}" "$@" -P 0 >"$log.out" 2>"$log" &
    SERVER_PID=$!
    SERVER_PORT=
    for _ in $(seq 1 300); do
        SERVER_PORT=$(grep -o -m1 'port [0-9]*' "$log.out" 2>/dev/null | grep -o '[0-9]*$')
        [ -n "$SERVER_PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# name, server command..., --, client command (the port is appended after
# the address by the caller's placeholder @PORT@)
workload() {
    local name=$1
    shift
    local server=() client=()
    while [ "$1" != -- ]; do server+=("$1"); shift; done
    shift
    client=("$@")
    local log=$LOGDIR/$name
    local start rc=0
    start=$(date +%s.%N)
    if ! start_server "$log.server.log" "${server[@]}"; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        report "$name" 1 "$(elapsed "$start")" "$log.server.log"
        return
    fi
    client=("${client[@]/@PORT@/$SERVER_PORT}")
    timeout -k 10 "$TIMEOUT" "${VG[@]}" "${client[@]}" >"$log.client.out" 2>"$log.client.log"
    local crc=$?
    # The client's shutdown command ends the server; give valgrind's leak
    # check time, then make sure it is gone.
    local waited=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ $waited -lt 600 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "test-valgrind: $name: the server did not stop after the client's shutdown" >>"$log.server.log"
        kill "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID"
    local src=$?
    if [ $crc -ne 0 ]; then
        rc=$crc
        report "$name (client)" "$rc" "$(elapsed "$start")" "$log.client.log"
        cat "$log.client.out" | sed 's/^/        /' | head -10
    else
        report "$name (client)" 0 "$(elapsed "$start")" "$log.client.log"
    fi
    report "$name (server)" "$src" "$(elapsed "$start")" "$log.server.log"
}

if [ -x "$BUILD/echo_server" ] && [ -x "$BUILD/echo_client" ]; then
    for b in $("$BUILD/echo_server" --list-backends); do
        workload "echo-$b-10x100x100" "$BUILD/echo_server" -b "$b" -- \
            "$BUILD/echo_client" -b "$b" 127.0.0.1 @PORT@ 10 100 100
    done
    if [ -f "$BUILD/tls/cert.pem" ] || "$BUILD/echo_server" --help 2>&1 | grep -q -- ' -t'; then
        workload "echo-tls-10x100x100" "$BUILD/echo_server" -t -- \
            "$BUILD/echo_client" -t 127.0.0.1 @PORT@ 10 100 100
    fi
else
    skipped=$((skipped + 1))
    echo "skip    echo workload (native/build/echo_server or echo_client is not built)"
fi
if [ -x "$BUILD/smtp_server" ] && [ -x "$BUILD/smtp_client" ]; then
    workload "smtp-4x10x1000" "$BUILD/smtp_server" -- \
        "$BUILD/smtp_client" 127.0.0.1 @PORT@ 4 10 1000
else
    skipped=$((skipped + 1))
    echo "skip    smtp workload (native/build/smtp_server or smtp_client is not built)"
fi

echo
echo "valgrind: $passed passed, $failed failed, $skipped skipped"
if [ $failed -ne 0 ]; then
    echo "test-valgrind: failed: ${failed_names[*]}" >&2
    exit 1
fi
