// Ratios of each configuration against a reference, from results measured in
// the same interleaved run, with a bootstrap interval of the txn/s ratio of
// medians (the gate's statistics) so a reader sees how sure each ratio is.
import { bootstrapRatioOfMedians, type Interval } from '../gate/bootstrap.js';
import { seededRandom, seedFor } from '../gate/rng.js';
import type { EchoResult, Workload } from '../results/types.js';

export interface ComparisonRow {
  config: string;
  workload: Workload;
  reference: string;
  runs: number;
  txn_per_s: number;
  /** txn/s of this configuration / txn/s of the reference (medians); > 1 is faster. */
  txn_per_s_ratio: number;
  /** Interval of that ratio; undefined with fewer than 2 runs on either side. */
  txn_per_s_ratio_ci?: Interval;
  /** Server CPU per transaction ratio; > 1 costs more. */
  server_cpu_ratio: number;
  /** Server max RSS ratio; > 1 uses more memory. */
  server_maxrss_ratio: number;
}

export function comparisonRows(results: EchoResult[], reference: string): ComparisonRow[] {
  const ref = results.find((r) => r.name === reference && r.runs > 0);
  if (!ref) return [];
  return results
    .filter((r) => r.runs > 0)
    .map((r) => {
      const a = r.samples.map((s) => s.txn_per_s);
      const b = ref.samples.map((s) => s.txn_per_s);
      const row: ComparisonRow = {
        config: r.name,
        workload: r.workload,
        reference: ref.name,
        runs: r.runs,
        txn_per_s: r.txn_per_s.median,
        txn_per_s_ratio: r.txn_per_s.median / ref.txn_per_s.median,
        server_cpu_ratio: r.server_cpu_us_per_txn.median / ref.server_cpu_us_per_txn.median,
        server_maxrss_ratio: r.server_rusage.maxrss_kib.median / ref.server_rusage.maxrss_kib.median,
      };
      if (r !== ref && a.length >= 2 && b.length >= 2) {
        row.txn_per_s_ratio_ci = bootstrapRatioOfMedians(a, b, { random: seededRandom(seedFor(`compare/${r.name}`)) });
      }
      return row;
    });
}
