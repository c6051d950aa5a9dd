#!/usr/bin/env bash
# Builds the core for the other architectures it has a switch for (i386 and
# aarch64, with Debian's cross compilers g++-i686-linux-gnu and
# g++-aarch64-linux-gnu, which install side by side) and runs the native
# tests that do not need TLS there: natively when the kernel executes that
# architecture's binaries, under qemu-user when it does not, saying in one
# line which. Then runs the switch microbenchmark once as a smoke check.
#
# Usage: scripts/test-cross-arch.sh [i386] [aarch64]   (default: both)
# Environment: CROSS_ARCH_RUNNER=qemu forces qemu-user (to test that path on
# a kernel that could run the binaries natively).
#
# Installs what is missing with apt-get (root, or sudo without a password),
# waiting while another apt/dpkg holds the lock. Builds into
# native/build-<arch>/ (never native/build/) and writes the outcome to
# native/build-<arch>/cross-arch.json, which `coro-bench info` shows.
# Exits non-zero when a test or the smoke check fails, or nothing ran.
set -euo pipefail
native=$(cd "$(dirname "$0")/../native" && pwd)
cd "$native"

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(i386 aarch64)
host=$(uname -m)

# Per architecture: the cross toolchain's triplet, its dynamic loader (the
# binaries name it by absolute path, so they run both natively and under
# qemu-user without a library prefix), and whether a CPU of the host's kind
# can execute that code at all (i386 on x86_64: yes, if the kernel lets it).
triplet() { case $1 in i386) echo i686-linux-gnu ;; aarch64) echo aarch64-linux-gnu ;; esac; }
loader() { case $1 in i386) echo ld-linux.so.2 ;; aarch64) echo ld-linux-aarch64.so.1 ;; esac; }
host_cpu_runs() { [[ $1 == "$host" || ($1 == i386 && $host == x86_64) ]]; }

# The reason each left-out test is left out (docs/cross-arch.md lists them).
left_out_reason() {
    case $1 in
        *tls*) echo "the cross builds have no TLS library (TLS=none: OpenSSL for the target is not installed)" ;;
        test_smtp_e2e) echo "it spawns smtp_server and smtp_client, which the tests-only cross build does not make (and under qemu-user a test cannot exec another foreign binary without binfmt_misc)" ;;
        test_asan_restored_slice) echo "it checks an ASan build only (npm run test:asan, x86_64)" ;;
        *) return 1 ;;
    esac
}

# apt_install PKG...: installs the packages dpkg does not know. While another
# apt-get or dpkg holds the lock (a colleague's install, unattended
# upgrades), waits and retries for up to 10 minutes instead of failing.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo -n)
    if ! command -v apt-get >/dev/null || { [ ${#sudo[@]} -gt 0 ] && ! sudo -n true 2>/dev/null; }; then
        echo "error: ${missing[*]} missing and cannot be installed here (needs apt-get as root); install them and run again" >&2
        return 1
    fi
    echo "test-cross-arch: installing ${missing[*]}" >&2
    local attempt log
    log=$(mktemp)
    for attempt in $(seq 1 40); do
        if "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=15 update -qq >"$log" 2>&1 &&
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=15 \
                install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
        if ! grep -qiE 'could not get lock|unable to acquire|is another process using it' "$log"; then
            tail -20 "$log" >&2
            rm -f "$log"
            echo "error: apt-get install ${missing[*]} failed" >&2
            return 1
        fi
        echo "test-cross-arch: apt/dpkg is locked by another process; retrying in 15 s ($attempt/40)" >&2
        sleep 15
    done
    rm -f "$log"
    echo "error: apt/dpkg stayed locked for 10 minutes; ${missing[*]} not installed" >&2
    return 1
}

# One install for every architecture asked for (the compilers, and qemu-user
# when some architecture is one the host CPU cannot execute). qemu-user for
# an architecture the kernel turns out to refuse is added below if needed.
pkgs=()
for arch in "${arches[@]}"; do
    case $arch in
        i386 | aarch64) ;;
        *) echo "error: unknown architecture '$arch' (i386, aarch64)" >&2; exit 2 ;;
    esac
    [ "$arch" = "$host" ] && continue
    pkgs+=("g++-$(triplet "$arch")")
    host_cpu_runs "$arch" && [ "${CROSS_ARCH_RUNNER:-}" != qemu ] || pkgs+=(qemu-user)
