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

/**
 * Shortest run (wall time, median) whose throughput is worth comparing.
 * A run pays fixed costs the transactions do not amortise (connecting every
 * client, the first transactions while the server's buffers grow, a
 * scheduler slice of a few ms lost to a colleague's job on a shared 2-core
 * machine). Measured here (echo 50 conns x 100 B, coro/epoll and the epoll
 * peer, 12 runs each, busy machine): txn/s varied run to run by a
 * coefficient of variation of 79-118 % at 16-25 ms per run, 21 % at 53 ms,
 * 9 % at 170 ms. Below 100 ms the run length, not the server, decides the
 * figure (docs/gate.md, "Short runs").
 */
export const MIN_RUN_WALL_MS = 100;

/** A warning when the median run is shorter than MIN_RUN_WALL_MS, with the --txns that would make it twice that. */
export function shortRunWarning(config: string, wallUs: Stat, txns: number): string[] {
  const ms = wallUs.median / 1000;
  if (!(wallUs.n > 0 && ms < MIN_RUN_WALL_MS)) return [];
  const suggest = Math.ceil((txns * (2 * MIN_RUN_WALL_MS)) / Math.max(ms, 0.001));
  return [`${config}: a run takes ${ms.toFixed(1)} ms (median), under the ${MIN_RUN_WALL_MS} ms below which start-up and scheduling noise dominate the throughput; use more transactions (e.g. --txns ${suggest})`];
}
