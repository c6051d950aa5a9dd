// How a program is started: CPU pinning (taskset) and the open-files limit
// (a `sh -c 'ulimit -n ...; exec "$@"'` wrapper). Both wrappers exec, so the
// pid of the spawned process is the pid of the program itself.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';

export interface Pinning {
  server?: number;
  client?: number;
}

export interface LaunchSpec {
  command: string;
  args: string[];
}

let tasksetPath: string | null | undefined;
function taskset(): string | null {
  if (tasksetPath === undefined) {
    tasksetPath = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p)) ?? null;
  }
  return tasksetPath;
}

/**
 * The pinning to use: explicit `--pin S,C`, none with `--no-pin`, else server
 * on CPU 0 and client on CPU 1 when there are two CPUs and taskset exists.
 */
export function resolvePinning(pin: [number, number] | undefined, noPin: boolean): Pinning {
  if (noPin) return {};
  const cpus = availableParallelism();
  if (pin) {
    for (const c of pin) {
      if (c >= cpus) throw new UsageError(`--pin: CPU ${c} does not exist (this machine has CPUs 0-${cpus - 1})`);
    }
    if (!taskset()) throw new UsageError('--pin needs taskset (util-linux), which is not installed');
    return { server: pin[0], client: pin[1] };
  }
  if (cpus < 2 || !taskset()) return {};
  return { server: 0, client: 1 };
}

/**
 * Pins this process (every thread, with taskset -a) to one CPU: for the
 * in-process FFI microbenchmarks, which otherwise migrate between CPUs
 * mid-run. CPU 0 unless `cpu` is given; nothing with `noPin`. Returns how the
 * process runs, for the results' "pinning" field.
 */
export function pinSelf(cpu: number | undefined, noPin: boolean): string {
  if (noPin) return 'in-process, not pinned (--no-pin)';
  const cpus = availableParallelism();
  const c = cpu ?? 0;
  if (c >= cpus) throw new UsageError(`--pin: CPU ${c} does not exist (this machine has CPUs 0-${cpus - 1})`);
  const ts = taskset();
  if (!ts) {
    if (cpu !== undefined) throw new UsageError('--pin needs taskset (util-linux), which is not installed');
    return 'in-process, not pinned (taskset not installed)';
  }
  try {
    execFileSync(ts, ['-a', '-p', '-c', String(c), String(process.pid)], { stdio: 'ignore' });
  } catch (err) {
    // A cpuset that excludes the CPU, or a seccomp profile: measure anyway, and say so.
    return `in-process, not pinned (taskset failed: ${(err as Error).message.split('\n')[0]})`;
  }
  return `in-process, pinned to CPU ${c}`;
}

export function describePinning(p: Pinning): string {
  return p.server === undefined ? 'not pinned' : `server on CPU ${p.server}, client on CPU ${p.client}`;
}

/** Hard limit of open files for children (what `ulimit -n` can be raised to). */
export function hardFileLimit(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return Number.NaN;
  }
}

export function softFileLimit(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return Number.NaN;
  }
}

/**
 * Builds the command that runs `argv` pinned to `cpu` (if any) with the
 * open-files limit raised to `files` (if given; never above the hard limit,
 * so the caller should check hardFileLimit() first and say why it cannot run).
 */
export function launch(argv: string[], cpu: number | undefined, files?: number): LaunchSpec {
  let cmd = argv;
  if (cpu !== undefined) {
    const ts = taskset();
    if (ts) cmd = [ts, '-c', String(cpu), ...cmd];
  }
  if (files !== undefined) {
    cmd = ['sh', '-c', `ulimit -n ${Math.floor(files)} && exec "$@"`, 'sh', ...cmd];
  }
  return { command: cmd[0], args: cmd.slice(1) };
}
