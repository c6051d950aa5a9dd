// The table of runs whose clients were on other hosts (--client-hosts): each
// host's share of every measured run, and how well the hosts' measured
// intervals overlapped (the merged txn/s is over the whole span; a low
// overlap means part of that span had fewer hosts loading the server).
import type { EchoResult } from '../results/types.js';
import { num } from './format.js';
import type { Table } from './model.js';

export function clientHostsTable(rs: EchoResult[]): Table | undefined {
  const rows: string[][] = [];
  for (const r of rs) {
    r.samples.forEach((s, i) => {
      const h = s.client_hosts;
      if (!h) return;
      for (const [k, f] of h.hosts.entries()) {
        rows.push([
          r.name,
          String(i + 1),
          f.host,
          num(f.conns),
          num(f.transactions),
          num(f.txn_per_s),
          num(f.latency_us.p99),
          f.transactions > 0 ? (f.client_cpu_us / f.transactions).toFixed(2) : '- (no transactions)',
          (f.start_after_first_us / 1000).toFixed(2),
          k === 0 ? `${h.overlap_percent.toFixed(1)} %` : '',
          num(f.clock_uncertainty_us),
        ]);
      }
    });
  }
  if (rows.length === 0) return undefined;
  return {
    title: 'Client hosts (each measured run)',
    head: ['config', 'sample', 'host', 'conns', 'transactions', 'txn/s', 'p99 us', 'client us/txn', 'start +ms', 'overlap', 'clock ±us'],
    rows,
    note:
      'overlap: the time every client ran over the time any ran (100 % = all started and ended together); ' +
      'start +ms: this host\'s start after the first one; clock ±us: bound of the clock-offset estimate the two are computed with.',
  };
}
