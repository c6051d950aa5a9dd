// The compare command's ratio table, through the shared table model.
import { num, ratio } from '../render/format.js';
import type { Table } from '../render/model.js';
import type { ComparisonRow } from './ratios.js';

export function comparisonTable(rows: ComparisonRow[]): Table {
  const w = rows[0].workload;
  return {
    title: `Ratios against ${rows[0].reference} (${w.conns} conns x ${w.txns} txns x ${w.size} B, interleaved runs; txn/s: median of per-round ratios)`,
    head: ['config', 'txn/s', 'txn/s ratio', '95% CI', 'server CPU/txn ratio', 'server maxrss ratio', 'runs'],
    rows: rows.map((r) => [
      r.config,
      num(r.txn_per_s),
      ratio(r.txn_per_s_ratio),
      r.txn_per_s_ratio_ci ? `${r.txn_per_s_ratio_ci.low.toFixed(2)}..${r.txn_per_s_ratio_ci.high.toFixed(2)}` : r.config === r.reference ? 'reference' : '-',
      ratio(r.server_cpu_ratio),
      ratio(r.server_maxrss_ratio),
      String(r.runs),
    ]),
    note: 'txn/s ratio above 1x is faster than the reference; CPU and memory ratios above 1x cost more. Each round runs every configuration once, so the txn/s ratio is the median of the per-round ratios and its interval a bootstrap over rounds (docs/gate.md, "Paired statistics"); CPU and memory ratios are ratios of medians.',
  };
}
