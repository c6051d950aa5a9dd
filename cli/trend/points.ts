// The points of a trend: every saved document (results, check, baseline)
// becomes one point, a set of metric values with the commit and date it was
// measured at. Folders are searched for .json files (CI artifacts unpack into
// one folder per run).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { BASELINE_SCHEMA, type Baseline } from '../gate/baseline.js';
import type { Exactness, Spread } from '../gate/exact.js';
import type { Better } from '../gate/decide.js';
import { CHECK_SCHEMA, type CheckDoc } from '../gate/render.js';
import { SCHEMA, type Environment, type ResultsDoc } from '../results/types.js';
import { median } from '../stats/summary.js';

export interface PointValue {
  value: number;
  label: string;
  unit: string;
  better: Better;
  exact?: Exactness;
  /** The threshold the gate used for this metric at this point (check documents). */
  threshold_pct?: number;
  spread?: Spread;
}

export interface Point {
  file: string;
  kind: 'results' | 'check' | 'baseline';
  /** Full commit hash (with "+dirty"), or null when the document does not record it. */
  commit: string | null;
  commit_date: string | null;
  /** When it was measured. */
  date: string;
  host: string;
  metrics: Map<string, PointValue>;
}

function fromEnv(file: string, kind: Point['kind'], env: Environment): Omit<Point, 'metrics'> {
  return { file, kind, commit: env.commit ?? null, commit_date: env.commit_date ?? null, date: env.date, host: env.host };
}

function baselinePoint(file: string, b: Baseline): Point {
  const metrics = new Map<string, PointValue>();
  for (const [id, m] of Object.entries(b.metrics)) {
    metrics.set(id, { value: median(m.samples), label: m.label, unit: m.unit, better: m.better, exact: m.exact, spread: m.spread });
  }
  return { ...fromEnv(file, 'baseline', b.environment), metrics };
}

function checkPoint(file: string, d: CheckDoc): Point {
  const metrics = new Map<string, PointValue>();
  for (const r of d.rows) {
    if (!r.current || !r.better || !r.unit) continue;
    metrics.set(r.id, { value: r.current.median, label: r.label, unit: r.unit, better: r.better, threshold_pct: r.threshold_pct });
  }
  return { ...fromEnv(file, 'check', d.environment), metrics };
}

function resultsPoint(file: string, d: ResultsDoc): Point {
  const metrics = new Map<string, PointValue>();
  for (const r of d.results) {
    if (r.type === 'echo' && r.runs > 0) {
      const w = `${r.workload.conns}x${r.workload.txns}x${r.workload.size}`;
      metrics.set(`txn_per_s/${r.name}/${w}`, { value: r.txn_per_s.median, label: `txn/s, ${r.name}, ${w}`, unit: 'txn/s', better: 'higher' });
      metrics.set(`server_cpu_us_per_txn/${r.name}/${w}`, { value: r.server_cpu_us_per_txn.median, label: `server CPU per transaction, ${r.name}, ${w}`, unit: 'us', better: 'lower' });
    } else if (r.type === 'switch' && r.runs > 0) {
      metrics.set(`ns_per_switch/${r.depth_bytes}B`, { value: r.ns_per_switch.median, label: `ns per switch, ${r.depth_bytes} B live stack`, unit: 'ns', better: 'lower' });
    } else if (r.type === 'idle' && r.runs > 0) {
      metrics.set(`bytes_per_idle_conn/${r.name}`, { value: r.bytes_per_idle_conn.median, label: `bytes per idle connection, ${r.name}`, unit: 'bytes', better: 'lower' });
    }
  }
  return { ...fromEnv(file, 'results', d.environment), metrics };
}

/** One point from a file, or the reason it is not one. */
export function loadPoint(file: string): Point | string {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `not readable as JSON (${(err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]})`;
  }
  const d = data as { schema?: unknown; environment?: { date?: unknown } };
  if (typeof d !== 'object' || d === null || typeof d.environment?.date !== 'string') return 'not a coro-bench results, check or baseline file';
  if (d.schema === BASELINE_SCHEMA) return baselinePoint(file, data as Baseline);
  if (d.schema === CHECK_SCHEMA) return checkPoint(file, data as CheckDoc);
  if (d.schema === SCHEMA) return resultsPoint(file, data as ResultsDoc);
  return `not a coro-bench results, check or baseline file (schema ${JSON.stringify(d.schema)})`;
}

/** Folders are searched this deep (an artifact folder per CI run, and one level inside it). */
const MAX_DEPTH = 3;

function jsonFiles(dir: string, depth: number): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth < MAX_DEPTH) out.push(...jsonFiles(p, depth + 1));
    else if (e.isFile() && e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

/**
 * Points from FILEs and DIRs, oldest first: by commit date when the document
 * records its commit, else by measurement date; then by measurement date.
 * A named file that is not a point is an error; files found in a folder
 * that are not points are skipped (listed in `skipped`).
 */
export function loadPoints(args: string[]): { points: Point[]; skipped: string[] } {
  const points: Point[] = [];
  const skipped: string[] = [];
  for (const a of args) {
    let isDir: boolean;
    try {
      isDir = statSync(a).isDirectory();
    } catch (err) {
      throw new UsageError(`cannot read ${a}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!isDir) {
      const p = loadPoint(a);
      if (typeof p === 'string') throw new UsageError(`${a}: ${p}`);
      points.push(p);
      continue;
    }
    for (const f of jsonFiles(a, 1)) {
      const p = loadPoint(f);
      if (typeof p === 'string') skipped.push(`${f}: ${p}`);
      else points.push(p);
    }
  }
  const key = (p: Point): string => p.commit_date ?? p.date;
  points.sort((a, b) => Date.parse(key(a)) - Date.parse(key(b)) || Date.parse(a.date) - Date.parse(b.date));
  return { points, skipped };
}
