// One series per metric across the points, each point judged as the gate
// would judge it against the reference: the first point that has the metric
// (the oldest), or the --baseline file. The threshold is the gate's: an
// exact count's own (from the spread the reference records, exact.ts), else
// the --threshold. The trend compares single values (medians); the gate's
// timed rule also needs the bootstrap interval beyond the threshold, so a
// timed point marked here is "beyond the threshold", which the gate would
// then confirm or not.
import { exactThreshold } from '../gate/exact.js';
import type { Better } from '../gate/decide.js';
import type { Point, PointValue } from './points.js';

export type TrendVerdict = 'reference' | 'ok' | 'improved' | 'regression';

export interface TrendEntry {
  point: Point;
  value: number;
  /** Cost against the reference (> 1 is worse), as the gate computes it. */
  cost: number;
  verdict: TrendVerdict;
}

export interface Series {
  id: string;
  label: string;
  unit: string;
  better: Better;
  reference: { value: number; from: string };
  threshold_pct: number;
  threshold_why: string;
  entries: TrendEntry[];
}

function costOf(ref: number, v: number, better: Better): number {
  const [num, den] = better === 'lower' ? [v, ref] : [ref, v];
  if (num === den) return 1;
  return den === 0 ? Number.POSITIVE_INFINITY : num / den;
}

/** The gate's verdict of one value against the reference with a threshold in percent (0: any change). */
export function trendVerdict(cost: number, thresholdPct: number): TrendVerdict {
  const limit = 1 + thresholdPct / 100;
  if (cost > limit) return 'regression';
  if (cost < 1 / limit) return 'improved';
  return 'ok';
}

function thresholdFor(ref: PointValue, all: PointValue[], defaultPct: number): { pct: number; why: string } {
  const exact = ref.exact ?? all.find((v) => v.exact)?.exact;
  if (exact) {
    const t = exactThreshold(exact, { spread: ref.spread ?? all.find((v) => v.spread)?.spread });
    if (t) return t;
  }
  const used = [...all].reverse().find((v) => v.threshold_pct !== undefined)?.threshold_pct;
  if (used !== undefined) return { pct: used, why: 'as the last check used' };
  return { pct: defaultPct, why: '--threshold' };
}

/** Does `id` match a --metric selector: the id itself, or a prefix ending at a "/" (instructions_per_txn matches instructions_per_txn/coro/epoll). */
export function selected(id: string, selectors: string[]): boolean {
  return selectors.length === 0 || selectors.some((s) => id === s || id.startsWith(s.endsWith('/') ? s : `${s}/`));
}

export function buildSeries(points: Point[], o: { metrics: string[]; thresholdPct: number; baseline?: Point }): Series[] {
  const ids: string[] = [];
  for (const p of points) for (const id of p.metrics.keys()) if (!ids.includes(id) && selected(id, o.metrics)) ids.push(id);
  const out: Series[] = [];
  for (const id of ids) {
    const have = points.filter((p) => p.metrics.has(id));
    const values = have.map((p) => p.metrics.get(id) as PointValue);
    const fromBaseline = o.baseline?.metrics.get(id);
    const ref = fromBaseline ?? values[0];
    const refPoint = fromBaseline ? (o.baseline as Point) : have[0];
    const t = thresholdFor(ref, values, o.thresholdPct);
    const entries = have.map((p, i): TrendEntry => {
      const v = values[i].value;
      const cost = costOf(ref.value, v, ref.better);
      const isRef = !fromBaseline && i === 0;
      return { point: p, value: v, cost, verdict: isRef ? 'reference' : trendVerdict(cost, t.pct) };
    });
    out.push({
      id,
      label: ref.label,
      unit: ref.unit,
      better: ref.better,
      reference: { value: ref.value, from: fromBaseline ? `baseline ${refPoint.file}` : `the oldest point, ${refPoint.file}` },
      threshold_pct: t.pct,
      threshold_why: t.why,
      entries,
    });
  }
  return out;
}
