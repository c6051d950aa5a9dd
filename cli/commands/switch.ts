// `coro-bench switch`: options and their validation into SwitchOptions.
import { Command } from 'commander';
import { switchAction } from '../actions/switch.js';
import { exportFile, int, intList, LIMITS } from './parse.js';
import { stdio } from './io.js';

export interface SwitchOptions {
  coroutines: number;
  depths: number[];
  iterations: number;
  runs: number;
  warmup: number;
  json: boolean;
  export?: string;
  /** CPU to pin this process to (default 0). */
  pin?: number;
  noPin: boolean;
}

export interface RawSwitchOptions {
  coros: string;
  depth: string;
  iters: string;
  runs: string;
  warmup: string;
  json?: boolean;
  export?: string;
  /** A CPU number, or false for --no-pin. */
  pin?: string | boolean;
}

/** Largest live stack depth: well inside the 256 KiB default shared stack. */
export const MAX_DEPTH_BYTES = 131_072;

export function parseSwitchOptions(raw: RawSwitchOptions): SwitchOptions {
  return {
    coroutines: int('--coros', raw.coros, 1, 10_000),
    depths: [...new Set(intList('--depth', raw.depth, 0, MAX_DEPTH_BYTES))],
    iterations: int('--iters', raw.iters, 1, 1_000_000_000),
    runs: int('--runs', raw.runs, LIMITS.runs.min, LIMITS.runs.max),
    warmup: int('--warmup', raw.warmup, LIMITS.warmup.min, LIMITS.warmup.max),
    json: raw.json === true,
    export: exportFile(raw.export),
    pin: typeof raw.pin === 'string' ? int('--pin', raw.pin, 0, 4095) : undefined,
    noPin: raw.pin === false,
  };
}

export function switchCommand(): Command {
  return new Command('switch')
    .description('time a coroutine switch per live stack depth over FFI, next to its register-switch + memcpy bound')
    .option('--coros <n>', 'coroutines in the ping-pong (1 measures the lazy no-copy path)', '2')
    .option('--depth <bytes>', 'live stack bytes kept across each switch; comma list', '0,128,1024,4096,16384')
    .option('--iters <n>', 'switches timed per run', '1000000')
    .option('--runs <n>', 'measured runs per depth', '5')
    .option('--warmup <n>', 'unmeasured runs per depth first', '1')
    .option('--pin <cpu>', 'pin this process (the benchmark runs in it, over FFI) to this CPU (default 0)')
    .option('--no-pin', 'do not pin this process to a CPU')
    .option('--json', 'print only the JSON results document on stdout')
    .option('--export <file>', 'also save the results as .json, .md, .csv or .html')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench switch
  coro-bench switch --depth 0,4096 --iters 1000000 --runs 10
  coro-bench switch --coros 1 --depth 16384    # lazy path: nothing to copy
  coro-bench switch --pin 1                    # on CPU 1 instead of CPU 0 (--no-pin: not pinned)
  coro-bench switch --json > switch.json`,
    )
    .action(async (raw: RawSwitchOptions) => {
      process.exitCode = await switchAction(parseSwitchOptions(raw), stdio());
    });
}
