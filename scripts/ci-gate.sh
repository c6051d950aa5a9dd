#!/usr/bin/env bash
# CI performance gate (docs/gate.md): the noise-free metrics
# (callgrind instruction counts, strace syscall counts, bytes copied, RSS per
# idle connection) against a baseline, then the comparison table of a small
# workload for the log (informational: it never fails the build).
#
#   BASELINE    baseline file (default reports/baseline.json, the committed one)
#   BASE_BUILD  if set, a native build folder of the base revision: the
#               baseline is first recorded from it on this machine (to
#               BASELINE, default results/base-baseline.json then), so that
#               both sides share compiler, libc and CPU (GitHub pull requests)
#   OUT         folder for the JSON reports (default results/, git-ignored)
#
# Installs valgrind and strace when missing (scripts/install-measure-tools.sh).
# Exit status: that of `coro-bench check` (0 ok, 1 regression, 2 could not run).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-results}
mkdir -p "$OUT"
CLI=(node dist/cli/main.js)
[[ -x dist/cli/main.js ]] || { echo "error: dist/cli/main.js not built (npm ci or npm run build)" >&2; exit 2; }

bash scripts/install-measure-tools.sh

start=$(date +%s)
if [[ -n ${BASE_BUILD:-} ]]; then
  BASELINE=${BASELINE:-$OUT/base-baseline.json}
  rm -f "$BASELINE"
  echo "ci-gate: recording the baseline from $BASE_BUILD" >&2
  "${CLI[@]}" check --build "$BASE_BUILD" --update-baseline --baseline "$BASELINE" --export "$OUT/gate-base.json" >/dev/null
fi
BASELINE=${BASELINE:-reports/baseline.json}

status=0
"${CLI[@]}" check --baseline "$BASELINE" --export "$OUT/gate-check.json" || status=$?
echo "ci-gate: check exited $status after $(($(date +%s) - start)) s" >&2

echo
"${CLI[@]}" compare --conns 50 --txns 200 --size 100 --runs 3 --depth 0,1024,4096 --export "$OUT/compare.json" ||
  echo "ci-gate: warning: compare exited $? (informational, not gated)" >&2
echo "ci-gate: done in $(($(date +%s) - start)) s" >&2
exit "$status"
