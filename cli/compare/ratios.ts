// Ratios of each configuration against a reference, from results measured in
// the same interleaved run. The txn/s ratio is paired (stats/paired.ts): the
// median of the per-round ratios, with a bootstrap interval over rounds, so
// a reader sees how sure each ratio is.
import type { Interval } from '../gate/bootstrap.js';
import type { EchoResult, Failure, Workload } from '../results/types.js';
import { pairedTxnRatio } from '../stats/paired.js';

export interface ComparisonRow {
  config: string;
  workload: Workload;
  reference: string;
  runs: number;
  txn_per_s: number;
  /** Median over interleaved rounds of txn/s of this configuration / txn/s of the reference; > 1 is faster. */
  txn_per_s_ratio: number;
  /** Bootstrap interval of that ratio over rounds; undefined with fewer than 2 paired rounds. */
  txn_per_s_ratio_ci?: Interval;
  /** Rounds in which both this configuration and the reference completed a run. */
  pairs: number;
  /** Server CPU per transaction ratio; > 1 costs more. */
  server_cpu_ratio: number;
  /** Server max RSS ratio; > 1 uses more memory. */
  server_maxrss_ratio: number;
}

export function comparisonRows(results: EchoResult[], reference: string, failures: Failure[]): ComparisonRow[] {
  const ref = results.find((r) => r.name === reference && r.runs > 0);
  if (!ref) return [];
  return results
    .filter((r) => r.runs > 0)
    .map((r) => {
      const p = pairedTxnRatio(r, ref, failures, `compare/${r.name}`);
      const row: ComparisonRow = {
        config: r.name,
        workload: r.workload,
        reference: ref.name,
        runs: r.runs,
        txn_per_s: r.txn_per_s.median,
        txn_per_s_ratio: r === ref ? 1 : (p?.ratio ?? Number.NaN),
        pairs: p?.pairs ?? 0,
        server_cpu_ratio: r.server_cpu_us_per_txn.median / ref.server_cpu_us_per_txn.median,
        server_maxrss_ratio: r.server_rusage.maxrss_kib.median / ref.server_rusage.maxrss_kib.median,
      };
      if (r !== ref && p?.interval) row.txn_per_s_ratio_ci = p.interval;
      return row;
    });
}
