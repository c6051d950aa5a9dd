#!/usr/bin/env bash
# s2n-deps.sh - finds or builds s2n-tls for `make -C native TLS=s2n` and
# prints two lines on stdout: S2N_PREFIX=<install prefix> and
# S2N_VERSION=<what coro_tls_library() names>. Progress goes to stderr.
#
# Where s2n comes from, first match wins:
#   S2N_PREFIX=DIR    an installed s2n (DIR/include/s2n.h, DIR/lib/libs2n.a)
#   S2N_SOURCE=PATH   s2n-tls sources: a folder or a .tar.gz
#   ../shared/deps/s2n-tls-*.tar.gz (beside this clone, when present)
# Sources are built once into .cache/deps/ (git-ignored) and reused while
# the tarball's checksum and our feature probes are unchanged (about 30-40 s
# on 2 cores, then nothing). Needs cmake, and ninja or make: installed with
# apt-get when missing and possible (root or password-less sudo).
#
# Exits 2 with one line saying what to install or set when s2n cannot be
# found or built here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { echo "s2n-deps: $*" >&2; }
missing() {
    echo "s2n-deps: $*" >&2
    exit 2
}

if [[ -n "${S2N_PREFIX:-}" ]]; then
    [[ -f "$S2N_PREFIX/include/s2n.h" && -f "$S2N_PREFIX/lib/libs2n.a" ]] ||
        missing "S2N_PREFIX=$S2N_PREFIX has no include/s2n.h and lib/libs2n.a (an s2n-tls install prefix is needed)"
    echo "S2N_PREFIX=$(cd "$S2N_PREFIX" && pwd)"
    echo "S2N_VERSION=(installed in $S2N_PREFIX)"
    exit 0
fi

source=${S2N_SOURCE:-}
if [[ -z "$source" ]]; then
    for f in "$ROOT"/../shared/deps/s2n-tls-*.tar.gz; do
        [[ -f "$f" ]] && source=$f
    done
fi
[[ -n "$source" ]] ||
    missing "s2n-tls not found: set S2N_PREFIX=<s2n install prefix> or S2N_SOURCE=<s2n-tls source folder or .tar.gz> (../shared/deps is absent)"
[[ -e "$source" ]] || missing "S2N_SOURCE=$source does not exist"

# --- tools -------------------------------------------------------------------
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || command -v make >/dev/null || need+=(ninja-build)
dpkg -s libssl-dev >/dev/null 2>&1 || [[ -f /usr/include/openssl/evp.h ]] || need+=(libssl-dev)
if ((${#need[@]})); then
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo -n)
    if command -v apt-get >/dev/null && { [[ $(id -u) == 0 ]] || sudo -n true 2>/dev/null; }; then
        say "installing ${need[*]}"
        ok=0
        # dpkg may be locked by another install running at the same time: retry.
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
            if "${sudo[@]}" apt-get update -qq >&2 &&
                DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >&2; then
                ok=1
                break
            fi
            sleep 10
        done
        ((ok)) || missing "apt-get install ${need[*]} failed; install them to build s2n-tls"
    else
        missing "install ${need[*]} to build s2n-tls (e.g. apt-get install ${need[*]})"
    fi
fi
generator=(-G Ninja)
command -v ninja >/dev/null || generator=(-G "Unix Makefiles")

# --- cache -------------------------------------------------------------------
. scripts/lib/s2n-feature-probes.sh
name=$(basename "$source")
name=${name%.tar.gz}
if [[ -f "$source" ]]; then
    sum=$(sha256sum "$source" | cut -c1-12)
else
    sum=dir
fi
probes_sum=$(sha256sum scripts/lib/s2n-feature-probes.sh | cut -c1-12)
cache=$ROOT/.cache/deps/$name-$sum
prefix=$cache/prefix
stamp="$name $sum probes $probes_sum"
version=${name#s2n-tls-}

if [[ -f "$prefix/lib/libs2n.a" && "$(cat "$prefix/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    say "reusing $prefix"
else
    say "building $name into $cache (about 30-40 s on 2 cores)"
    rm -rf "$cache"
    mkdir -p "$cache/src"
    if [[ -f "$source" ]]; then
        tar xzf "$source" -C "$cache/src" --strip-components=1
    else
        cp -a "$source"/. "$cache/src/"
    fi
    # Our own feature probes (see scripts/lib/s2n-feature-probes.sh), unless
    # the sources bring s2n's.
    [[ -d "$cache/src/tests/features" ]] || write_s2n_feature_probes "$cache/src"
    start=$(date +%s)
    if ! cmake -S "$cache/src" -B "$cache/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >"$cache/cmake.log" 2>&1; then
        tail -20 "$cache/cmake.log" >&2
        echo "s2n-deps: cmake failed (log: $cache/cmake.log)" >&2
        exit 1
    fi
    if ! cmake --build "$cache/build" --target install -j "$(nproc)" >"$cache/build.log" 2>&1; then
        tail -30 "$cache/build.log" >&2
        echo "s2n-deps: the s2n build failed (log: $cache/build.log)" >&2
        exit 1
    fi
    echo "$stamp" >"$prefix/.stamp"
    grep "feature S2N_LIBCRYPTO" "$cache/cmake.log" | sed 's/^-- /s2n-deps:   /' >&2 || true
    say "built in $(($(date +%s) - start)) s"
fi
echo "S2N_PREFIX=$prefix"
echo "S2N_VERSION=$version"
