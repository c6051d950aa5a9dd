// What the gate measures: one named figure with its samples and how it was
// measured. The same shape is stored in a baseline (baseline.ts).
import type { Better, MetricKind } from './decide.js';
import type { Exactness, Spread } from './exact.js';

export interface Metric {
  /** Stable id, e.g. "instructions_per_switch/0B", "txn_per_s_vs_epoll/coro/epoll". */
  id: string;
  /** Shown in tables, e.g. "instructions per switch, 0 B live stack". */
  label: string;
  kind: MetricKind;
  better: Better;
  /** Unit of the samples, e.g. "instructions", "syscalls", "bytes", "ratio". */
  unit: string;
  /**
   * How it was measured (tool, program, sizes). A baseline metric is compared
   * only with a current one measured the same way.
   */
  method: string;
  samples: number[];
  /** Allowed change in absolute units on top of the relative threshold (RSS granularity). */
  abs_tolerance?: number;
  /** Figures behind the samples (the two counted points), shown in JSON only. */
  detail?: Record<string, number>;
  /** An exact count: judged by its own threshold (exact.ts), not the check's --threshold. */
  exact?: Exactness;
  /** How far it moved across repeated measurements (recorded with a baseline; spread.ts). */
  spread?: Spread;
}

/** A metric that could not be measured here, and why (e.g. strace not installed). */
export interface SkippedMetric {
  id: string;
  label: string;
  kind: MetricKind;
  reason: string;
}

/** A metric whose measuring run failed: the check cannot complete. */
export interface FailedMetric {
  id: string;
  label: string;
  kind: MetricKind;
  error: string;
  stderr_tail: string[];
}

export interface Measurement {
  metrics: Metric[];
  skipped: SkippedMetric[];
  failed: FailedMetric[];
}

export function emptyMeasurement(): Measurement {
  return { metrics: [], skipped: [], failed: [] };
}

export function mergeMeasurements(ms: Measurement[]): Measurement {
  return {
    metrics: ms.flatMap((m) => m.metrics),
    skipped: ms.flatMap((m) => m.skipped),
    failed: ms.flatMap((m) => m.failed),
  };
}

/**
 * Per-unit figure from two counted runs of different sizes: the fixed
 * start-up and shut-down cost cancels in the difference.
 */
export function perUnit(small: { total: number; units: number }, large: { total: number; units: number }): number {
  const du = large.units - small.units;
  if (!(du > 0)) throw new Error(`the two counted runs did the same work (${small.units} and ${large.units} units): cannot difference them`);
  return (large.total - small.total) / du;
}
