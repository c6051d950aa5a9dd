// The spread of the exact counts, measured when a baseline is recorded: the
// noise-free metrics are measured again in fresh `coro-bench check`
// processes, each in other conditions, and how far each count moved is kept
// in the baseline (exact.ts turns it into the metric's threshold):
//
//   * a fresh process every time (another address-space layout: ASLR);
//   * a different environment size (a padding variable of a few KiB moves
//     the initial stack, and with it every stack address the program sees);
//   * another working folder;
//   * ASLR switched off (setarch -R) on every other run, where setarch exists;
//   * other builds of the same sources (--spread-build DIR), when given.
//
// The first measurement is the recording process's own.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { machine } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Progress } from '../measure/progress.js';
import { Proc } from '../workload/process.js';
import { findOnPath } from '../workload/tools.js';
import { RunFailure } from '../workload/echo.js';
import { spreadOf, type Spread } from './exact.js';
import type { Metric } from './metric.js';

const CLI_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
/** A whole noise-free measurement of the gate profile takes 10-60 s here; allow for a loaded machine. */
const CHILD_TIMEOUT_MS = 900_000;
/** Environment padding of run k: k x this many bytes (not a multiple of 16, so stack alignment moves too). */
export const ENV_PAD_STEP_BYTES = 1531;

export interface SpreadOptions {
  /** The profile as given to check (a name or a path). */
  profile: string;
  /** The build measured by the recording process. */
  build: string;
  /** Measurements in all, the recording process's own included. */
  runs: number;
  /** Other builds of the same sources, measured once each. */
  builds: string[];
  tmpDir: string;
  progress: Progress;
}

interface Variant {
  build: string;
  padBytes: number;
  cwd: string;
  aslrOff: boolean;
  describe: string;
}

function variants(o: SpreadOptions, setarch: string | undefined): Variant[] {
  const out: Variant[] = [];
  const total = o.runs - 1 + o.builds.length;
  for (let k = 1; k <= total; k++) {
    const other = k > o.runs - 1 ? o.builds[k - o.runs] : undefined;
    const cwd = join(o.tmpDir, `spread-cwd-${k}`);
    const aslrOff = setarch !== undefined && k % 2 === 1;
    const padBytes = k * ENV_PAD_STEP_BYTES;
    const build = other ? resolve(other) : o.build;
    const describe = [
      other ? `build ${other}` : 'same build',
      'fresh process',
      `env +${padBytes} B`,
      `cwd <tmp>/spread-cwd-${k}`,
      setarch ? (aslrOff ? 'ASLR off' : 'ASLR on') : 'ASLR on (setarch not installed)',
    ].join(', ');
    out.push({ build, padBytes, cwd, aslrOff, describe });
  }
  return out;
}

/** The profile argument as the child needs it: a path made absolute (the child runs in another folder). */
function profileArg(p: string): string {
  return p.endsWith('.json') || p.includes('/') ? resolve(p) : p;
}

async function measureIn(v: Variant, o: SpreadOptions, setarch: string | undefined, k: number): Promise<Record<string, { samples: number[] }>> {
  mkdirSync(v.cwd, { recursive: true });
  const file = join(o.tmpDir, `spread-${k}.json`);
  const check = [process.execPath, CLI_MAIN, 'check', '--profile', profileArg(o.profile), '--build', v.build, '--baseline', file, '--update-baseline', '--spread-runs', '1'];
  const argv = ['env', '-C', v.cwd, ...(v.aslrOff && setarch ? [setarch, machine(), '--addr-no-randomize'] : []), ...check];
  const env = { ...process.env, CORO_BENCH_ENV_PAD: 'p'.repeat(v.padBytes) };
  const proc = new Proc('coro-bench check (spread)', argv[0], argv.slice(1), env);
  try {
    const exit = await proc.wait(CHILD_TIMEOUT_MS);
    if (!exit) throw new RunFailure(`the spread run (${v.describe}) did not finish within ${CHILD_TIMEOUT_MS / 1000} s`, proc.stderrTail.get());
    if (exit.code !== 0 || !existsSync(file)) {
      const last = proc.stderrTail.get().filter((l) => l.startsWith('error:')).pop() ?? proc.describeExit();
      throw new RunFailure(`the spread run (${v.describe}) failed: ${last}`, proc.stderrTail.get());
    }
    return (JSON.parse(readFileSync(file, 'utf8')) as { metrics: Record<string, { samples: number[] }> }).metrics;
  } finally {
    await proc.reap();
  }
}

/**
 * Measures the exact metrics of `first` (the recording run's own) again in
 * the other conditions and returns each one's spread. Throws when a run
 * fails or does not measure a metric: a spread from fewer runs than asked
 * would make a threshold look tighter than it is.
 */
export async function measureSpread(first: Metric[], o: SpreadOptions): Promise<Map<string, Spread>> {
  const exact = first.filter((m) => m.exact !== undefined);
  const setarch = findOnPath('setarch');
  const vs = variants(o, setarch);
  const values = new Map(exact.map((m) => [m.id, [m.samples[0]]]));
  const conditions = ['the recording process'];
  for (const [i, v] of vs.entries()) {
    o.progress.note(`spread: measurement ${i + 2} of ${vs.length + 1} (${v.describe})`);
    const got = await measureIn(v, o, setarch, i + 1);
    for (const m of exact) {
      const s = got[m.id]?.samples;
      if (!s || s.length === 0) throw new Error(`the spread run (${v.describe}) did not measure ${m.id}`);
      values.get(m.id)?.push(s[0]);
    }
    conditions.push(v.describe);
  }
  return new Map(exact.map((m) => [m.id, spreadOf(values.get(m.id) ?? [], conditions)]));
}
