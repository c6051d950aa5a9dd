#!/usr/bin/env bash
# Proves the regression gate on this machine (docs/gate.md).
#
#   A/A          The same build checked TRIALS times against a baseline of
#                itself recorded just before (timed metrics only: the counts
#                cannot differ). Alarms must be at most 1 in 20.
#                Every build, the reference too, is made here from the same
#                sources (the load generator, echo_client, is native/build's).
#   Sensitivity  One build with the CORO_SLOWDOWN_LOOPS knob (a busy loop in
#                every resume), run at loop counts (the environment variable
#                of the same name) calibrated to add ~10 % and ~25 % to each
#                gated cost: instructions per switch and per transaction
#                (noise-free), ns per switch against its bound and coro/epoll
#                txn/s (timed). The noise-free metrics must catch both levels
#                every time; the timed ones the 25 % level at least 19 times
#                in 20.
#
# One binary for every level: what a loop costs in time depends on the code
# layout around it, which moves from build to build (separate builds per
# count once measured 4, 5 and 7 loops at +4 %, +30 % and +14 %); within one
# binary the cost grows steadily with the count. Even at 0 loops the knob
# build differs from the reference (it is another build); the calibration
# measures that too.
#
# Calibration: the knob build at 0 and CAL_LOOPS loops gives each metric's
# cost per loop (callgrind instructions, FFI ns, echo throughput); the loop
# counts for 10 % and 25 % follow, rounded up (exact for the instruction
# counts). The timed metrics are then measured on a grid of loop counts
# around those and a line fitted through the points (their cost is measured
# with noise and bends at small counts). The injected percentage actually
# measured (median over the trials) is reported.
#
# Usage: scripts/gate-experiment.sh [TRIALS]      (default 20)
# Env:   WORK (scratch folder, default a new /tmp folder), OUT (summary folder,
#        default results/gate-experiment), CAL_LOOPS (2000), CAL_REPEATS (2
#        checks per grid point), REF_RUNS (30 timed runs in the reference
#        baseline the calibration compares with), LOOPS_GIVEN (skip the
#        calibration: "instructions_per_switch/0B@10=3 ..." for all eight
#        metric@level keys), NF_TRIALS
#        (noise-free trials per build, default TRIALS), MAX_MINUTES (120: the
#        experiment stops starting trials after that and reports what it has).
set -euo pipefail
cd "$(dirname "$0")/.."

TRIALS=${1:-20}
NF_TRIALS=${NF_TRIALS:-$TRIALS}
WORK=${WORK:-$(mktemp -d /tmp/coro-gate-experiment.XXXXXX)}
OUT=${OUT:-results/gate-experiment}
CAL_LOOPS=${CAL_LOOPS:-2000}
MAX_MINUTES=${MAX_MINUTES:-120}
CLI=(node dist/cli/main.js)
mkdir -p "$WORK" "$OUT"
START=$(date +%s)
DEADLINE=$((START + MAX_MINUTES * 60))
LOG="$OUT/experiment.log"
: >"$LOG"

say() { echo "[$(($(date +%s) - START)) s] $*" | tee -a "$LOG" >&2; }
in_time() { [[ $(date +%s) -lt $DEADLINE ]]; }

[[ -x dist/cli/main.js ]] || { echo "error: dist/cli/main.js not built (npm run build)" >&2; exit 2; }

