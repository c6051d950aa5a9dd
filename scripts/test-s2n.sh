#!/usr/bin/env bash
# test-s2n.sh (`npm run test:s2n`) - builds the native core with s2n-tls
# instead of OpenSSL (make -C native TLS=s2n BUILD=build-s2n, s2n itself from
# scripts/s2n-deps.sh: ../shared/deps, S2N_SOURCE or S2N_PREFIX) and runs
# every TLS test against that build:
#   - the native TLS programs, test_tls_fork (sessions in forked workers),
#     test_tls (handshake, echo, 100 KB writes that
#     suspend, garbage/early close/mid-ClientHello/silent clients, peer gone
#     while writing) and test_cpp_layer (the C++ layer's TLS stream);
#   - the demos end to end with -t (test/demos.test.ts, every backend);
#   - the TLS faults of test/faults.test.ts (garbage, drops, stalls, log rate);
#   - interoperability with openssl s_client and Python's ssl, TLS 1.2 and
#     1.3 (test/tls-interop.test.ts);
#   - s2n under a low memlock limit without CAP_IPC_LOCK, and with
#     S2N_DONT_MLOCK=1 (test/tls-memlock.test.ts);
#   - the CLI on that build (test/cli-build.test.ts: info --build names s2n,
#     echo --tls --build runs).
# The tap tests find the build through CORO_BENCH_NATIVE_BUILD (cli/paths.ts).
#
# Exits 2 with one line when s2n-tls (or a tool to build it) is missing here,
# 1 when a test fails.
set -uo pipefail
cd "$(dirname "$0")/.."

deps=$(bash scripts/s2n-deps.sh)
rc=$?
[[ $rc -eq 0 ]] || exit $rc
eval "$deps"

BUILD=native/build-s2n
echo "test-s2n: building $BUILD against $S2N_PREFIX" >&2
if ! make -C native -j"$(nproc)" TLS=s2n BUILD=build-s2n S2N_PREFIX="$S2N_PREFIX" S2N_VERSION="$S2N_VERSION" \
    >"$BUILD.log" 2>&1; then
    tail -30 "$BUILD.log" >&2
    echo "test-s2n: the s2n build of native/ failed (log: $BUILD.log)" >&2
    exit 1
fi

# The interop test needs python3 (and the build's certificate rule needs the
# openssl program, so that is there already).
if ! command -v python3 >/dev/null; then
    if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
        for _ in 1 2 3 4 5 6; do
            apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >&2 && break
            sleep 10
        done
    fi
    command -v python3 >/dev/null || { echo "test-s2n: install python3 (the TLS interop test uses its ssl module)" >&2; exit 2; }
fi

export CORO_BENCH_NATIVE_BUILD=$PWD/$BUILD
export CORO_BENCH_EXPECT_TLS=s2n-tls  # what test/cli-build.test.ts expects info to name
# One pattern, matched against the top-level subtest names of each file:
# the TLS ones of demos/faults, every interop and CLI-build test, and the two
# native programs that use TLS.
exec npx tap --grep='TLS|--build|native: test_(tls|tls_fork|cpp_layer)$' \
    test/native.test.ts test/demos.test.ts test/faults.test.ts test/tls-interop.test.ts test/tls-memlock.test.ts test/cli-build.test.ts
