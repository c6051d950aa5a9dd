// The CSV export: one row per (result, metric) with the summary statistics,
// so every result type fits one header and a spreadsheet can pivot it.
import type { Result, ResultsDoc } from '../results/types.js';
import type { Stat } from '../stats/summary.js';
import type { Exporter } from './exporter.js';

export const CSV_HEAD = ['name', 'type', 'server', 'backend', 'tls', 'conns', 'txns', 'size', 'depth_bytes', 'metric', 'median', 'min', 'max', 'spread', 'n'];

function isStat(v: unknown): v is Stat {
  return typeof v === 'object' && v !== null && 'median' in v && 'min' in v && 'max' in v && 'n' in v;
}

/** Flattens nested Stat fields into dotted metric names (server_rusage.utime_us). */
function statsOf(obj: Record<string, unknown>, prefix = ''): [string, Stat][] {
  const out: [string, Stat][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'samples' || k === 'workload') continue;
    if (isStat(v)) out.push([prefix + k, v]);
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...statsOf(v as Record<string, unknown>, `${prefix}${k}.`));
  }
  return out;
}

function field(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function rowsOf(r: Result): unknown[][] {
  if (r.type === 'skipped') return [];
  const any = r as unknown as Record<string, unknown>;
  const w = (any.workload ?? {}) as Record<string, unknown>;
  const id = [r.name, r.type, any.server, any.backend, any.tls, w.conns, w.txns, w.size, any.depth_bytes];
  const rows = statsOf(any).map(([metric, s]) => [...id, metric, s.median, s.min, s.max, s.spread, s.n]);
  for (const k of ['mismatches', 'errors'] as const) {
    if (typeof any[k] === 'number') rows.push([...id, k, any[k], any[k], any[k], 0, 1]);
  }
  return rows;
}

export const csvExporter: Exporter = {
  name: 'csv',
  extensions: ['.csv'],
  serialize(doc: ResultsDoc): string {
    const lines = [CSV_HEAD.join(',')];
    for (const r of doc.results) for (const row of rowsOf(r)) lines.push(row.map(field).join(','));
    return `${lines.join('\n')}\n`;
  },
};
