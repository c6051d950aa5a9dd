// Parsing of the coro++ rusage figures: the text "bench" line
// (`WALL_S WALL_US|USER_S USER_US|SYS_S SYS_US|maxrss:N ... nivcsw:N`, see
// coro_rusage_format in native/include/coro.h) and the `!bench json` object.

/** Resource usage of one process, in the units of coro.h's coro_rusage_t. */
export interface Rusage {
  wall_us: number;
  utime_us: number;
  stime_us: number;
  maxrss_kib: number;
  ixrss: number;
  idrss: number;
  isrss: number;
  minflt: number;
  majflt: number;
  nswap: number;
  inblock: number;
  oublock: number;
  msgsnd: number;
  msgrcv: number;
  nsignals: number;
  nvcsw: number;
  nivcsw: number;
  /** Only in `!bench json` replies (0 for peers without a notion of blocking). */
  read_block?: number;
  write_block?: number;
}

export const COUNTER_KEYS = [
  'maxrss',
  'ixrss',
  'idrss',
  'isrss',
  'minflt',
  'majflt',
  'nswap',
  'inblock',
  'oublock',
  'msgsnd',
  'msgrcv',
  'nsignals',
  'nvcsw',
  'nivcsw',
] as const;

// The fields of a Rusage in line order: the three times, then the counters
// (maxrss carries its unit in the Rusage name).
const RUSAGE_KEYS: (keyof Rusage)[] = [
  'wall_us',
  'utime_us',
  'stime_us',
  ...COUNTER_KEYS.map((k): keyof Rusage => (k === 'maxrss' ? 'maxrss_kib' : k)),
];

function timePair(field: string, what: string): number {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(field);
  if (!m) throw new Error(`bad ${what} time "${field}" in rusage line (want "SECONDS MICROSECONDS")`);
  const usec = Number(m[2]);
  if (usec >= 1_000_000) throw new Error(`bad ${what} time "${field}": microseconds must be below 1000000`);
  return Number(m[1]) * 1_000_000 + usec;
}

/**
 * Parses one coro++ bench line. An optional `server bench: ` / `client bench: `
 * prefix is accepted. maxrss is taken as given (KiB on Linux; coro++ on macOS
 * printed bytes). Throws with a message naming what is wrong.
 */
export function parseRusageLine(line: string): Rusage {
  const body = line.replace(/^\s*(server|client)\s+bench:\s*/, '').replace(/\r?\n$/, '');
  const parts = body.split('|');
  if (parts.length !== 4) throw new Error(`bad rusage line: want 4 "|"-separated fields, got ${parts.length}: "${line}"`);
  const counters = new Map<string, number>();
  for (const tok of parts[3].trim().split(/\s+/)) {
    const m = /^([a-z]+):(-?\d+)$/.exec(tok);
    if (!m) throw new Error(`bad rusage counter "${tok}" in "${line}"`);
    counters.set(m[1], Number(m[2]));
  }
  for (const k of COUNTER_KEYS) {
    if (!counters.has(k)) throw new Error(`rusage line lacks "${k}:": "${line}"`);
  }
  const c = (k: string): number => counters.get(k) as number;
  return {
    wall_us: timePair(parts[0], 'wall'),
    utime_us: timePair(parts[1], 'user'),
    stime_us: timePair(parts[2], 'system'),
    maxrss_kib: c('maxrss'),
    ixrss: c('ixrss'),
    idrss: c('idrss'),
    isrss: c('isrss'),
    minflt: c('minflt'),
    majflt: c('majflt'),
    nswap: c('nswap'),
    inblock: c('inblock'),
    oublock: c('oublock'),
    msgsnd: c('msgsnd'),
    msgrcv: c('msgrcv'),
    nsignals: c('nsignals'),
    nvcsw: c('nvcsw'),
    nivcsw: c('nivcsw'),
  };
}

/** Parses the `read_block: N  write_block: N` line. */
export function parseBlockLine(line: string): { read_block: number; write_block: number } {
  const m = /^\s*read_block:\s*(\d+)\s+write_block:\s*(\d+)\s*$/.exec(line);
  if (!m) throw new Error(`bad read_block line: "${line}"`);
  return { read_block: Number(m[1]), write_block: Number(m[2]) };
}

/** Validates a rusage object from JSON (`!bench json` or a client's --json). */
export function rusageFromJson(value: unknown, what: string): Rusage {
  if (typeof value !== 'object' || value === null) throw new Error(`${what}: rusage is not an object`);
  const v = value as Record<string, unknown>;
  const out: Partial<Rusage> = {};
  for (const k of RUSAGE_KEYS) {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${what}: rusage field "${k}" missing or not a number`);
    out[k] = x;
  }
  for (const k of ['read_block', 'write_block'] as const) {
    if (typeof v[k] === 'number') out[k] = v[k] as number;
  }
  return out as Rusage;
}

/** Formats a rusage as the coro++ line again (what coro_rusage_format prints, without CRLF). */
export function formatRusageLine(r: Rusage): string {
  const pair = (us: number): string => `${Math.floor(us / 1_000_000)} ${String(us % 1_000_000).padStart(6, '0')}`;
  return (
    `${pair(r.wall_us)}|${pair(r.utime_us)}|${pair(r.stime_us)}|maxrss:${r.maxrss_kib} ixrss:${r.ixrss} ` +
    `idrss:${r.idrss} isrss:${r.isrss} minflt:${r.minflt} majflt:${r.majflt} nswap:${r.nswap} ` +
    `inblock:${r.inblock} oublock:${r.oublock} msgsnd:${r.msgsnd} msgrcv:${r.msgrcv} ` +
    `nsignals:${r.nsignals} nvcsw:${r.nvcsw} nivcsw:${r.nivcsw}`
  );
}
