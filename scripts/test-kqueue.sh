#!/usr/bin/env bash
# test-kqueue.sh (npm run test:kqueue) - the kqueue backend on Linux, over
# libkqueue: builds libkqueue into a git-ignored cache (.cache/deps/, reused
# once built), builds the core against it (make -C native KQUEUE=libkqueue,
# into native/build-kqueue/, where kqueue is the default backend), then runs
# every native test program and the echo fault suite on the kqueue backend.
#
# Where libkqueue comes from, first match wins:
#   LIBKQUEUE_PREFIX=DIR   an installed libkqueue (DIR/include/kqueue/sys/event.h)
#   LIBKQUEUE_SRC=PATH     its source, a .tar.gz or an unpacked folder
#   ../shared/deps/libkqueue-*.tar.gz   beside this repository (project machines)
# Without any of them it says so in one line and exits 2. Building from
# source needs cmake (installed with apt-get when missing and possible).
#
# On macOS and the BSDs kqueue is native: `make -C native` builds it and the
# plain test suite runs it; this script is for Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache/deps
BUILD=native/build-kqueue

say() { echo "test-kqueue: $*" >&2; }
missing() {
    echo "test:kqueue: needs libkqueue: set LIBKQUEUE_PREFIX=DIR (installed) or LIBKQUEUE_SRC=libkqueue.tar.gz|DIR (source, built with cmake), or put it in ../shared/deps/ ($*)" >&2
    exit 2
}

if [[ $(uname -s) != Linux ]]; then
    say "kqueue is native on $(uname -s): the plain test suite (npm test) runs it"
    exit 2
fi

# --- find or build libkqueue ------------------------------------------------
prefix=${LIBKQUEUE_PREFIX:-}
if [[ -n $prefix ]]; then
    [[ -f $prefix/include/kqueue/sys/event.h ]] || missing "LIBKQUEUE_PREFIX=$prefix has no include/kqueue/sys/event.h"
else
    src=${LIBKQUEUE_SRC:-}
    if [[ -z $src ]]; then
        src=$(ls "$ROOT"/../shared/deps/libkqueue-*.tar.gz 2>/dev/null | head -1 || true)
        [[ -n $src ]] || missing "none given, and no ../shared/deps/libkqueue-*.tar.gz"
    fi
    [[ -e $src ]] || missing "LIBKQUEUE_SRC=$src does not exist"
    src=$(cd "$(dirname "$src")" && echo "$PWD/$(basename "$src")")
    # The cache is keyed by the source: a tarball's checksum, a folder's path.
    if [[ -f $src ]]; then
        key=$(sha256sum "$src" | cut -c1-12)
    else
        key=$(echo "$src" | sha256sum | cut -c1-12)
    fi
    prefix=$CACHE/libkqueue-$key
    if [[ -f $prefix/.built && -f $prefix/include/kqueue/sys/event.h ]]; then
        say "libkqueue: reusing $prefix (built from $(cat "$prefix/.built"))"
    else
        if ! command -v cmake >/dev/null && ! dpkg -s cmake >/dev/null 2>&1 &&
            [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            say "installing cmake from Debian"
            # Another apt run may hold the lock for a while: wait for it.
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
                DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq cmake >&2 ||
                say "apt-get install cmake failed"
        fi
        command -v cmake >/dev/null || missing "cmake is needed to build it from source: apt-get install cmake"
        gen=()
        command -v ninja >/dev/null && gen=(-G Ninja)
        work=$CACHE/build-libkqueue-$key
        rm -rf "$work" "$prefix"
        mkdir -p "$work"
        if [[ -f $src ]]; then
            tar xzf "$src" -C "$work" --strip-components=1
        else
            cp -r "$src"/. "$work"/
        fi
        say "libkqueue: building $src into $prefix"
        start=$(date +%s)
        if ! { cmake -S "$work" -B "$work/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
                   -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib &&
               cmake --build "$work/build" -j"$(nproc)" &&
               cmake --install "$work/build"; } >"$CACHE/libkqueue-$key.log" 2>&1; then
            tail -30 "$CACHE/libkqueue-$key.log" >&2
            say "libkqueue: the build failed (log: $CACHE/libkqueue-$key.log)"
            exit 1
        fi
        echo "$src" >"$prefix/.built"
        rm -rf "$work"
        say "libkqueue: built in $(($(date +%s) - start)) s"
    fi
fi

# --- build the core against it ------------------------------------------------
say "building $BUILD (make -C native KQUEUE=libkqueue KQUEUE_PREFIX=$prefix)"
if ! make -C native -j"$(nproc)" KQUEUE=libkqueue KQUEUE_PREFIX="$prefix" >"$BUILD.log" 2>&1; then
    tail -40 "$BUILD.log" >&2
    say "the build failed (log: $BUILD.log)"
    exit 1
fi
backends=$("$BUILD/echo_server" --list-backends | head -1)
if [[ $backends != kqueue ]]; then
    say "$BUILD/echo_server's default backend is '$backends', not kqueue"
    exit 1
fi

# --- the tests, on the kqueue backend only -------------------------------------
# CORO_BENCH_NATIVE_BUILD points the tests at the kqueue build, whose default
# backend is kqueue; CORO_TEST_BACKENDS narrows the every-backend loops (the
# plain npm test already runs epoll, poll and select).
say "native tests and the echo fault suite on kqueue ($BUILD)"
export CORO_BENCH_NATIVE_BUILD=$ROOT/$BUILD CORO_TEST_BACKENDS=kqueue
exec npx tap test/native.test.ts test/faults.test.ts
