// Latency histograms as echo_client exports them (`latency_hist_ns` in its
// --json object, docs/programs.md): the non-empty buckets of its log-linear
// histogram, each as [the highest value it holds, count]. Merging several
// clients' histograms is exact (counts add up bucket by bucket), and the
// percentiles of the merge are computed the way the client computes its own
// (native/demos/lib/latency_hist.c), so one client's merge equals its report.
// Percentiles are never averaged across clients.

export interface LatencyHist {
  total: number;
  /** Exact extremes of what was recorded (0 and 0 when empty). */
  min: number;
  max: number;
  /** [highest value of the bucket, count], increasing by value, counts > 0. */
  buckets: [number, number][];
}

export function emptyHist(): LatencyHist {
  return { total: 0, min: 0, max: 0, buckets: [] };
}

/** Checks and copies an exported histogram; throws naming what is wrong. */
export function parseHist(v: unknown, what: string): LatencyHist {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') throw new Error(`${what}: missing`);
  const n = (k: string): number => {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new Error(`${what}.${k}: not a count`);
    return x;
  };
  if (!Array.isArray(o.buckets)) throw new Error(`${what}.buckets: not a list`);
  const buckets: [number, number][] = [];
  let sum = 0;
  let last = -1;
  for (const b of o.buckets as unknown[]) {
    if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
      throw new Error(`${what}.buckets: each bucket must be [high, count]`);
    }
    const [high, count] = b as [number, number];
    if (high <= last) throw new Error(`${what}.buckets: not in increasing order`);
    last = high;
    sum += count;
    buckets.push([high, count]);
  }
  const h = { total: n('total'), min: n('min'), max: n('max'), buckets };
  if (sum !== h.total) throw new Error(`${what}: bucket counts add up to ${sum}, total says ${h.total}`);
  return h;
}

/** The exact merge of several histograms. */
export function mergeHists(hs: LatencyHist[]): LatencyHist {
  const counts = new Map<number, number>();
  let total = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const h of hs) {
    if (h.total === 0) continue;
    total += h.total;
    min = Math.min(min, h.min);
    max = Math.max(max, h.max);
    for (const [high, count] of h.buckets) counts.set(high, (counts.get(high) ?? 0) + count);
  }
  if (total === 0) return emptyHist();
  const buckets = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  return { total, min, max, buckets };
}

/**
 * The value at percentile p (0 < p <= 100), as lat_hist_percentile: the
 * highest value of the bucket holding the ceil(p% x total)-th smallest value,
 * clamped to the exact max; 0 when empty.
 */
export function histPercentile(h: LatencyHist, p: number): number {
  if (h.total === 0) return 0;
  const q = Math.min(p, 100);
  // The same small subtraction as the C code absorbs binary rounding.
  const wantD = (q * h.total) / 100 - 1e-6;
  let want = Math.trunc(wantD);
  if (want < wantD) want++;
  if (want < 1) want = 1;
  let seen = 0;
  for (const [high, count] of h.buckets) {
    seen += count;
    if (seen >= want) return Math.min(high, h.max);
  }
  return h.max;
}

/** p50/p90/p99/p99.9/max in µs, rounded to 0.1 µs like the client's own report. */
export function latencySummaryUs(h: LatencyHist): { p50: number; p90: number; p99: number; p999: number; max: number } {
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  return {
    p50: us(histPercentile(h, 50)),
    p90: us(histPercentile(h, 90)),
    p99: us(histPercentile(h, 99)),
    p999: us(histPercentile(h, 99.9)),
    max: us(h.max),
  };
}
