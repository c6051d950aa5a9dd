#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets in native/fuzz/ and runs each one
# for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET is a name like fuzz_line_reader
# (default: every native/fuzz/fuzz_*.c). Needs clang with libFuzzer: when
# clang is missing it is installed from Debian (apt-get update; apt-get
# install -y clang), which needs root.
#
# Build: the core (and demos/lib) with clang, -fsanitize=fuzzer-no-link plus
# ASan and UBSan, into native/build-fuzz/; then one binary per target in
# native/build-fuzz/fuzz/. LTO is off there (LTO=): the Makefile's -flto
# would make clang write LLVM bitcode objects that gcc-ar cannot index. A target may name sources it needs with a line
#   /* fuzz-requires: demos/lib/smtp_session.c */
# and is skipped, with a message, while one of them does not exist.
#
# Run: the committed seed corpus native/fuzz/corpus/<target>/ is read, new
# inputs go to native/build-fuzz/corpus/<target>/ (not committed), crash
# inputs to native/build-fuzz/crashes/. Prints one summary line per target
# (executions, corpus size, crashes) and exits non-zero when a target
# crashed or failed to build.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_TARGET=${1:-60}
shift 2>/dev/null || true
case "$SECONDS_PER_TARGET" in
'' | *[!0-9]*)
    echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number, not '$SECONDS_PER_TARGET'" >&2
    exit 2
    ;;
esac
MAX_LEN=${FUZZ_MAX_LEN:-8192}

# --- clang with libFuzzer --------------------------------------------------
libfuzzer_works() {
    local dir
    dir=$(mktemp -d)
    printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n){(void)d;(void)n;return 0;}\n' \
        >"$dir/t.c"
    clang -fsanitize=fuzzer,address "$dir/t.c" -o "$dir/t" >/dev/null 2>&1
    local rc=$?
    rm -rf "$dir"
    return $rc
}

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "fuzz.sh: $* is missing and installing it needs root (apt-get install -y $*)" >&2
        exit 2
    fi
    echo "fuzz.sh: installing $* from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another apt run may hold the lock for a while: wait for it.
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >&2 || {
        echo "fuzz.sh: apt-get install $* failed" >&2
        exit 2
    }
}

if ! command -v clang >/dev/null 2>&1; then
    apt_install clang
fi
if ! libfuzzer_works; then
    # Debian ships libFuzzer in the compiler-rt package of clang's version.
    ver=$(clang -dumpversion | cut -d. -f1)
    apt_install "libclang-rt-$ver-dev"
    libfuzzer_works || {
        echo "fuzz.sh: clang cannot link -fsanitize=fuzzer even after installing libclang-rt-$ver-dev" >&2
        exit 2
    }
fi
echo "fuzz.sh: $(clang --version | head -1)"

# --- build ----------------------------------------------------------------
B=native/build-fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
LIBS="$B/libcoro.a"
if ls native/demos/lib/*.c >/dev/null 2>&1; then
    LIBS="$B/libdemo.a $LIBS"
fi
if ! make -C native -j"$(nproc)" BUILD=build-fuzz CC=clang CXX=clang++ OPT=-O1 LTO= \
    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $SAN" ${LIBS//$B/build-fuzz} >"$B.log" 2>&1; then
    tail -30 "$B.log" >&2
    echo "fuzz.sh: building the core with clang failed (full log: native/build-fuzz.log)" >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=()
    for f in native/fuzz/fuzz_*.c; do
        TARGETS+=("$(basename "$f" .c)")
    done
fi
[ ${#TARGETS[@]} -gt 0 ] || {
    echo "fuzz.sh: no targets in native/fuzz/" >&2
    exit 1
}

mkdir -p "$B/fuzz" "$B/crashes"
declare -A STATUS EXECS CORPUS CRASHES
BUILT=()
for t in "${TARGETS[@]}"; do
    src=native/fuzz/$t.c
    if [ ! -f "$src" ]; then
        echo "fuzz.sh: no such target: $src" >&2
        STATUS[$t]="no source"
        continue
    fi
    missing=""
    for req in $(sed -n 's|.*fuzz-requires: *\([^ ]*\).*|\1|p' "$src"); do
        [ -f "native/$req" ] || missing="$missing native/$req"
    done
    if [ -n "$missing" ]; then
        echo "fuzz.sh: skipping $t: it needs$missing, which does not exist yet" >&2
        STATUS[$t]="skipped (needs$missing)"
        continue
    fi
    if ! clang++ -x c -std=gnu11 -O1 -g -D_GNU_SOURCE -Inative/include -Inative/fuzz \
        -fsanitize=fuzzer $SAN "$src" -x none $LIBS -lssl -lcrypto -o "$B/fuzz/$t" \
        >"$B/fuzz/$t.build.log" 2>&1; then
        cat "$B/fuzz/$t.build.log" >&2
        echo "fuzz.sh: building $t failed" >&2
        STATUS[$t]="BUILD FAILED"
        continue
    fi
    BUILT+=("$t")
done

# --- run ------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${BUILT[@]}"; do
    seeds=native/fuzz/corpus/$t
    work=$B/corpus/$t
    mkdir -p "$seeds" "$work"
    log=$B/fuzz/$t.log
    echo "fuzz.sh: running $t for ${SECONDS_PER_TARGET}s (log: $log)"
    "$B/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$MAX_LEN" -print_final_stats=1 -artifact_prefix="$B/crashes/$t-" \
        "$work" "$seeds" >"$log" 2>&1
    rc=$?
    EXECS[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    CORPUS[$t]=$(find "$work" "$seeds" -type f | wc -l)
    CRASHES[$t]=$(grep -c "^artifact_prefix=.*Test unit written to\|Test unit written to" "$log")
    if [ $rc -eq 0 ]; then
        STATUS[$t]=ok
    else
        STATUS[$t]="FAILED (exit $rc)"
        grep -m1 -A25 "ERROR\|property violated\|deadly signal\|runtime error" "$log" >&2
    fi
done

# --- summary ----------------------------------------------------------------
echo
printf '%-22s %12s %8s %8s  %s\n' target executions corpus crashes status
failed=0
for t in "${TARGETS[@]}"; do
    st=${STATUS[$t]:-?}
    printf '%-22s %12s %8s %8s  %s\n' "$t" "${EXECS[$t]:--}" "${CORPUS[$t]:--}" \
        "${CRASHES[$t]:--}" "$st"
    case "$st" in ok | skipped*) ;; *) failed=1 ;; esac
done
if [ $failed -ne 0 ]; then
    echo "fuzz.sh: FAILED; crash inputs are in $B/crashes/ (replay: $B/fuzz/<target> <file>)"
    exit 1
fi
echo "fuzz.sh: all targets ran clean"
