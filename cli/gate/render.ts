// The check's table (through the shared table model and terminal renderer)
// and its JSON document.
import { num } from '../render/format.js';
import type { Table } from '../render/model.js';
import type { Environment } from '../results/types.js';
import type { Baseline } from './baseline.js';
import type { GateRow } from './judge.js';

export const CHECK_SCHEMA = 'coro-bench/check@1';

/** Value change current / baseline - 1, signed, e.g. "+12.3 %". */
function change(r: GateRow): string {
  if (!r.baseline || !r.current) return '-';
  const b = r.baseline.median;
  const c = r.current.median;
  if (b === c) return '0.0 %';
  if (b === 0) return c > 0 ? '+inf %' : '-inf %';
  const v = (c / b - 1) * 100;
  if (Math.abs(v) < 0.05) return '0.0 %';
  return `${v > 0 ? '+' : ''}${v.toFixed(1)} %`;
}

function signedPct(v: number): string {
  const p = (v - 1) * 100;
  if (Math.abs(p) < 0.05) return '0.0';
  return `${p > 0 ? '+' : ''}${p.toFixed(1)}`;
}

/** How sure: exact for counts, the interval of the value ratio for timed metrics. */
function confidence(r: GateRow): string {
  const n = (s: GateRow['current']): number => s?.samples.length ?? 0;
  if (r.kind === 'noise-free') {
    if (!r.current) return '-';
    const what = n(r.current) === 1 ? 'exact, 1 sample' : `median of ${n(r.current)}`;
    if (r.threshold_why !== undefined) return `${what}; threshold ${r.threshold_why}`;
    return r.abs_tolerance ? `${what}, tolerance ${num(r.abs_tolerance)} ${r.unit ?? ''}`.trim() : what;
  }
  const iv = r.decision?.interval;
  if (!iv) return r.current ? `${n(r.baseline)} vs ${n(r.current)} runs` : '-';
  // The decision's interval is of the cost; show it as a change of the value.
  const [lo, hi] = r.better === 'higher' ? [1 / iv.high, 1 / iv.low] : [iv.low, iv.high];
  return `${Math.round(iv.level * 100)}% CI ${signedPct(lo)}..${signedPct(hi)} %, ${n(r.baseline)} vs ${n(r.current)} runs`;
}

const VERDICT: Record<GateRow['status'], string> = {
  ok: 'ok',
  improved: 'improved',
  regression: 'REGRESSION',
  borderline: 'borderline',
  unconfirmed: 'ok (borderline, not confirmed by a re-run)',
  insufficient: 'too few samples',
  new: 'new',
  skipped: 'skipped',
  failed: 'FAILED',
  'method-changed': 'measured differently',
  missing: 'NOT MEASURED',
  'allowed-missing': 'allowed missing',
};

function valueOf(s: GateRow['current']): string {
  if (!s) return '-';
  return s.samples.length > 1 ? `${num(s.median)} (n=${s.samples.length})` : num(s.median);
}

export function checkTable(rows: GateRow[], thresholdPct: number): Table {
  return {
    title: `Regression gate (threshold ${thresholdPct} %; exact counts: their own)`,
    head: ['metric', 'kind', 'baseline', 'current', 'change', 'confidence', 'verdict'],
    rows: rows.map((r) => [
      r.label,
      r.kind,
      valueOf(r.baseline),
      valueOf(r.current),
      change(r),
      confidence(r),
      r.status === 'ok' || r.status === 'new' ? VERDICT[r.status] : `${VERDICT[r.status]}${r.rerun && r.status !== 'unconfirmed' ? ' (after a re-run)' : ''}: ${r.note}`,
    ]),
    note:
      'Noise-free metrics (counts) are compared exactly: one sample is enough; an exact count has its own threshold from the spread recorded in the baseline ' +
      `(instructions and syscalls: max(3 x spread, 1 %); bytes copied: any change, unless a spread was seen). Timed metrics are ratios measured side by side; ` +
      'a regression needs the whole bootstrap interval beyond the threshold. The threshold is on cost: for a throughput ratio, ' +
      `+${thresholdPct} % cost is a drop to 1/${(1 + thresholdPct / 100).toFixed(2)}.`,
  };
}

export interface CheckDoc {
  schema: typeof CHECK_SCHEMA;
  baseline_file: string;
  baseline: { date: string; profile: string; build: string; environment: Environment } | null;
  profile: string;
  build: string;
  threshold_pct: number;
  timed: boolean;
  noise_free: boolean;
  environment: Environment;
  /** 0 ok, 1 regression, 2 could not decide. */
  status: number;
  baseline_updated: boolean;
  rows: GateRow[];
  warnings: string[];
}

export function baselineSummary(b: Baseline | undefined): CheckDoc['baseline'] {
  return b ? { date: b.date, profile: b.profile, build: b.build, environment: b.environment } : null;
}
