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
  /** The server's CPUs when it is given several (--server-cpus); wins over `server`. */
  serverCpus?: number[];
  /**
   * CPUs of the client processes: client i runs on clientCpus[i % length]
   * (--client-cpus; by default the CPUs not given to the server).
   */
  clientCpus?: number[];
}

export interface CpuLists {
  server?: number[];
  clients?: number[];
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

/** Checks that every CPU of a list exists on this machine. */
export function checkCpus(option: string, list: number[]): void {
  const cpus = availableParallelism();
  for (const c of list) {
    if (c >= cpus) throw new UsageError(`${option}: CPU ${c} does not exist (this machine has CPUs 0-${cpus - 1})`);
  }
}

/**
 * The pinning to use: explicit `--pin S,C`, none with `--no-pin`, else server
 * on CPU 0 and client on CPU 1 when there are two CPUs and taskset exists.
 * `lists` (--server-cpus, --client-cpus) refine it; client processes get the
 * CPUs not given to the server unless told otherwise.
 */
export function resolvePinning(pin: [number, number] | undefined, noPin: boolean, lists: CpuLists = {}): Pinning {
  if (noPin) {
    if (lists.server || lists.clients) throw new UsageError('--no-pin cannot be combined with --server-cpus or --client-cpus');
    return {};
  }
  const cpus = availableParallelism();
  if (pin) checkCpus('--pin', pin);
  if (lists.server) checkCpus('--server-cpus', lists.server);
  if (lists.clients) checkCpus('--client-cpus', lists.clients);
  const explicit = pin !== undefined || lists.server !== undefined || lists.clients !== undefined;
  if (explicit && !taskset()) throw new UsageError('pinning to CPUs needs taskset (util-linux), which is not installed');
  if (!explicit && (cpus < 2 || !taskset())) return {};
  const serverCpus = lists.server ?? [pin ? pin[0] : 0];
  const rest = [...Array(cpus).keys()].filter((c) => !serverCpus.includes(c));
  const clientCpus = lists.clients ?? (pin && !lists.server ? [pin[1]] : rest.length > 0 ? rest : serverCpus);
  return {
    server: serverCpus[0],
    client: clientCpus[0],
    ...(lists.server ? { serverCpus } : {}),
    clientCpus,
  };
}

/**
 * The server's CPUs for N workers when none are given: one each from CPU 0,
 * leaving at least one CPU for the clients (so on a small machine workers
 * share). undefined for one worker (the usual pinning).
 */
export function defaultServerCpus(workers: number): number[] | undefined {
  if (workers <= 1) return undefined;
  const cpus = availableParallelism();
  return [...Array(Math.max(1, Math.min(workers, cpus - 1))).keys()];
}

/** One warning line when N workers have fewer CPUs than workers, or undefined. */
export function workerCpuWarning(p: Pinning, workers: number): string | undefined {
  const cpus = serverCpus(p);
  if (workers <= 1 || !cpus || cpus.length >= workers) return undefined;
  return `${workers} server workers share ${cpus.length} CPU${cpus.length > 1 ? 's' : ''} (${formatCpus(cpus)}): this machine cannot give each its own`;
}

/** The CPU(s) client process i (0-based) is pinned to, if any. */
export function clientCpu(p: Pinning, i: number): number | undefined {
  if (p.clientCpus && p.clientCpus.length > 0) return p.clientCpus[i % p.clientCpus.length];
  return p.client;
}

/** The CPU(s) the server is pinned to, if any. */
export function serverCpus(p: Pinning): number[] | undefined {
  return p.serverCpus ?? (p.server === undefined ? undefined : [p.server]);
}

/** A CPU list the way taskset -c and the user write it: "0-3,6". */
export function formatCpus(list: number[]): string {
  const xs = [...new Set(list)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : String(xs[i]));
    i = j + 1;
  }
  return parts.join(',');
}

/** Why the clients' CPUs cannot all be their own, or undefined when they are. */
export function clientCpuWarning(p: Pinning, clients: number): string | undefined {
  if (p.server === undefined) return clients > 1 ? `${clients} client processes are not pinned: they share the CPUs with the server` : undefined;
  const used = [...Array(clients).keys()].map((i) => clientCpu(p, i) as number);
  const server = serverCpus(p) ?? [];
  const onServer = used.filter((c) => server.includes(c));
  if (onServer.length > 0) return `client processes share CPU(s) ${formatCpus(onServer)} with the server: figures mix the two sides`;
  if (new Set(used).size < used.length) return `${clients} client processes share CPU${new Set(used).size > 1 ? 's' : ''} ${formatCpus(used)} (give more with --client-cpus)`;
  return undefined;
}

/** "server on CPU 0, client on CPU 1" (the words the results documents have always used for one client). */
export function describePinning(p: Pinning, clients = 1): string {
  if (p.server === undefined) return 'not pinned';
  const server = p.serverCpus && p.serverCpus.length > 1 ? `CPUs ${formatCpus(p.serverCpus)}` : `CPU ${p.server}`;
  const used = [...Array(clients).keys()].map((i) => clientCpu(p, i) as number);
  const client = clients === 1 ? `client on CPU ${used[0]}` : `${clients} clients on CPU${new Set(used).size > 1 ? 's' : ''} ${formatCpus(used)}`;
  return `server on ${server}, ${client}`;
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
export function launch(argv: string[], cpu: number | number[] | undefined, files?: number): LaunchSpec {
  let cmd = argv;
  if (cpu !== undefined && (!Array.isArray(cpu) || cpu.length > 0)) {
    const ts = taskset();
    if (ts) cmd = [ts, '-c', Array.isArray(cpu) ? formatCpus(cpu) : String(cpu), ...cmd];
  }
  if (files !== undefined) {
    cmd = ['sh', '-c', `ulimit -n ${Math.floor(files)} && exec "$@"`, 'sh', ...cmd];
  }
  return { command: cmd[0], args: cmd.slice(1) };
}
