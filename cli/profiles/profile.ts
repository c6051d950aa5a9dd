// Named workloads as data: bench-profiles/<name>.json, loaded and validated.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { PROFILES_DIR } from '../paths.js';
import { LIMITS } from '../commands/parse.js';
import { SERVER_KINDS, type ServerKind } from '../workload/servers.js';

interface Common {
  /** Shown in results; defaults to the kind. */
  label?: string;
  runs: number;
  warmup: number;
  timeout_s: number;
}

export interface EchoWorkload extends Common {
  kind: 'echo';
  conns: number;
  txns: number;
  size: number;
  servers: ServerKind[];
  /** [] = the library's default; ["all"] = every backend. */
  backends: string[];
  tls: boolean;
}

export interface IdleWorkload extends Common {
  kind: 'idle';
  conns: number;
  idle_s: number;
  servers: ServerKind[];
  backends: string[];
  /** The coro servers' connections are TLS sessions (the peers have no TLS). */
  tls: boolean;
}

export interface SmtpWorkload extends Common {
  kind: 'smtp';
  conns: number;
  messages: number;
  size: number;
  backends: string[];
}

export interface SwitchWorkload extends Common {
  kind: 'switch';
  coroutines: number;
  depths: number[];
  iterations: number;
}

/** One bounded soak per backend (coro-bench soak); runs is always 1, warmup 0. */
export interface SoakWorkload extends Common {
  kind: 'soak';
  conns: number;
  duration_s: number;
  /** undefined: a fifth of duration_s, between 10 and 60 s. */
  warmup_s?: number;
  rss_slack_kib: number;
  backends: string[];
}

export type ProfileWorkload = EchoWorkload | IdleWorkload | SmtpWorkload | SwitchWorkload | SoakWorkload;

export interface Profile {
  name: string;
  description: string;
  workloads: ProfileWorkload[];
}

export const WORKLOAD_KINDS = ['echo', 'idle', 'smtp', 'switch', 'soak'] as const;

