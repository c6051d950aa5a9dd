// `coro-bench check`: options and their validation into CheckOptions.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { checkAction } from '../actions/check.js';
import { UsageError } from '../errors.js';
import { DEFAULT_GATE_PROFILE } from '../gate/settings.js';
import { ROOT } from '../paths.js';
import { stdio } from './io.js';
import { int, LIMITS } from './parse.js';

export interface CheckOptions {
  baseline: string;
  profile: string;
  thresholdPct: number;
  /** Samples per side of every timed metric (default: the profile's runs). */
  runs?: number;
  timed: boolean;
  /** False with --timed-only: skip the noise-free metrics. */
  noiseFree: boolean;
  updateBaseline: boolean;
  /** Another native build folder to measure (e.g. native/build-slow). */
  build?: string;
  json: boolean;
  /** Also save the check document (JSON) here, e.g. for CI artifacts. */
  export?: string;
  /** Baseline metric ids that may go unmeasured (shown as "allowed missing"). */
  allowMissing: string[];
  /** With --update-baseline: measurements of the exact counts in varied conditions (spread.ts); 1 = none. */
  spreadRuns: number;
  /** With --update-baseline: other builds of the same sources, measured once each for the spread. */
  spreadBuilds: string[];
}

export interface RawCheckOptions {
  baseline?: string;
  profile: string;
  threshold: string;
  runs?: string;
  timed?: boolean;
  timedOnly?: boolean;
  updateBaseline?: boolean;
  build?: string;
  json?: boolean;
  export?: string;
  allowMissing?: string;
  spreadRuns?: string;
  spreadBuild?: string;
}

export const DEFAULT_BASELINE = join(ROOT, 'reports', 'baseline.json');
export const DEFAULT_THRESHOLD_PCT = 10;
/** Measurements behind a recorded spread: the recording run and four fresh processes in other conditions. */
export const DEFAULT_SPREAD_RUNS = 5;

/** A percentage: a number above 0 and below 100 (decimals allowed). */
export function percent(name: string, raw: unknown): number {
  const s = String(raw).trim();
  if (!/^\d+(\.\d+)?$/.test(s)) throw new UsageError(`${name} must be a percentage such as 10 or 7.5, got "${String(raw)}"`);
  const v = Number(s);
  if (!(v > 0 && v < 100)) throw new UsageError(`${name} must be above 0 and below 100, got ${v}`);
  return v;
}

export function parseCheckOptions(raw: RawCheckOptions): CheckOptions {
  const o: CheckOptions = {
    baseline: raw.baseline ?? DEFAULT_BASELINE,
    profile: raw.profile,
    thresholdPct: percent('--threshold', raw.threshold),
    runs: raw.runs === undefined ? undefined : int('--runs', raw.runs, 1, LIMITS.runs.max),
    timed: raw.timed === true || raw.timedOnly === true,
    noiseFree: raw.timedOnly !== true,
    updateBaseline: raw.updateBaseline === true,
    build: raw.build,
    json: raw.json === true,
    export: raw.export,
    allowMissing: raw.allowMissing === undefined ? [] : raw.allowMissing.split(',').map((x) => x.trim()),
    spreadRuns: raw.spreadRuns === undefined ? DEFAULT_SPREAD_RUNS : int('--spread-runs', raw.spreadRuns, 1, 50),
    spreadBuilds: raw.spreadBuild === undefined ? [] : raw.spreadBuild.split(',').filter((x) => x !== ''),
  };
  if (!o.updateBaseline && (raw.spreadRuns !== undefined || raw.spreadBuild !== undefined)) {
    throw new UsageError('--spread-runs and --spread-build measure the spread recorded with a baseline: add --update-baseline');
  }
  for (const b of o.spreadBuilds) {
    if (!existsSync(resolve(b)) || !statSync(resolve(b)).isDirectory()) throw new UsageError(`--spread-build ${b}: no such folder (build the same sources elsewhere with \`make -C native BUILD=...\`)`);
  }
  if (o.allowMissing.some((x) => x === '')) throw new UsageError(`--allow-missing wants metric ids separated by commas, e.g. instructions_per_switch/0B,syscalls_per_txn/epoll-peer; got "${raw.allowMissing}"`);
  if (o.export !== undefined) {
    if (!/\.json$/i.test(o.export)) throw new UsageError(`--export saves the check document as JSON: want a .json file name, got "${o.export}"`);
    if (!existsSync(dirname(resolve(o.export)))) throw new UsageError(`cannot export to "${o.export}": folder ${dirname(resolve(o.export))} does not exist`);
  }
  if (o.runs !== undefined && !o.timed) throw new UsageError('--runs sets the samples of the timed metrics: add --timed (noise-free metrics need one sample)');
  if (o.build !== undefined) {
    const dir = resolve(o.build);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--build ${o.build}: no such folder (build one with \`make -C native BUILD=...\`)`);
  }
  if (o.updateBaseline && !existsSync(dirname(resolve(o.baseline)))) {
    throw new UsageError(`cannot write baseline ${o.baseline}: folder ${dirname(resolve(o.baseline))} does not exist`);
  }
  return o;
}

export function checkCommand(): Command {
  return new Command('check')
    .description('regression gate: measure the profile\'s metrics and compare them with a stored baseline (exit 0 ok, 1 regression, 2 bad input or a run that could not complete)')
    .option('--baseline <file>', 'baseline JSON to compare with (default: reports/baseline.json)')
    .option('--profile <name>', 'profile to measure: a bench-profiles/ name or a .json path', DEFAULT_GATE_PROFILE)
    .option('--threshold <pct>', 'a change in cost beyond this percentage is a regression', String(DEFAULT_THRESHOLD_PCT))
    .option('--timed', 'also check the timed metrics (ratios measured side by side; for quiet machines)')
    .option('--timed-only', 'check only the timed metrics (e.g. for the A/A experiment)')
    .option('--runs <n>', 'samples per side of each timed metric (default: the profile\'s runs)')
    .option('--update-baseline', 'after a passing run, write the measured metrics as the new baseline (atomically)')
    .option('--build <dir>', 'measure another native build folder, e.g. native/build-slow')
    .option('--spread-runs <n>', `with --update-baseline: measure the exact counts this many times in varied conditions (fresh processes, environment sizes, working folders, ASLR) and record their spread (default ${DEFAULT_SPREAD_RUNS}; 1 records none)`)
    .option('--spread-build <dirs>', 'with --update-baseline: other builds of the same sources (comma-separated folders) whose counts join the spread')
    .option('--allow-missing <ids>', 'baseline metrics (ids, comma-separated) that may go unmeasured here; without it any unmeasured baseline metric fails the check (exit 2)')
    .option('--json', 'print only the JSON check document on stdout')
    .option('--export <file.json>', 'also save the JSON check document to this file')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench check                                     # noise-free metrics against reports/baseline.json (what CI runs)
  coro-bench check --timed --runs 15                   # also the timed ratios (coro/epoll txn/s, switch/bound)
  coro-bench check --timed --update-baseline           # re-record reports/baseline.json after a passing run
  coro-bench check --allow-missing syscalls_per_txn/coro/epoll,syscalls_per_txn/epoll-peer   # no strace here: say so
  make -C native BUILD=build-slow CORO_SLOWDOWN_LOOPS=30
  coro-bench check --build native/build-slow           # exits 1: instructions per switch and per transaction regressed
  coro-bench check --threshold 5 --json > check.json`,
    )
    .action(async (raw: RawCheckOptions) => {
      process.exitCode = await checkAction(parseCheckOptions(raw), stdio());
    });
}
