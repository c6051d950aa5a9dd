// Validation of raw option strings into typed values. Every failure is a
// UsageError with one line naming the option, the bad value and what is valid.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { exporterFor } from '../export/exporter.js';

export function int(name: string, raw: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const s = String(raw).trim();
  if (!/^-?\d+$/.test(s)) throw new UsageError(`${name} must be an integer, got "${String(raw)}"`);
  const v = Number(s);
  if (v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new UsageError(`${name} must be ${range}, got ${v}`);
  }
  return v;
}

export function optionalInt(name: string, raw: unknown, min: number, max?: number): number | undefined {
  return raw === undefined ? undefined : int(name, raw, min, max);
}

export function intList(name: string, raw: unknown, min: number, max?: number): number[] {
  const parts = String(raw)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`${name} needs at least one value`);
  return parts.map((p) => int(name, p, min, max));
}

/** A comma-separated list of names, each one of `valid` (or "all" when allowAll). */
export function choices<T extends string>(name: string, raw: unknown, valid: readonly T[], allowAll = true): T[] {
  const parts = String(raw)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`${name} needs a value (valid: ${valid.join(', ')}${allowAll ? ', all' : ''})`);
  if (allowAll && parts.includes('all')) return [...valid];
  for (const p of parts) {
    if (!(valid as readonly string[]).includes(p)) {
      throw new UsageError(`unknown ${name} "${p}" (valid: ${valid.join(', ')}${allowAll ? ', all' : ''})`);
    }
  }
  return [...new Set(parts)] as T[];
}

/** `--pin SERVER_CPU,CLIENT_CPU` */
export function pin(raw: unknown): [number, number] | undefined {
  if (raw === undefined) return undefined;
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(String(raw));
  if (!m) throw new UsageError(`--pin must be SERVER_CPU,CLIENT_CPU (e.g. 0,1), got "${String(raw)}"`);
  return [Number(m[1]), Number(m[2])];
}

/** Limits shared by every echo-style workload (docs/programs.md). */
export const LIMITS = {
  conns: { min: 1, max: 1_000_000 },
  txns: { min: 1, max: 1_000_000_000 },
  /** Payload plus CRLF: at least one byte and CRLF; at most the 64 KiB line limit. */
  size: { min: 3, max: 65_536 },
  runs: { min: 1, max: 10_000 },
  warmup: { min: 0, max: 10_000 },
  port: { min: 0, max: 65_535 },
  timeout: { min: 1, max: 86_400 },
  /** echo_client processes of one run. */
  clients: { min: 1, max: 1024 },
  /** Server worker processes (DEMO_WORKERS_MAX in native/demos/lib/demo_workers.h). */
  workers: { min: 1, max: 256 },
};

/** `--export FILE`: a known extension in an existing folder, checked before any run. */
export function exportFile(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  const file = String(raw);
  exporterFor(file);
  const dir = dirname(resolve(file));
  if (!existsSync(dir)) throw new UsageError(`cannot export to "${file}": folder ${dir} does not exist`);
  return file;
}

/** A CPU list as taskset writes it: "0-3,6" (each CPU once, in order). Existence is checked when pinning. */
export function cpuList(name: string, raw: unknown): number[] | undefined {
  if (raw === undefined) return undefined;
  const s = String(raw).trim();
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s.replace(/\s+/g, ''))) {
    throw new UsageError(`${name} must be a CPU list such as 1,2 or 2-5, got "${String(raw)}"`);
  }
  const out = new Set<number>();
  for (const part of s.replace(/\s+/g, '').split(',')) {
    const [a, b] = part.split('-').map(Number);
    const hi = b ?? a;
    if (hi < a) throw new UsageError(`${name}: range "${part}" runs backwards`);
    if (hi - a > 4096) throw new UsageError(`${name}: range "${part}" is too large`);
    for (let c = a; c <= hi; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}
