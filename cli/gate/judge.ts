// Judging a measurement against a baseline: one row per metric with its
// decision, and the check's exit status.
import { median } from '../stats/summary.js';
import type { BaselineMetric } from './baseline.js';
import { decideNoiseFree, decideTimed, type Better, type Decision, type MetricKind } from './decide.js';
import { exactThreshold } from './exact.js';
import type { FailedMetric, Metric, SkippedMetric } from './metric.js';

/**
 * A decision's verdict, or: new (no baseline figure yet), skipped (cannot be
 * measured here, and not in the baseline either), failed (its run did not
 * complete), method-changed (the baseline was measured differently: re-record
 * it), missing (in the baseline, but not measured: program or tool missing,
 * or no longer in the profile), allowed-missing (the same, accepted with
 * --allow-missing).
 */
export type RowStatus = Decision['verdict'] | 'new' | 'skipped' | 'failed' | 'method-changed' | 'missing' | 'allowed-missing';

export interface Side {
  median: number;
  samples: number[];
}

export interface GateRow {
  id: string;
  label: string;
  kind: MetricKind;
  better?: Better;
  unit?: string;
  baseline?: Side;
  current?: Side;
  decision?: Decision;
  status: RowStatus;
  /** Why: the decision's reason, the skip reason or the error. */
  note: string;
  /** Set when a borderline result was re-run. */
  rerun?: boolean;
  abs_tolerance?: number;
  /** Exact counts: the metric's own threshold in percent and how it was derived (exact.ts). */
  threshold_pct?: number;
  threshold_why?: string;
  stderr_tail?: string[];
}

const side = (samples: number[]): Side => ({ median: median(samples), samples });

export function judgeMetric(id: string, base: BaselineMetric | undefined, cur: Metric, thresholdPct: number): GateRow {
  const row: GateRow = { id, label: cur.label, kind: cur.kind, better: cur.better, unit: cur.unit, current: side(cur.samples), status: 'new', note: '' };
  if (cur.abs_tolerance !== undefined) row.abs_tolerance = cur.abs_tolerance;
  if (!base) return { ...row, note: 'not in the baseline yet' };
  row.baseline = side(base.samples);
  if (base.method !== cur.method || base.kind !== cur.kind || base.better !== cur.better) {
    return { ...row, status: 'method-changed', note: `the baseline was measured as "${base.method}", now "${cur.method}": record a new baseline` };
  }
  const exact = exactThreshold(cur.exact ?? base.exact, base);
  if (exact) Object.assign(row, { threshold_pct: exact.pct, threshold_why: exact.why });
  const d =
    cur.kind === 'noise-free'
      ? decideNoiseFree(base.samples, cur.samples, cur.better, exact?.pct ?? thresholdPct, exact ? 0 : (cur.abs_tolerance ?? base.abs_tolerance ?? 0))
      : decideTimed(base.samples, cur.samples, cur.better, thresholdPct, { seedLabel: id });
  return { ...row, decision: d, status: d.verdict, note: d.reason };
}

/** A metric that cannot be measured here: missing when the baseline has it, else merely skipped. */
export function skippedRow(s: SkippedMetric, base: BaselineMetric | undefined): GateRow {
  if (!base) return { id: s.id, label: s.label, kind: s.kind, status: 'skipped', note: s.reason };
  return { id: s.id, label: s.label, kind: s.kind, better: base.better, unit: base.unit, baseline: side(base.samples), status: 'missing', note: s.reason };
}

export function failedRow(f: FailedMetric, base: BaselineMetric | undefined): GateRow {
  return {
    id: f.id,
    label: f.label,
    kind: f.kind,
    status: 'failed',
    note: f.error,
    stderr_tail: f.stderr_tail,
    ...(base ? { baseline: side(base.samples), better: base.better, unit: base.unit } : {}),
  };
}

export function notMeasuredRow(id: string, base: BaselineMetric): GateRow {
  return { id, label: base.label, kind: base.kind, better: base.better, unit: base.unit, baseline: side(base.samples), status: 'missing', note: 'in the baseline, but the profile no longer measures it' };
}

/**
 * --allow-missing: the named rows that were not measured (missing, or failed:
 * either way nothing was compared) become "allowed-missing", which passes.
 * The gap stays visible in the table and the JSON.
 */
export function allowMissing(rows: GateRow[], ids: readonly string[]): GateRow[] {
  const allowed = new Set(ids);
  return rows.map((r) => (allowed.has(r.id) && (r.status === 'missing' || r.status === 'failed') ? { ...r, status: 'allowed-missing' } : r));
}

/** Rows of baseline metrics that this check did not measure (and nobody allowed). */
export function unmeasured(rows: GateRow[]): GateRow[] {
  return rows.filter((r) => r.status === 'missing' || r.status === 'failed');
}

/**
 * 1 when anything regressed; else 2 when something could not be decided (a
 * baseline metric not measured, a failed run, too few samples, a changed
 * method) or when nothing at all was compared with the baseline; else 0.
 */
export function exitStatus(rows: GateRow[]): number {
  if (rows.some((r) => r.status === 'regression')) return 1;
  if (rows.some((r) => r.status === 'failed' || r.status === 'missing' || r.status === 'insufficient' || r.status === 'method-changed')) return 2;
  return rows.some((r) => r.decision !== undefined) ? 0 : 2;
}

/**
 * True when the run may become the new baseline: nothing regressed, every
 * run completed, and every baseline metric was measured or explicitly
 * allowed missing. (A changed method or a baseline with too few samples is
 * exactly what re-recording fixes.)
 */
export function passing(rows: GateRow[]): boolean {
  return !rows.some((r) => r.status === 'regression' || r.status === 'failed' || r.status === 'missing');
}