# JSON helpers (node is always there; jq may not be).
# cost FILE ID: the decision's cost ratio of metric ID in a check --json file.
cost() { node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1]));const r=d.rows.find(x=>x.id===process.argv[2]);console.log(r&&r.decision?r.decision.cost:"NaN")' "$1" "$2"; }
# status FILE ID: the row status of metric ID.
status() { node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1]));const r=d.rows.find(x=>x.id===process.argv[2]);console.log(r?r.status:"missing")' "$1" "$2"; }
# fit "L:cost L:cost ..." TARGET: the least-squares line of cost over loops,
# solved for cost = 1 + TARGET (0.10), rounded up, at least 1.
fit() {
  node -e '
    const pts = process.argv[1].trim().split(/\s+/).map((p) => p.split(":").map(Number)).filter(([, c]) => Number.isFinite(c));
    const t = Number(process.argv[2]);
    const n = pts.length, mx = pts.reduce((a, [l]) => a + l, 0) / n, my = pts.reduce((a, [, c]) => a + c - 1, 0) / n;
    const a = pts.reduce((s, [l, c]) => s + (l - mx) * (c - 1 - my), 0) / pts.reduce((s, [l]) => s + (l - mx) ** 2, 0);
    const b = my - a * mx;
    console.log(a > 0 ? Math.max(1, Math.ceil((t - b) / a)) : 0);
  ' "$1" "$2"
}


build() { # DIR [KNOB_LOOPS]: builds DIR (with the slowdown knob when KNOB_LOOPS is given)
  local dir=$1
  say "building $dir (CORO_SLOWDOWN_LOOPS=${2:-unset})"
  make -C native BUILD="$dir" ${2:+CORO_SLOWDOWN_LOOPS=$2} -j"$(nproc)" >"$dir.make.log" 2>&1 ||
    { echo "error: building $dir failed, see $dir.make.log" >&2; exit 2; }
}

check() { # LOOPS OUTFILE ARGS...: runs check --json into OUTFILE with CORO_SLOWDOWN_LOOPS=LOOPS, echoes its exit status
  local loops=$1 out=$2
  shift 2
  local rc=0
  CORO_SLOWDOWN_LOOPS=$loops timeout 900 "${CLI[@]}" check --json "$@" >"$out" 2>>"$WORK/check.stderr" || rc=$?
  if [[ ! -s $out ]]; then
    # No check document at all: bad input or setup, which every later check
    # would repeat. Stop the whole experiment ($$, also from the $(...)
    # subshells). (A run that failed under load still writes its document,
    # exit 2, and counts as undecided.)
    echo "error: check $* exited $rc without a result: $(tail -n 1 "$WORK/check.stderr")" >&2
    kill -TERM $$
    exit 2
  fi
  echo "$rc"
}

NF_IDS=(instructions_per_switch/0B instructions_per_txn/coro/epoll)
T_IDS=(switch_vs_bound/0B txn_per_s_vs_epoll/coro/epoll)

# Copies of the gate profile with one kind of workload each: a check aimed at
# one timed metric then does not also time the other (the switch microbench
# at thousands of loops per resume, for the echo levels, takes minutes).
for kind in switch echo; do
  node -e 'const [src, kind] = process.argv.slice(1); const p = JSON.parse(require("fs").readFileSync(src));
    const gate = Object.fromEntries(Object.entries(p.gate).filter(([k]) => k.includes(kind)));
    console.log(JSON.stringify({ ...p, description: `${p.description} (${kind} workload only)`, workloads: p.workloads.filter((w) => w.kind === kind), gate }))' \
    bench-profiles/gate.json "$kind" >"$WORK/gate-$kind.json"
