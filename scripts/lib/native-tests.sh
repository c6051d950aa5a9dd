# Sourced by the native test runners (test-asan.sh, test-valgrind.sh).
#
# collect_native_tests TOOL BUILD [NAME...]: fills the array TESTS with the
# named programs of BUILD/tests/ (every executable there when none is named).
# Finding none is a failure, not a pass: it says so in the runners' summary
# format ("TOOL: 0 passed, 1 failed") and exits 1.
collect_native_tests() {
    local tool=$1 build=$2 t
    shift 2
    TESTS=()
    if [ $# -gt 0 ]; then
        for t in "$@"; do TESTS+=("$build/tests/$t"); done
    else
        for t in "$build"/tests/*; do
            [ -f "$t" ] && [ -x "$t" ] && TESTS+=("$t")
        done
    fi
    if [ ${#TESTS[@]} -eq 0 ]; then
        echo "test-$tool: no test programs in $build/tests/" >&2
        echo "$tool: 0 passed, 1 failed"
        exit 1
    fi
}
