// The baseline file: what the gate compares against (docs/gate.md documents
// the format). JSON in reports/, written atomically and only after a passing
// run (`check --update-baseline`).
import { readFileSync } from 'node:fs';
import { writeAtomic } from '../export/exporter.js';
import { UsageError } from '../errors.js';
import type { Environment } from '../results/types.js';
import type { Metric } from './metric.js';

export const BASELINE_SCHEMA = 'coro-bench/baseline@1';

export type BaselineMetric = Omit<Metric, 'id'>;

export interface Baseline {
  schema: typeof BASELINE_SCHEMA;
  /** When the measurement started (ISO 8601, UTC). */
  date: string;
  /** Profile the metrics came from. */
  profile: string;
  /** The native build folder measured. */
  build: string;
  /** Host, CPU, kernel, node, library version and build flags. */
  environment: Environment;
  /** Keyed by metric id. */
  metrics: Record<string, BaselineMetric>;
}

export function makeBaseline(p: { date: Date; profile: string; build: string; environment: Environment; metrics: Metric[] }): Baseline {
  const metrics: Record<string, BaselineMetric> = {};
  for (const { id, ...rest } of p.metrics) metrics[id] = rest;
  return { schema: BASELINE_SCHEMA, date: p.date.toISOString(), profile: p.profile, build: p.build, environment: p.environment, metrics };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a parsed baseline; every problem is one UsageError line naming the file and the field. */
export function parseBaseline(text: string, file: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not JSON (${(err as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new UsageError(`${file}: ${what}`);
  };
  if (!isObj(data)) return bad('a baseline must be a JSON object');
  if (data.schema !== BASELINE_SCHEMA) bad(`not a coro-bench baseline (want "schema": "${BASELINE_SCHEMA}", got ${JSON.stringify(data.schema)})`);
  if (typeof data.date !== 'string' || Number.isNaN(Date.parse(data.date))) bad('"date" must be an ISO 8601 date');
  if (typeof data.profile !== 'string' || data.profile === '') bad('"profile" must be a profile name');
  if (typeof data.build !== 'string') bad('"build" must be the native build folder measured');
  if (!isObj(data.environment) || typeof data.environment.host !== 'string') bad('"environment" must say where it was measured (host, CPU, kernel, node, build flags)');
  if (!isObj(data.metrics) || Object.keys(data.metrics).length === 0) bad('"metrics" must be an object with at least one metric');
  for (const [id, m] of Object.entries(data.metrics as Record<string, unknown>)) {
    const where = `metric "${id}"`;
    if (!isObj(m)) bad(`${where} must be an object`);
    const x = m as Record<string, unknown>;
    if (x.kind !== 'noise-free' && x.kind !== 'timed') bad(`${where}: "kind" must be "noise-free" or "timed", got ${JSON.stringify(x.kind)}`);
    if (x.better !== 'lower' && x.better !== 'higher') bad(`${where}: "better" must be "lower" or "higher", got ${JSON.stringify(x.better)}`);
    for (const k of ['label', 'unit', 'method']) {
      if (typeof x[k] !== 'string') bad(`${where}: "${k}" must be a string`);
    }
    if (!Array.isArray(x.samples) || x.samples.length === 0 || !x.samples.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      bad(`${where}: "samples" must be a non-empty list of finite numbers`);
    }
    if (x.abs_tolerance !== undefined && !(typeof x.abs_tolerance === 'number' && x.abs_tolerance >= 0)) {
      bad(`${where}: "abs_tolerance" must be a number >= 0`);
    }
    if (x.exact !== undefined && !['instructions', 'events', 'integer'].includes(x.exact as string)) bad(`${where}: "exact" must be "instructions", "events" or "integer", got ${JSON.stringify(x.exact)}`);
    if (x.spread !== undefined) {
      const sp = x.spread as Record<string, unknown>;
      const nums = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'number' && Number.isFinite(n));
      if (!isObj(sp) || !(typeof sp.max_pct === 'number' && sp.max_pct >= 0) || !nums(sp.values) || !Array.isArray(sp.conditions) || sp.conditions.length !== (sp.values as unknown[]).length) {
        bad(`${where}: "spread" must be { "max_pct": number >= 0, "values": [numbers], "conditions": [one string per value] }`);
      }
    }
  }
  return data as unknown as Baseline;
}

export function loadBaseline(file: string): Baseline {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`baseline ${file} does not exist (record one with \`coro-bench check --update-baseline --baseline ${file}\`)`);
    throw new UsageError(`cannot read baseline ${file}: ${code ?? (err as Error).message}`);
  }
  return parseBaseline(text, file);
}

export function serializeBaseline(b: Baseline): string {
  return `${JSON.stringify(b, null, 2)}\n`;
}

/** Atomic: the file is either the whole new baseline or untouched. */
export function writeBaseline(file: string, b: Baseline): void {
  writeAtomic(file, serializeBaseline(b));
}
