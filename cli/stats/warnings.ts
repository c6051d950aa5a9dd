// Warnings about measurements that should not be trusted as they are.
import type { Stat } from './summary.js';

/** Relative spread above which a metric is flagged (20 %: a 2-core VM's normal noise is below it). */
export const HIGH_SPREAD = 0.2;

export function statWarnings(config: string, metric: string, stat: Stat): string[] {
  const out: string[] = [];
  if (stat.n >= 2 && stat.spread > HIGH_SPREAD) {
    const pct = Number.isFinite(stat.spread) ? `${(stat.spread * 100).toFixed(0)} %` : 'unbounded';
    out.push(`${config}: ${metric} varies by ${pct} between runs (min ${fmt(stat.min)}, max ${fmt(stat.max)}); consider more --runs or a quieter machine`);
  }
  if (stat.outliers.length > 0) {
    out.push(`${config}: ${metric} has ${stat.outliers.length} outlier run(s) of ${stat.n} (run ${stat.outliers.map((i) => i + 1).join(', ')})`);
  }
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
