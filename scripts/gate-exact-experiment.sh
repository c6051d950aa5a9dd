#!/usr/bin/env bash
# Proves the exact-count thresholds of the regression gate (docs/gate.md,
# "Exact counts"): small injected costs are caught every time, and the same
# sources never raise an alarm.
#
#   1. Builds the knob build twice from the same sources (CORO_SLOWDOWN_LOOPS
#      compiled in; the environment variable of the same name sets the loops
#      of the busy loop in every resume at run time; the second copy's counts
#      join the recorded spread). One binary serves every level: the baseline
#      and the A/A run it at 0 loops, the injected levels at N loops, so the
#      injected cost is all that differs. (Against the default build, the
#      knob build at 0 loops is itself +1.1 % instructions per transaction:
#      the run-time loop count is read in every resume.)
#   2. Records its baseline at 0 loops with the spread of every exact count
#      (`check --update-baseline --spread-build`), noise-free metrics only.
#   3. Calibrates: instructions per transaction at CAL_LOOPS loops against
#      that baseline (callgrind counts are linear in the loops), and takes
#      the smallest loop counts that add at least +2 % and +5 %.
#   4. A/A: TRIALS checks at 0 loops against the baseline, each a fresh
#      process with another environment size and working folder. Any exit 1
#      is a false alarm.
#   5. TRIALS checks at each level (also with varied environment sizes):
#      instructions per transaction must be flagged ("regression", exit 1)
#      every time.
#
# Usage: scripts/gate-exact-experiment.sh [TRIALS]     (default 20)
# Env:   WORK (scratch folder, default a new /tmp folder), OUT (summary
#        folder, default results/gate-exact-experiment), CAL_LOOPS (20),
#        PROFILE (gate), METRIC (instructions_per_txn/coro/epoll).
# Exit status: 0 when every level was caught in every trial and the A/A had
# no alarm, 1 otherwise, 2 when a build or the baseline failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TRIALS=${1:-20}
WORK=${WORK:-$(mktemp -d /tmp/coro-gate-exact.XXXXXX)}
OUT=${OUT:-results/gate-exact-experiment}
CAL_LOOPS=${CAL_LOOPS:-20}
PROFILE=${PROFILE:-gate}
METRIC=${METRIC:-instructions_per_txn/coro/epoll}
CLI=(node "$ROOT/dist/cli/main.js")
mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$(date +%s)
LOG="$OUT/experiment.log"
: >"$LOG"
say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG" >&2; }

[[ -x dist/cli/main.js ]] || { echo "error: dist/cli/main.js not built (npm run build)" >&2; exit 2; }
bash scripts/install-measure-tools.sh

# row FILE ID FIELD: a field of metric ID's row in a check --json document.
row() { node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1]));const r=d.rows.find(x=>x.id===process.argv[2]);const f=process.argv[3];console.log(!r?"missing":f==="cost"?(r.decision?r.decision.cost:"NaN"):f==="threshold"?r.threshold_pct:r[f])' "$1" "$2" "$3"; }
regressed() { node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(d.rows.filter(r=>r.status==="regression").map(r=>r.id).join(",")||"-")' "$1"; }

build() { # DIR [KNOB_LOOPS]
  say "building $1 (CORO_SLOWDOWN_LOOPS=${2:-unset})"
  make -C native BUILD="$1" ${2:+CORO_SLOWDOWN_LOOPS=$2} -j"$(nproc)" >"$1.make.log" 2>&1 ||
    { echo "error: building $1 failed, see $1.make.log" >&2; exit 2; }
}

# check I LOOPS BUILD OUTFILE: one check in a fresh process, from its own
# working folder, with an environment padding of a size that differs per I.
check() {
  local i=$1 loops=$2 build=$3 out=$4 rc=0
  local pad=$(((i * 7919) % 9000 + 1))
  mkdir -p "$WORK/cwd-$i"
  (cd "$WORK/cwd-$i" && CORO_SLOWDOWN_LOOPS=$loops CORO_BENCH_ENV_PAD=$(head -c "$pad" /dev/zero | tr '\0' p) \
    timeout 900 "${CLI[@]}" check --json --profile "$PROFILE" --build "$build" --baseline "$WORK/ref.json" >"$out" 2>>"$WORK/check.stderr") || rc=$?
  [[ -s $out ]] || { echo "error: check exited $rc without a result: $(tail -n 1 "$WORK/check.stderr")" >&2; exit 2; }
  echo "$rc"
}

SLOW="$WORK/build-slow"
SLOW2="$WORK/build-slow2"
build "$SLOW" 0
build "$SLOW2" 0

say "baseline of $SLOW at 0 loops with the spread (5 runs + $SLOW2)"
CORO_SLOWDOWN_LOOPS=0 "${CLI[@]}" check --profile "$PROFILE" --build "$SLOW" --baseline "$WORK/ref.json" --update-baseline --spread-build "$SLOW2" --json >"$WORK/ref-run.json" 2>>"$WORK/check.stderr" ||
  { echo "error: recording the reference baseline failed: $(tail -n 1 "$WORK/check.stderr")" >&2; exit 2; }
node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1]));for(const [id,m] of Object.entries(b.metrics))if(m.spread)console.log(`spread ${id}: ${m.spread.max_pct.toPrecision(3)} % over ${m.spread.values.join(" ")}`)' "$WORK/ref.json" | tee -a "$LOG" >&2

