// The knee of a latency-throughput curve: the highest offered load at which
// p99 stays under KNEE_FACTOR times its value at the lightest load measured
// (10 % of the closed-loop maximum by default). "Stays": every lighter point
// is under it too, so one lucky point past a blow-up is not the knee.

export const KNEE_FACTOR = 2;

export interface KneeInput {
  offered_per_s: number;
  fraction: number | null;
  /** undefined: the point failed. */
  p99_us?: number;
}

export type KneeOutcome =
  | { knee: { offered_per_s: number; fraction: number | null; p99_us: number; base_p99_us: number }; index: number }
  | { knee: null; missing: string };

export function findKnee(points: KneeInput[]): KneeOutcome {
  const order = points.map((p, i) => ({ p, i })).sort((a, b) => a.p.offered_per_s - b.p.offered_per_s);
  if (order.length === 0) return { knee: null, missing: 'no point measured' };
  const base = order[0].p;
  if (base.p99_us === undefined || !(base.p99_us > 0)) return { knee: null, missing: `the lightest load (${Math.round(base.offered_per_s)}/s) has no p99 (its run failed)` };
  const limit = KNEE_FACTOR * base.p99_us;
  let last: { p: KneeInput; i: number } | undefined;
  for (const x of order) {
    if (x.p.p99_us === undefined || !(x.p.p99_us < limit)) break;
    last = x;
  }
  if (!last) return { knee: null, missing: 'no point under the limit' };
  return {
    knee: { offered_per_s: last.p.offered_per_s, fraction: last.p.fraction, p99_us: last.p.p99_us as number, base_p99_us: base.p99_us },
    index: last.i,
  };
}
