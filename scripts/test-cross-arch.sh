#!/usr/bin/env bash
# Builds the core for the other architectures it has a switch for (i386 with
# -m32, aarch64 with a cross compiler under qemu-user) and runs the native
# tests that do not need TLS there. Installs its own tools with apt when they
# are missing (needs root). Usage: scripts/test-cross-arch.sh [i386] [aarch64]
set -euo pipefail
cd "$(dirname "$0")/../native"

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(i386 aarch64)

need_apt() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}" >&2
        apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

failures=0
run_tests() { # $1 build dir, rest: runner prefix
    local dir=$1; shift
    local count=0
    for t in "$dir"/tests/*; do
        [ -x "$t" ] || continue
        case "$(basename "$t")" in
            *tls*) echo "skip $(basename "$t"): no TLS library in this build"; continue ;;
        esac
        count=$((count + 1))
        if timeout 120 "$@" "$t" >"$t.log" 2>&1; then
            echo "pass $(basename "$t")"
        else
            echo "FAIL $(basename "$t")"; tail -20 "$t.log"; failures=$((failures + 1))
        fi
    done
    [ "$count" -gt 0 ] || { echo "no tests found in $dir"; failures=$((failures + 1)); }
}

for arch in "${arches[@]}"; do
    case "$arch" in
        i386)
            need_apt g++-multilib
            make -s BUILD=build-i386 ARCH=i386 TLS=none LTO= EXTRA_CFLAGS=-m32 LDFLAGS=-m32 -j2 tests-only
            run_tests build-i386 ;;
        aarch64)
            need_apt gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user
            make -s BUILD=build-aarch64 ARCH=aarch64 TLS=none LTO= CC=aarch64-linux-gnu-gcc \
                CXX=aarch64-linux-gnu-g++ -j2 tests-only
            QEMU_LD_PREFIX=/usr/aarch64-linux-gnu run_tests build-aarch64 qemu-aarch64 ;;
        *) echo "unknown arch $arch (i386, aarch64)" >&2; exit 2 ;;
    esac
done
[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cross-arch tests passed"