say "calibration: $SLOW at $CAL_LOOPS loops"
check 1001 "$CAL_LOOPS" "$SLOW" "$WORK/cal.json" >/dev/null
c0=1
c1=$(row "$WORK/cal.json" "$METRIC" cost)
declare -A LOOPS
for level in 2 5; do
  LOOPS[$level]=$(node -e 'const [c0,c1,L,t]=process.argv.slice(1).map(Number);const a=(c1-c0)/L;console.log(Math.max(1,Math.ceil((1+t/100-c0)/a)))' "$c0" "$c1" "$CAL_LOOPS" "$level")
done
say "calibration: $METRIC cost x$c1 at $CAL_LOOPS loops -> +2 %: ${LOOPS[2]} loops, +5 %: ${LOOPS[5]} loops; threshold $(row "$WORK/cal.json" "$METRIC" threshold) %"

AA_ALARMS=0
AA_UNDECIDED=0
AA_METRICS=""
AA_COSTS=""
for ((i = 1; i <= TRIALS; i++)); do
  f="$WORK/aa-$i.json"
  rc=$(check "$i" 0 "$SLOW" "$f")
  [[ $rc == 1 ]] && { AA_ALARMS=$((AA_ALARMS + 1)); AA_METRICS+="$(regressed "$f") "; }
  [[ $rc == 2 ]] && AA_UNDECIDED=$((AA_UNDECIDED + 1))
  AA_COSTS+="$(row "$f" "$METRIC" cost) "
  say "A/A $i: exit $rc, $METRIC cost x$(row "$f" "$METRIC" cost), regressed: $(regressed "$f")"
done

declare -A CAUGHT COSTS
for level in 2 5; do
  CAUGHT[$level]=0
  COSTS[$level]=""
  for ((i = 1; i <= TRIALS; i++)); do
    f="$WORK/k$level-$i.json"
    rc=$(check "$((100 * level + i))" "${LOOPS[$level]}" "$SLOW" "$f")
    st=$(row "$f" "$METRIC" status)
    COSTS[$level]+="$(row "$f" "$METRIC" cost) "
    [[ $st == regression && $rc == 1 ]] && CAUGHT[$level]=$((CAUGHT[$level] + 1))
    say "+$level % trial $i: exit $rc, $METRIC $st, cost x$(row "$f" "$METRIC" cost)"
  done
done

range() { node -e 'const v=process.argv.slice(1).map(Number).filter(Number.isFinite).map(c=>(c-1)*100);console.log(v.length?`${Math.min(...v).toFixed(2)}..${Math.max(...v).toFixed(2)} %`:"n/a")' $1; }
{
  echo "Exact-count gate experiment on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, profile $PROFILE, $(($(date +%s) - START)) s"
  echo
  echo "| check | knob loops | $METRIC change (measured) | flagged |"
  echo "|---|---|---|---|"
  echo "| A/A (0 loops vs the baseline at 0 loops) | 0 | $(range "$AA_COSTS") | $AA_ALARMS false alarm(s) in $TRIALS (undecided: $AA_UNDECIDED)${AA_METRICS:+; alarms: $AA_METRICS} |"
  for level in 2 5; do
    echo "| +$level % target | ${LOOPS[$level]} | $(range "${COSTS[$level]}") | ${CAUGHT[$level]}/$TRIALS |"
  done
  echo
  echo "Threshold of $METRIC: $(row "$WORK/cal.json" "$METRIC" threshold_pct) % = $(row "$WORK/cal.json" "$METRIC" threshold_why)"
} | tee "$OUT/summary.md"
say "details in $WORK; summary in $OUT/summary.md"
[[ $AA_ALARMS == 0 && $AA_UNDECIDED == 0 && ${CAUGHT[2]} == "$TRIALS" && ${CAUGHT[5]} == "$TRIALS" ]]
