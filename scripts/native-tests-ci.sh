#!/usr/bin/env bash
# native-tests-ci.sh BUILD - runs every test program of BUILD/tests/, each
# under a time limit, one line per test and a closing count; exits non-zero
# when one fails or when there is none. For the macOS and FreeBSD CI jobs
# (.github/workflows/ci.yml), where Node and the tap suite do not run: so it
# is written for bash 3.2 (macOS), and uses timeout(1) where there is one
# (Linux, FreeBSD) or perl's alarm (macOS).
set -u
build=${1:?usage: native-tests-ci.sh BUILD}
limit=${TEST_TIMEOUT:-120}
with_limit() {
    if command -v timeout >/dev/null 2>&1; then
        timeout "$limit" "$@"
    else
        perl -e 'alarm shift; exec @ARGV or die "exec: $!"' "$limit" "$@"
    fi
}
logs=$build/test-logs
mkdir -p "$logs"
passed=0 failed=0 failed_names=""
for t in "$build"/tests/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    if with_limit "$t" >"$logs/$name.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok      $name"
    else
        rc=$?
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        echo "FAILED  $name (exit $rc)"
        tail -20 "$logs/$name.log" | sed 's/^/        /'
    fi
done
echo "native tests on $(uname -s) $(uname -m): $passed passed, $failed failed${failed_names:+ (}${failed_names# }${failed_names:+)}"
[ $((passed + failed)) -gt 0 ] || { echo "no test programs in $build/tests/" >&2; exit 1; }
[ $failed -eq 0 ]