class Reader {
  constructor(
    private readonly where: string,
    private readonly obj: Record<string, unknown>,
  ) {}
  fail(msg: string): never {
    throw new UsageError(`${this.where}: ${msg}`);
  }
  int(key: string, def: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.obj[key] ?? def;
    if (v === undefined) this.fail(`"${key}" is required`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(`"${key}" must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  bool(key: string, def: boolean): boolean {
    const v = this.obj[key] ?? def;
    if (typeof v !== 'boolean') this.fail(`"${key}" must be true or false`);
    return v;
  }
  strings(key: string, def: string[]): string[] {
    const v = this.obj[key] ?? def;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(`"${key}" must be a list of strings`);
    return v as string[];
  }
  ints(key: string, min: number, max: number): number[] {
    const v = this.obj[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x >= min && x <= max)) {
      this.fail(`"${key}" must be a non-empty list of integers between ${min} and ${max}`);
    }
    return v as number[];
  }
  servers(): ServerKind[] {
    const list = this.strings('servers', ['coro']);
    if (list.includes('all')) return [...SERVER_KINDS];
    for (const s of list) {
      if (!(SERVER_KINDS as readonly string[]).includes(s)) this.fail(`unknown server "${s}" (valid: ${SERVER_KINDS.join(', ')}, all)`);
    }
    return list as ServerKind[];
  }
  common(kind: string): Common {
    const label = this.obj.label;
    if (label !== undefined && typeof label !== 'string') this.fail('"label" must be a string');
    return {
      label: (label as string | undefined) ?? kind,
      runs: this.int('runs', 3, LIMITS.runs.min, LIMITS.runs.max),
      warmup: this.int('warmup', 1, LIMITS.warmup.min, LIMITS.warmup.max),
      timeout_s: this.int('timeout_s', 300, LIMITS.timeout.min, LIMITS.timeout.max),
    };
  }
}

export function parseProfile(name: string, text: string): Profile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`profile ${name}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`profile ${name}: must be a JSON object`);
  const d = data as Record<string, unknown>;
  if (typeof d.description !== 'string' || d.description.trim() === '' || d.description.includes('\n')) {
    throw new UsageError(`profile ${name}: "description" must be one line of text`);
  }
  if (!Array.isArray(d.workloads) || d.workloads.length === 0) throw new UsageError(`profile ${name}: "workloads" must be a non-empty list`);
  const workloads = d.workloads.map((w, i): ProfileWorkload => {
    const where = `profile ${name}, workload ${i + 1}`;
    if (typeof w !== 'object' || w === null) throw new UsageError(`${where}: must be an object`);
    const r = new Reader(where, w as Record<string, unknown>);
    const kind = (w as Record<string, unknown>).kind;
    switch (kind) {
      case 'echo':
        return {
          kind,
          ...r.common(kind),
          conns: r.int('conns', undefined, LIMITS.conns.min, LIMITS.conns.max),
          txns: r.int('txns', undefined, LIMITS.txns.min, LIMITS.txns.max),
          size: r.int('size', undefined, LIMITS.size.min, LIMITS.size.max),
          servers: r.servers(),
          backends: r.strings('backends', []),
          tls: r.bool('tls', false),
        };
      case 'idle':
        return {
          kind,
          ...r.common(kind),
          conns: r.int('conns', undefined, LIMITS.conns.min, LIMITS.conns.max),
          idle_s: r.int('idle_s', 2, 1, 3600),
          servers: r.servers(),
          backends: r.strings('backends', []),
          tls: r.bool('tls', false),
        };
      case 'smtp':
        return {
          kind,
          ...r.common(kind),
          conns: r.int('conns', undefined, LIMITS.conns.min, LIMITS.conns.max),
          messages: r.int('messages', undefined, 1, LIMITS.txns.max),
          size: r.int('size', undefined, 1, 10_000_000),
          backends: r.strings('backends', []),
        };
      case 'switch':
        return {
          kind,
          ...r.common(kind),
          coroutines: r.int('coroutines', 2, 1, 10_000),
          depths: r.ints('depths', 0, 131_072),
          iterations: r.int('iterations', 200_000, 1, 1_000_000_000),
        };
      case 'soak': {
        const duration = r.int('duration_s', 300, 10, 7 * 24 * 3600);
        const warmup = (w as Record<string, unknown>).warmup_s === undefined ? undefined : r.int('warmup_s', undefined, 0, duration - 5);
        const label = (w as Record<string, unknown>).label;
        if (label !== undefined && typeof label !== 'string') r.fail('"label" must be a string');
        return {
          kind,
          label: (label as string | undefined) ?? kind,
          runs: r.int('runs', 1, 1, 1),
          warmup: r.int('warmup', 0, 0, 0),
          timeout_s: duration + 120,
          conns: r.int('conns', 10_000, 100, LIMITS.conns.max),
          duration_s: duration,
          warmup_s: warmup,
          rss_slack_kib: r.int('rss_slack_kib', 4096, 0),
          backends: r.strings('backends', []),
        };
      }
      default:
        throw new UsageError(`${where}: unknown kind ${JSON.stringify(kind)} (valid: ${WORKLOAD_KINDS.join(', ')})`);
    }
  });
  return { name, description: d.description.trim(), workloads };
}

export function profileNames(dir = PROFILES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => basename(f, '.json'))
    .sort();
}

export function loadProfile(name: string, dir = PROFILES_DIR): Profile {
  const names = profileNames(dir);
  if (!names.includes(name)) {
    throw new UsageError(`unknown profile "${name}" (valid: ${names.join(', ') || 'none found in ' + dir})`);
  }
  return parseProfile(name, readFileSync(join(dir, `${name}.json`), 'utf8'));
}

export function loadAllProfiles(dir = PROFILES_DIR): Profile[] {
  return profileNames(dir).map((n) => loadProfile(n, dir));
}