done
[ ${#pkgs[@]} -eq 0 ] || apt_install $(printf '%s\n' "${pkgs[@]}" | sort -u)

json_str() { # a JSON string literal of $1
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "${s//$'\n'/ }"
}

total_failures=0
for arch in "${arches[@]}"; do
    if [ "$arch" = "$host" ]; then
        echo "$arch: the host architecture, tested natively by npm test; nothing to do here"
        continue
    fi
    t=$(triplet "$arch")
    build=build-$arch
    libdir=$(cd "$(dirname "$("$t-gcc" -print-file-name=libc.so.6)")" && pwd)
    # DT_RPATH (not RUNPATH): it also finds libm for libstdc++.
    link=(-Wl,--dynamic-linker="$libdir/$(loader "$arch")" -Wl,--disable-new-dtags -Wl,-rpath,"$libdir")
    # The Makefile does not track link flags: a build made with others
    # (by hand, or an older version of this script) starts over.
    flags="$t TLS=none ${link[*]}"
    if [ "$(cat "$build/.cross-flags" 2>/dev/null)" != "$flags" ]; then
        rm -rf "$build"
        mkdir -p "$build"
        echo "$flags" >"$build/.cross-flags"
    fi
    # LTO= because gcc-ar of the host does not know the cross compiler's LTO
    # plugin; TLS=none because there is no OpenSSL for the target.
    start=$SECONDS
    make -s BUILD="$build" ARCH="$arch" TLS=none LTO= CC="$t-gcc" CXX="$t-g++" AR="$t-ar" \
        LDFLAGS="${link[*]}" -j"$(nproc)" tests-only "$build/bench/switch_count"
    build_s=$((SECONDS - start))

    # Decide how to run: a probe program of this architecture, executed by
    # the kernel directly. A binfmt_misc entry for qemu would make a direct
    # run emulated too, so it counts as qemu.
    printf 'int main(void) { return 0; }\n' | "$t-gcc" -x c - "${link[@]}" -o "$build/probe"
    runner=()
    binfmt=/proc/sys/fs/binfmt_misc/qemu-$arch
    if [ "${CROSS_ARCH_RUNNER:-}" = qemu ]; then
        why="CROSS_ARCH_RUNNER=qemu"
    elif ! host_cpu_runs "$arch"; then
        why="an $host CPU cannot execute $arch code"
    elif [ -f "$binfmt" ] && grep -q '^enabled' "$binfmt"; then
        why="binfmt_misc hands $arch binaries to qemu"
    elif err=$("$build/probe" 2>&1); then
        why=""
    else
        err=${err:-exit status $?}
        why="this kernel refuses to execute $arch binaries: ${err##*: }"
    fi
    if [ -n "$why" ]; then
        command -v "qemu-$arch" >/dev/null || apt_install qemu-user
        runner=("qemu-$arch")
        "${runner[@]}" "$build/probe" || { echo "error: qemu-$arch cannot run the $arch probe program" >&2; exit 1; }
        how="under $("qemu-$arch" --version | head -1 | sed 's/ version / /; s/ (.*//')"
        echo "$arch: running the tests $how ($why)"
    else
        how=natively
        echo "$arch: running the tests natively (this kernel executes $arch binaries)"
    fi

    passed=0 failed=0 skipped_json="" count=0
    start=$SECONDS
    for test in "$build"/tests/*; do
        [ -f "$test" ] && [ -x "$test" ] || continue
        name=$(basename "$test")
        if reason=$(left_out_reason "$name"); then
            echo "  skip $name: $reason"
            skipped_json+="${skipped_json:+,}{\"test\":$(json_str "$name"),\"reason\":$(json_str "$reason")}"
            continue
        fi
        count=$((count + 1))
        if timeout 180 "${runner[@]}" "$test" >"$test.log" 2>&1; then
            # A test says itself when it finds nothing (or a part it cannot)
            # check here: "skip: why" or "ok: skipped (why)". It counts as
            # skipped when it checked nothing else.
            reason=$(grep -m1 -E '^(skip: |ok: skipped)' "$test.log" || true)
            case $reason in
                "skip: "*) reason=${reason#skip: } ;;
                "ok: skipped ("*")") reason=${reason#ok: skipped (} reason=${reason%)} ;;
            esac
            reason=${reason//$native\/$build\/tests\/..\//}
            if [ -z "$reason" ]; then
                passed=$((passed + 1))
            elif grep -E '^ok: ' "$test.log" | grep -qv '^ok: skipped'; then
                echo "  pass $name, in part: left out $reason"
                passed=$((passed + 1))
            else
                echo "  skip $name: $reason"
                skipped_json+="${skipped_json:+,}{\"test\":$(json_str "$name"),\"reason\":$(json_str "$reason")}"
            fi
        else
            echo "  FAIL $name (exit $?), last lines of $native/$test.log:"
            tail -20 "$test.log" | sed 's/^/    /'
            failed=$((failed + 1))
        fi
    done
    [ "$passed" -gt 0 ] || { echo "  FAIL: no test passed in native/$build/tests ($count run)"; failed=$((failed + 1)); }
    tests_s=$((SECONDS - start))

    # The switch microbenchmark, once, as a smoke check: it must run and
    # copy exactly the live slice per switch. Its time per switch is not a
    # result: under qemu it times the emulator, and a native i386 run on an
    # x86_64 CPU is not the x86_64 build either; neither is compared.
    smoke=FAIL
    if out=$(timeout 120 "${runner[@]}" "$build/bench/switch_count" 256 200000 2>&1) &&
        switches=$(sed -n 's/.*"switches":\([0-9]*\).*/\1/p' <<<"$out") &&
        copied=$(sed -n 's/.*"bytes_copied_per_switch":\([0-9.]*\).*/\1/p' <<<"$out") &&
        slice=$(sed -n 's/.*"slice_bytes":\([0-9.]*\).*/\1/p' <<<"$out") &&
        [ -n "$switches" ] && [ "$switches" -ge 200000 ] && [ -n "$copied" ] && [ "$copied" = "$slice" ] &&
        [ "${copied%.*}" -gt 0 ]; then
        smoke=ok
        if [ "$how" = natively ]; then
            ns=$(sed -n 's/.*"ns_per_switch":\([0-9.]*\).*/\1/p' <<<"$out")
            echo "  switch smoke check ($arch, natively): ok, $switches switches, $copied bytes copied per switch = the live slice; $ns ns/switch for this $arch build, not comparable with the $host build"
        else
            echo "  switch smoke check ($arch, $how): ok, $switches switches, $copied bytes copied per switch = the live slice; its time is not shown: under emulation it measures qemu, not the switch, and means nothing (nor is it compared with $host)"
        fi
    else
        echo "  FAIL switch smoke check ($arch): $out"
        failed=$((failed + 1))
    fi

    nskipped=$(grep -o '"test":' <<<"$skipped_json" | wc -l)
    echo "$arch ($how): $passed passed, $failed failed, $nskipped skipped; build ${build_s} s, tests ${tests_s} s"
    {
        printf '{"arch":%s,"runner":%s,"passed":%d,"failed":%d,"skipped":[%s],' \
            "$(json_str "$arch")" "$(json_str "$how")" "$passed" "$failed" "$skipped_json"
        printf '"switch_smoke":%s,"build_s":%d,"tests_s":%d,"kernel":%s,"finished_at":%s}\n' \
            "$(json_str "$smoke")" "$build_s" "$tests_s" "$(json_str "$(uname -sr) $host")" \
            "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    } >"$build/cross-arch.json"
    total_failures=$((total_failures + failed))
done
[ "$total_failures" -eq 0 ] || { echo "cross-arch: $total_failures failure(s)"; exit 1; }
echo "cross-arch tests passed"
