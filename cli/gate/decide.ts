// The gate's decision rule for one metric: baseline samples against current
// samples, with a threshold in percent. Pure functions, no I/O.
//
// Everything is expressed as a *cost ratio*: current / baseline for a metric
// where lower is better (instructions, ns), baseline / current where higher is
// better (throughput). A cost of 1.25 is "25 % slower" either way.
//
// * Noise-free metrics (instruction and syscall counts, bytes) repeat to a
//   fraction of a percent, so one sample per side is enough and the rule is
//   deterministic: a regression is a change beyond the threshold (and beyond
//   an absolute tolerance, for figures with a known granularity such as RSS).
// * Timed metrics need several samples per side. A regression is reported only
//   when the whole bootstrap confidence interval of the ratio of medians lies
//   beyond the threshold. A point estimate beyond it with an interval that
//   straddles it is borderline: the caller re-runs that metric once, and the
//   pooled samples decide (confirm).
import { median } from '../stats/summary.js';
import { bootstrapRatioOfMedians, type Interval } from './bootstrap.js';
import { seededRandom, seedFor } from './rng.js';

export type Better = 'lower' | 'higher';
export type MetricKind = 'noise-free' | 'timed';

/**
 * ok / improved / regression: decided. borderline: needs the confirming
 * re-run. unconfirmed: was borderline, the re-run did not confirm it (passes).
 * insufficient: too few samples to decide anything.
 */
export type Verdict = 'ok' | 'improved' | 'regression' | 'borderline' | 'unconfirmed' | 'insufficient';

export interface Decision {
  verdict: Verdict;
  /** Current cost relative to the baseline (> 1 is worse); NaN when it cannot be computed. */
  cost: number;
  /** Confidence interval of the cost (timed metrics only). */
  interval?: Interval;
  reason: string;
}

/** Fewest samples per side a timed comparison accepts: a median of fewer says too little. */
export const MIN_TIMED_SAMPLES = 5;

export interface TimedOptions {
  /** Mixed into the seed so each metric has its own reproducible stream. */
  seedLabel: string;
  resamples?: number;
  level?: number;
}

function pct(cost: number): string {
  if (!Number.isFinite(cost)) return cost > 0 ? '+inf %' : 'n/a';
  const v = (cost - 1) * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)} %`;
}

function costOf(base: number, cur: number, better: Better): number {
  const [num, den] = better === 'lower' ? [cur, base] : [base, cur];
  if (num === den) return 1;
  return den === 0 ? Number.POSITIVE_INFINITY : num / den;
}

/**
 * Deterministic comparison of medians (noise-free metrics: usually one
 * sample each). Regression when the change in the bad direction exceeds
 * max(threshold x baseline, absTolerance).
 */
export function decideNoiseFree(
  base: readonly number[],
  cur: readonly number[],
  better: Better,
  thresholdPct: number,
  absTolerance = 0,
): Decision {
  if (base.length === 0 || cur.length === 0) {
    return { verdict: 'insufficient', cost: Number.NaN, reason: `no sample (baseline ${base.length}, current ${cur.length})` };
  }
  const b = median(base);
  const c = median(cur);
  const worse = better === 'lower' ? c - b : b - c;
  const allowed = Math.max((thresholdPct / 100) * Math.abs(b), absTolerance);
  const cost = costOf(b, c, better);
  if (allowed === 0) {
    // An exact count with nothing allowed: any change at all decides.
    if (worse > 0) return { verdict: 'regression', cost, reason: `${pct(cost)} (${b} -> ${c}): any change is a regression` };
    if (worse < 0) return { verdict: 'improved', cost, reason: `${pct(cost)} (${b} -> ${c}): better` };
    return { verdict: 'ok', cost, reason: 'unchanged' };
  }
  const limit = absTolerance > (thresholdPct / 100) * Math.abs(b) ? `${absTolerance.toPrecision(3)} absolute` : `${+thresholdPct.toPrecision(3)} %`;
  if (worse > allowed) return { verdict: 'regression', cost, reason: `${pct(cost)} is beyond the ${limit} allowed` };
  if (-worse > allowed) return { verdict: 'improved', cost, reason: `${pct(cost)}: better by more than ${limit}` };
  return { verdict: 'ok', cost, reason: `${pct(cost)} is within ${limit}` };
}

/** Bootstrap decision for a timed metric (see the file comment). */
export function decideTimed(
  base: readonly number[],
  cur: readonly number[],
  better: Better,
  thresholdPct: number,
  o: TimedOptions,
): Decision {
  if (base.length < MIN_TIMED_SAMPLES || cur.length < MIN_TIMED_SAMPLES) {
    return {
      verdict: 'insufficient',
      cost: base.length && cur.length ? costOf(median(base), median(cur), better) : Number.NaN,
      reason: `needs at least ${MIN_TIMED_SAMPLES} samples per side (baseline ${base.length}, current ${cur.length})`,
    };
  }
  const cost = costOf(median(base), median(cur), better);
  const [num, den] = better === 'lower' ? [cur, base] : [base, cur];
  const interval = bootstrapRatioOfMedians(num, den, {
    random: seededRandom(seedFor(o.seedLabel)),
    resamples: o.resamples,
    level: o.level,
  });
  const limit = 1 + thresholdPct / 100;
  const ci = `${Math.round(interval.level * 100)} % CI ${pct(interval.low)}..${pct(interval.high)}`;
  if (interval.low > limit) return { verdict: 'regression', cost, interval, reason: `${ci} lies wholly beyond +${thresholdPct} %` };
  if (cost > limit) return { verdict: 'borderline', cost, interval, reason: `${pct(cost)} is beyond +${thresholdPct} % but the ${ci} reaches below it` };
  if (interval.high < 1 / limit) return { verdict: 'improved', cost, interval, reason: `${ci}: faster beyond the threshold` };
  return { verdict: 'ok', cost, interval, reason: `${ci}` };
}

/**
 * After a borderline result and one re-run of that metric: the first and the
 * re-run samples are pooled and decided again. Still borderline means not
 * confirmed: it passes, marked "unconfirmed".
 */
export function confirmBorderline(
  base: readonly number[],
  first: readonly number[],
  rerun: readonly number[],
  better: Better,
  thresholdPct: number,
  o: TimedOptions,
): Decision {
  const d = decideTimed(base, [...first, ...rerun], better, thresholdPct, o);
  const pooled = `pooled with a re-run (${first.length} + ${rerun.length} samples)`;
  if (d.verdict === 'borderline') return { ...d, verdict: 'unconfirmed', reason: `${pooled}: ${d.reason}; not confirmed` };
  return { ...d, reason: `${pooled}: ${d.reason}` };
}
