#!/usr/bin/env bash
# test-asan.sh - builds the native core and its tests with AddressSanitizer
# and UndefinedBehaviorSanitizer (`make -C native asan`, into
# native/build-asan/) and runs every test program there, each in its own
# process under a timeout.
#
#   scripts/test-asan.sh [TEST...]      (names like test_timers; default: all)
#   TEST_TIMEOUT=SECONDS                per test (default 300)
#
# Leak checking (LeakSanitizer, detect_leaks=1) is on when it works on this
# machine. LSan stops the process's threads with ptrace-like machinery,
# which some containers forbid; it then dies with "LeakSanitizer has
# encountered a fatal error" on every exit. A probe program decides: when
# LSan cannot run, leaks are not checked and the summary says so (valgrind's
# run, scripts/test-valgrind.sh, still checks them).
#
# Prints one line per test and a closing "asan: N passed, N failed" line;
# exits non-zero when a test failed or when there were no tests at all.
set -u
cd "$(dirname "$0")/.."

TIMEOUT=${TEST_TIMEOUT:-300}
BUILD=native/build-asan
LOGDIR=$BUILD/test-logs

if ! make -C native -j"$(nproc)" asan >"$BUILD.log" 2>&1; then
    tail -40 "$BUILD.log" >&2
    echo "test-asan: the ASan build failed (log: $BUILD.log)" >&2
    exit 1
fi

# --- does LeakSanitizer work here? -----------------------------------------
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <stdlib.h>\nvoid *volatile p;\nint main(void){p = malloc(33); p = 0; return 0;}\n' \
    >"$probe_dir/leak.c"
leaks=0
if ${CC:-gcc} -fsanitize=address -g "$probe_dir/leak.c" -o "$probe_dir/leak" 2>/dev/null; then
    ASAN_OPTIONS=detect_leaks=1 "$probe_dir/leak" >"$probe_dir/out" 2>&1
    if grep -q "LeakSanitizer: detected memory leaks" "$probe_dir/out"; then
        leaks=1
    else
        echo "test-asan: LeakSanitizer does not work here ($(grep -m1 -o 'LeakSanitizer[^.]*' "$probe_dir/out" || echo 'no report from the probe')); leaks are not checked" >&2
    fi
fi

# halt_on_error: the first report fails the test. detect_stack_use_after_return
# stays off on purpose: it moves address-taken locals to a "fake stack" on the
# heap, so they are no longer in the shared-stack slice that the core copies
# (the mechanism under test would be bypassed for exactly those locals), and
# tests that measure live slices from the addresses of locals
# (test_stack_depth) then measure nothing meaningful and fail.
export ASAN_OPTIONS="detect_leaks=$leaks:halt_on_error=1:check_initialization_order=1:detect_stack_use_after_return=0${ASAN_EXTRA_OPTIONS:+:$ASAN_EXTRA_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

. scripts/lib/native-tests.sh  # (the script has cd to the repository root)
collect_native_tests asan "$BUILD" "$@"

mkdir -p "$LOGDIR"
passed=0 failed=0 failed_names=()
for t in "${TESTS[@]}"; do
    name=$(basename "$t")
    log=$LOGDIR/$name.log
    start=$(date +%s.%N)
    timeout -k 10 "$TIMEOUT" "$t" >"$log" 2>&1
    rc=$?
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf 'ok      %-32s %6ss\n' "$name" "$secs"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        why="exit $rc"
        [ $rc -eq 124 ] && why="timed out after ${TIMEOUT}s"
        printf 'FAILED  %-32s %6ss  (%s; log: %s)\n' "$name" "$secs" "$why" "$log"
        grep -m1 -B2 -A30 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:\|^FAIL\|not ok" "$log" |
            sed 's/^/        /' | head -40
    fi
done

echo
[ $leaks -eq 1 ] || echo "test-asan: note: LeakSanitizer unavailable here; leaks were not checked"
echo "asan: $passed passed, $failed failed"
if [ $failed -ne 0 ]; then
    echo "test-asan: failed: ${failed_names[*]}" >&2
    exit 1
fi
