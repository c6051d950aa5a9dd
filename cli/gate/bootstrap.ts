// Bootstrap confidence interval of a ratio of medians: resample each side
// with replacement, take median(numerator) / median(denominator), repeat, and
// read the interval off the percentiles of those ratios (the percentile
// bootstrap). Needs no assumption about the shape of the noise, which on a
// shared 2-core machine is anything but normal. bootstrapMedian does the same
// for one sample: the per-pair ratios of interleaved runs (stats/paired.ts).
import { median, percentile } from '../stats/summary.js';

export interface Interval {
  low: number;
  high: number;
  /** Two-sided confidence level, e.g. 0.95. */
  level: number;
}

export interface BootstrapOptions {
  /** Resamples drawn (default 4000). */
  resamples?: number;
  /** Two-sided confidence level (default 0.95). */
  level?: number;
  /** Uniform [0, 1) source; pass a seeded one for reproducible intervals. */
  random: () => number;
}

function resampleMedian(xs: readonly number[], random: () => number, scratch: number[]): number {
  for (let i = 0; i < xs.length; i++) scratch[i] = xs[Math.floor(random() * xs.length)];
  return median(scratch);
}

/** The central `level` share of bootstrap draws, as an interval. */
function percentileInterval(draws: readonly number[], level: number): Interval {
  const tail = ((1 - level) / 2) * 100;
  return { low: percentile(draws, tail), high: percentile(draws, 100 - tail), level };
}

/** Interval of median(num) / median(den); both sides need at least one sample. */
export function bootstrapRatioOfMedians(num: readonly number[], den: readonly number[], o: BootstrapOptions): Interval {
  if (num.length === 0 || den.length === 0) throw new RangeError('bootstrap needs samples on both sides');
  const resamples = o.resamples ?? 4000;
  const a = new Array<number>(num.length);
  const b = new Array<number>(den.length);
  const ratios = new Array<number>(resamples);
  for (let i = 0; i < resamples; i++) {
    ratios[i] = resampleMedian(num, o.random, a) / resampleMedian(den, o.random, b);
  }
  return percentileInterval(ratios, o.level ?? 0.95);
}

/** Interval of the median of one sample (for paired runs: of the per-pair ratios); needs at least one value. */
export function bootstrapMedian(xs: readonly number[], o: BootstrapOptions): Interval {
  if (xs.length === 0) throw new RangeError('bootstrap needs samples');
  const resamples = o.resamples ?? 4000;
  const scratch = new Array<number>(xs.length);
  const medians = new Array<number>(resamples);
  for (let i = 0; i < resamples; i++) medians[i] = resampleMedian(xs, o.random, scratch);
  return percentileInterval(medians, o.level ?? 0.95);
}
