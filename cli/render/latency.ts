// The tables of `coro-bench latency` results: every point of every curve,
// then one line per server with its knee (shared by terminal, Markdown and
// HTML through render/model.ts).
import type { LatencyCurveResult, LatencyPoint } from '../results/types.js';
import { KNEE_FACTOR } from '../stats/knee.js';
import { num, stat } from './format.js';
import type { Table } from './model.js';

export function loadLabel(p: Pick<LatencyPoint, 'fraction' | 'offered_per_s'>): string {
  return p.fraction !== null ? `${+(p.fraction * 100).toFixed(2)} %` : `${num(p.offered_per_s)}/s`;
}

export function latencyTables(rs: LatencyCurveResult[]): Table[] {
  const rows: string[][] = [];
  for (const r of rs) {
    const sorted = [...r.points].sort((a, b) => a.offered_per_s - b.offered_per_s);
    for (const p of sorted) {
      const l = p.latency_us;
      if (!l || p.error) {
        rows.push([r.name, loadLabel(p), num(p.offered_per_s), '-', '-', '-', '-', '-', '-', '-', '-', `- (${p.error ?? 'not measured'})`]);
        continue;
      }
      rows.push([
        r.name,
        loadLabel(p),
        num(p.offered_per_s),
        num(p.achieved_per_s ?? Number.NaN),
        num(l.p50),
        num(l.p90),
        num(l.p99),
        num(l.p999),
        num(l.max),
        p.service_us ? `${num(p.service_us.p50)} / ${num(p.service_us.p99)}` : '-',
        p.client_hiccup_us ? `${num(p.client_hiccup_us.p99)} / ${num(p.client_hiccup_us.max)}` : '-',
        p.client_kept_schedule === undefined ? '-' : p.client_kept_schedule ? 'yes' : 'NO',
      ]);
    }
  }
  const knees = rs.map((r) => {
    const k = r.knee;
    return [
      r.name,
      r.closed_loop_per_s ? stat(r.closed_loop_per_s) : '-',
      k ? num(k.base_p99_us) : '-',
      k ? `${num(k.offered_per_s)}${k.fraction !== null ? ` (${+(k.fraction * 100).toFixed(2)} %)` : ''}` : `- (${r.knee_missing ?? 'not measured'})`,
      k ? num(k.p99_us) : '-',
      r.client_kept_schedule_to_knee === null ? '-' : r.client_kept_schedule_to_knee ? 'yes' : 'NO',
    ];
  });
  return [
    {
      title: 'Latency against offered load (us, from each line\'s due time: coordinated omission corrected)',
      head: ['config', 'load', 'offered/s', 'achieved/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'service p50 / p99', 'client hiccups p99 / max', 'client kept schedule'],
      rows,
      note: 'Load is a fraction of the closed-loop maximum measured first. Service time: reply minus actual send (what a closed-loop client sees). Client hiccups: how late a 1 ms timer in the client woke (its own stalls); "NO" = above 1 ms at p99, so that point measures the client as much as the server.',
    },
    {
      title: `Knee (highest offered load with p99 under ${KNEE_FACTOR}x its value at the lightest load)`,
      head: ['config', 'closed-loop txn/s', 'p99 at lightest load us', 'knee offered/s', 'p99 at knee us', 'client kept schedule up to knee'],
      rows: knees,
    },
  ];
}
