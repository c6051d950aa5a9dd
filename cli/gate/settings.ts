// What the gate measures, read from a profile (bench-profiles/gate.json by
// default). The profile's workloads are ordinary ones (so `coro-bench run
// gate` works too); the gate uses the first workload of each kind:
//
//   switch -> instructions and bytes copied per switch at each depth
//             (callgrind on bench/switch_count), and timed: ns per switch
//             against the register-switch + memcpy bound
//   echo   -> instructions and syscalls per transaction on the coro server
//             (each backend listed) and the epoll peer; timed: coro txn/s
//             against the epoll peer's, interleaved
//   idle   -> bytes of server RSS per idle connection (coro server)
//
// An optional "gate" object tunes the counted runs:
//   "switch_count_iterations": [A, B]  switch_count sizes (default [10000, 20000])
//   "echo_count_txns": [A, B]          transactions per connection of the two
//                                      counted echo runs (default [txns/2, txns])
//   "timed_switch_depths": [D...]      depths timed against the bound (default: the first)
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { PROFILES_DIR } from '../paths.js';
import { parseProfile, profileNames, type EchoWorkload, type IdleWorkload, type Profile, type SwitchWorkload } from '../profiles/profile.js';

export const DEFAULT_GATE_PROFILE = 'gate';

export interface GateSettings {
  profile: string;
  switch?: {
    coroutines: number;
    depths: number[];
    countIterations: [number, number];
    timedDepths: number[];
    iterations: number;
    runs: number;
    warmup: number;
  };
  echo?: {
    /** Backend names as in the profile ([] = the library's default, ["all"]). */
    backends: string[];
    tls: boolean;
    conns: number;
    txns: number;
    size: number;
    countTxns: [number, number];
    runs: number;
    warmup: number;
    timeoutS: number;
  };
  idle?: {
    backends: string[];
    conns: number;
    idleS: number;
    runs: number;
    timeoutS: number;
  };
}

/** A profile name from bench-profiles/, or a path to a profile file (ends in .json). */
export function readProfileFile(nameOrPath: string): { name: string; text: string } {
  if (nameOrPath.endsWith('.json') || nameOrPath.includes('/')) {
    try {
      return { name: basename(nameOrPath, extname(nameOrPath)), text: readFileSync(nameOrPath, 'utf8') };
    } catch (err) {
      throw new UsageError(`cannot read profile ${nameOrPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const file = join(PROFILES_DIR, `${nameOrPath}.json`);
  if (!existsSync(file)) {
    throw new UsageError(`unknown profile "${nameOrPath}" (valid: ${profileNames().join(', ')}, or a path to a .json profile)`);
  }
  return { name: nameOrPath, text: readFileSync(file, 'utf8') };
}

function pair(where: string, key: string, v: unknown, def: [number, number], min: number): [number, number] {
  if (v === undefined) return def;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= min) || v[0] >= v[1]) {
    throw new UsageError(`${where}: "${key}" must be two increasing integers >= ${min}, e.g. [${def.join(', ')}]`);
  }
  return [v[0], v[1]];
}

export function gateSettings(name: string, text: string): GateSettings {
  const profile: Profile = parseProfile(name, text);
  const raw = (JSON.parse(text) as Record<string, unknown>).gate ?? {};
  const where = `profile ${name}, "gate"`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`${where} must be an object`);
  const g = raw as Record<string, unknown>;
  const known = ['switch_count_iterations', 'echo_count_txns', 'timed_switch_depths'];
  for (const k of Object.keys(g)) {
    if (!known.includes(k)) throw new UsageError(`${where}: unknown key "${k}" (valid: ${known.join(', ')})`);
  }
  const out: GateSettings = { profile: name };
  const sw = profile.workloads.find((w): w is SwitchWorkload => w.kind === 'switch');
  if (sw) {
    const timed = g.timed_switch_depths ?? [sw.depths[0]];
    if (!Array.isArray(timed) || timed.length === 0 || !timed.every((d) => sw.depths.includes(d as number))) {
      throw new UsageError(`${where}: "timed_switch_depths" must be a non-empty list of the switch workload's depths (${sw.depths.join(', ')})`);
    }
    out.switch = {
      coroutines: sw.coroutines,
      depths: sw.depths,
      countIterations: pair(where, 'switch_count_iterations', g.switch_count_iterations, [10_000, 20_000], 2),
      timedDepths: timed as number[],
      iterations: sw.iterations,
      runs: sw.runs,
      warmup: sw.warmup,
    };
  }
  const echo = profile.workloads.find((w): w is EchoWorkload => w.kind === 'echo');
  if (echo) {
    out.echo = {
      backends: echo.backends,
      tls: echo.tls,
      conns: echo.conns,
      txns: echo.txns,
      size: echo.size,
      countTxns: pair(where, 'echo_count_txns', g.echo_count_txns, [Math.max(1, Math.ceil(echo.txns / 2)), Math.max(2, echo.txns)], 1),
      runs: echo.runs,
      warmup: echo.warmup,
      timeoutS: echo.timeout_s,
    };
  } else if (g.echo_count_txns !== undefined) {
    throw new UsageError(`${where}: "echo_count_txns" needs an echo workload`);
  }
  const idle = profile.workloads.find((w): w is IdleWorkload => w.kind === 'idle');
  if (idle) {
    out.idle = { backends: idle.backends, conns: idle.conns, idleS: idle.idle_s, runs: idle.runs, timeoutS: idle.timeout_s };
  }
  if (!out.switch && !out.echo && !out.idle) {
    throw new UsageError(`profile ${name} has no switch, echo or idle workload: nothing for the gate to measure`);
  }
  return out;
}

export function loadGateSettings(nameOrPath: string): GateSettings {
  const { name, text } = readProfileFile(nameOrPath);
  return gateSettings(name, text);
}