done
profile_for() { # METRIC_ID -> the single-kind profile that measures it
  case $1 in
    switch_vs_bound/*) echo "$WORK/gate-switch.json" ;;
    *) echo "$WORK/gate-echo.json" ;;
  esac
}
# The timed metric the single-kind profile of METRIC_ID does not measure: the
# check accepts that gap explicitly (an unmeasured baseline metric is exit 2).
other_timed() { # METRIC_ID
  local x
  for x in "${T_IDS[@]}"; do [[ $x != "$1" ]] && echo "$x"; done | paste -sd, -
}

# 1. The reference build (no knob) and the knob build, both made here from
#    the same sources, and the reference's baseline (noise-free and timed).
REF="$WORK/build-ref"
SLOW="$WORK/build-slow"
build "$REF"
build "$SLOW" 0
say "reference baseline of $REF"
rc=$(check 0 "$WORK/ref-run.json" --timed --runs "${REF_RUNS:-30}" --update-baseline --build "$REF" --baseline "$WORK/ref.json")
[[ $rc == 0 ]] || { echo "error: the reference run failed (exit $rc), see $WORK/check.stderr" >&2; exit 2; }

# LOOPS_GIVEN="ID@LEVEL=N ..." (e.g. from an earlier run's calibration) skips
# the calibration when it names all eight counts.
declare -A LOOPS=()
for kv in ${LOOPS_GIVEN:-}; do LOOPS[${kv%%=*}]=${kv##*=}; done
if [[ ${#LOOPS[@]} -ge 8 ]]; then
  say "loop counts given: ${LOOPS_GIVEN}"
else

# 2. Calibration: cost per loop of each target metric, from the knob build
#    at 0 and at CAL_LOOPS loops.
say "calibration: check --build $SLOW at 0 and $CAL_LOOPS loops"
check 0 "$WORK/cal0.json" --timed --build "$SLOW" --baseline "$WORK/ref.json" >/dev/null
check "$CAL_LOOPS" "$WORK/cal.json" --timed --build "$SLOW" --baseline "$WORK/ref.json" >/dev/null
for id in "${NF_IDS[@]}" "${T_IDS[@]}"; do
  c0=$(cost "$WORK/cal0.json" "$id")
  c=$(cost "$WORK/cal.json" "$id")
  for level in 10 25; do
    LOOPS[$id@$level]=$(fit "0:$c0 $CAL_LOOPS:$c" "0.$level")
  done
  say "calibration: $id cost x$c0 at 0 loops, x$c at $CAL_LOOPS -> 10 %: ${LOOPS[$id@10]} loops, 25 %: ${LOOPS[$id@25]} loops"
done

# 3. Timed metrics: their cost is not proportional to the loop count (it
#    bends at small counts, and echo throughput bends as the server
#    saturates), and one timed measurement is noisy. So each is measured on a grid of loop counts around the linear
#    estimate (CAL_REPEATS checks per point against the reference baseline),
#    and a least-squares line through those points gives the counts.
CAL_REPEATS=${CAL_REPEATS:-2}
for id in "${T_IDS[@]}"; do
  lo=${LOOPS[$id@10]}
  hi=${LOOPS[$id@25]}
  grid=$(node -e 'const [lo,hi]=process.argv.slice(1).map(Number);const g=[lo*0.5,lo,(lo+hi)/2,hi,hi*1.5].map((x)=>Math.max(1,Math.round(x)));console.log([...new Set(g)].join(" "))' "$lo" "$hi")
  points=""
  for l in $grid; do
    for ((k = 1; k <= CAL_REPEATS; k++)); do
      check "$l" "$WORK/grid.json" --timed-only --profile "$(profile_for "$id")" --allow-missing "$(other_timed "$id")" --build "$SLOW" --baseline "$WORK/ref.json" >/dev/null
      points+=" $l:$(cost "$WORK/grid.json" "$id")"
    done
  done
  LOOPS[$id@10]=$(fit "$points" 0.10)
  LOOPS[$id@25]=$(fit "$points" 0.25)
  say "grid: $id costs$points -> 10 %: ${LOOPS[$id@10]} loops, 25 %: ${LOOPS[$id@25]} loops"
done
fi

# 4. Noise-free sensitivity: every trial must flag the target metric.
declare -A NF_CAUGHT NF_RUNS NF_COST
for id in "${NF_IDS[@]}"; do
  for level in 10 25; do
    key="$id@$level"
    NF_CAUGHT[$key]=0
    NF_RUNS[$key]=0
    for ((i = 1; i <= NF_TRIALS; i++)); do
      in_time || break
      f="$WORK/nf-${level}-${id//\//_}-$i.json"
      rc=$(check "${LOOPS[$key]}" "$f" --build "$SLOW" --baseline "$WORK/ref.json")
      NF_RUNS[$key]=$((NF_RUNS[$key] + 1))
      NF_COST[$key]=$(cost "$f" "$id")
      [[ $(status "$f" "$id") == regression && $rc == 1 ]] && NF_CAUGHT[$key]=$((NF_CAUGHT[$key] + 1))
    done
    say "noise-free $key (${LOOPS[$key]} loops, cost x${NF_COST[$key]}): caught ${NF_CAUGHT[$key]}/${NF_RUNS[$key]}"
  done
done

# 5. Timed: per trial a fresh baseline of the reference build, then the A/A
#    check and the knob build at every timed level against it.
AA_ALARMS=0
AA_RUNS=0
declare -A T_CAUGHT T_RUNS T_COSTS
for id in "${T_IDS[@]}"; do for level in 10 25; do T_CAUGHT[$id@$level]=0; T_RUNS[$id@$level]=0; T_COSTS[$id@$level]=""; done; done
for ((i = 1; i <= TRIALS; i++)); do
  in_time || { say "time limit reached after $((i - 1)) timed trials"; break; }
  base="$WORK/aa-base-$i.json"
  rm -f "$base"
  rc=$(check 0 "$WORK/aa-rec-$i.json" --timed-only --update-baseline --build "$REF" --baseline "$base")
  [[ $rc == 0 ]] || { say "trial $i: recording the baseline failed (exit $rc); skipped"; continue; }
  rc=$(check 0 "$WORK/aa-$i.json" --timed-only --build "$REF" --baseline "$base")
  AA_RUNS=$((AA_RUNS + 1))
  [[ $rc == 1 ]] && AA_ALARMS=$((AA_ALARMS + 1))
  line="trial $i: A/A exit $rc"
  for id in "${T_IDS[@]}"; do
    for level in 10 25; do
      key="$id@$level"
      f="$WORK/t-${level}-${id//\//_}-$i.json"
      check "${LOOPS[$key]}" "$f" --timed-only --profile "$(profile_for "$id")" --allow-missing "$(other_timed "$id")" --build "$SLOW" --baseline "$base" >/dev/null
      T_RUNS[$key]=$((T_RUNS[$key] + 1))
      T_COSTS[$key]+="$(cost "$f" "$id") "
      [[ $(status "$f" "$id") == regression ]] && T_CAUGHT[$key]=$((T_CAUGHT[$key] + 1))
      line+=", $key $(status "$f" "$id")"
    done
  done
  say "$line"
done

# 6. Summary (also as JSON for the record).
median() { node -e 'const v=process.argv.slice(1).map(Number).filter(Number.isFinite).sort((a,b)=>a-b);const m=v.length?(v.length%2?v[(v.length-1)/2]:(v[v.length/2-1]+v[v.length/2])/2):NaN;console.log(((m-1)*100).toFixed(1))' $1; }
{
  echo "Gate experiment on $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, threshold 10 %, $(($(date +%s) - START)) s"
  echo
  echo "A/A (timed metrics, reference build against itself): $AA_ALARMS alarm(s) in $AA_RUNS trials"
  echo "  (alarms by metric: $(for i in $(seq 1 "$TRIALS"); do [[ -f $WORK/aa-$i.json ]] && node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1]));for(const r of d.rows)if(r.status==="regression")console.log(r.id)' "$WORK/aa-$i.json"; done | sort | uniq -c | tr '\n' ' '))"
  echo
  echo "| metric | kind | target | loops | injected (measured) | caught |"
  echo "|---|---|---|---|---|---|"
  for id in "${NF_IDS[@]}"; do for level in 10 25; do
    key="$id@$level"
    echo "| $id | noise-free | $level % | ${LOOPS[$key]} | $(median "${NF_COST[$key]:-NaN}") % | ${NF_CAUGHT[$key]}/${NF_RUNS[$key]} |"
  done; done
  for id in "${T_IDS[@]}"; do for level in 10 25; do
    key="$id@$level"
    echo "| $id | timed | $level % | ${LOOPS[$key]} | $(median "${T_COSTS[$key]:-NaN}") % (median of trials) | ${T_CAUGHT[$key]}/${T_RUNS[$key]} |"
  done; done
} | tee "$OUT/summary.md"
say "details in $WORK; summary in $OUT/summary.md"
