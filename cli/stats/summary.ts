// Summary statistics of repeated measurements. Pure functions, no I/O.

/** The shape every measured metric takes in results: the JSON contract's {median, min, max} plus spread. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  /** (max - min) / median: 0 for a single sample, Infinity when the median is 0 and values differ. */
  spread: number;
  n: number;
  /** Indices (into the input order) of samples flagged as outliers. */
  outliers: number[];
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Median; the mean of the two middle values for an even count. NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Percentile p in [0, 100] by linear interpolation between closest ranks
 * (the definition numpy calls "linear"). NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (p < 0 || p > 100 || Number.isNaN(p)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const s = sorted(values);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample standard deviation (n - 1); 0 for fewer than two values. */
export function stddev(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) * (v - m), 0) / (values.length - 1));
}

/** Relative spread (max - min) / |median|. */
export function relativeSpread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const s = sorted(values);
  const range = s[s.length - 1] - s[0];
  if (range === 0) return 0;
  const m = Math.abs(median(values));
  return m === 0 ? Number.POSITIVE_INFINITY : range / m;
}

/** Median absolute deviation (unscaled). */
export function mad(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/**
 * Outliers by the modified z-score of Iglewicz and Hoaglin:
 * |0.6745 (x - median) / MAD| > threshold (3.5 by default), and off the
 * median by more than `minRelative` (1 %) so that tiny differences in an
 * otherwise constant set (MAD 0) are not flagged. Needs at least five
 * samples: with fewer, the median and MAD say too little. Returns indices in
 * input order.
 */
export function outlierIndices(values: readonly number[], threshold = 3.5, minRelative = 0.01): number[] {
  if (values.length < 5) return [];
  const m = median(values);
  const d = mad(values);
  const out: number[] = [];
  values.forEach((v, i) => {
    const dev = Math.abs(v - m);
    if (dev <= Math.abs(m) * minRelative) return;
    if (d === 0 || (0.6745 * dev) / d > threshold) out.push(i);
  });
  return out;
}

export function summarize(values: readonly number[]): Stat {
  if (values.length === 0) {
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN, mean: Number.NaN, stddev: 0, spread: 0, n: 0, outliers: [] };
  }
  const s = sorted(values);
  return {
    median: median(values),
    min: s[0],
    max: s[s.length - 1],
    mean: mean(values),
    stddev: stddev(values),
    spread: relativeSpread(values),
    n: values.length,
    outliers: outlierIndices(values),
  };
}
