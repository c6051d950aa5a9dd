// Helpers for the fault-injection tests (faults.test.ts): a demo server
// started on an ephemeral port and always reaped, what /proc says about it
// (open fds, RSS, CPU time), the native echo_client as the "normal client",
// and Node sockets that misbehave on purpose.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';
import { paths } from '../cli/paths.js';
import { launch } from '../cli/workload/launch.js';
import { Proc } from '../cli/workload/process.js';
import { READY_LINE, waitForReady } from '../cli/workload/ready.js';

export const HOST = '127.0.0.1';

/**
 * Backends of this build, as the server lists them; narrowed to those named
 * in CORO_TEST_BACKENDS (comma-separated) when it is set (scripts/
 * test-kqueue.sh). A name the build lacks throws, so that a typo cannot
 * pass having tested nothing.
 */
export function serverBackends(): string[] {
  let all: string[];
  try {
    all = execFileSync(paths.echoServer, ['--list-backends'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
  const want = (process.env.CORO_TEST_BACKENDS ?? '').split(',').filter(Boolean);
  if (want.length === 0) return all;
  const unknown = want.filter((b) => !all.includes(b));
  if (unknown.length > 0) throw new Error(`CORO_TEST_BACKENDS names ${unknown.join(', ')}, not a backend of this build (${all.join(', ')})`);
  return want;
}

export interface Server {
  proc: Proc;
  port: number;
  pid: number;
}

/**
 * Starts `program args -P 0`, waits for its ready line and registers a
 * teardown that reaps it (SIGTERM, then SIGKILL of its process group), so
 * that nothing is left running even when an assertion fails or throws.
 * `files` lowers (or raises) its open-files limit, soft and hard, through the
 * same `sh -c 'ulimit -n N; exec ...'` wrapper the CLI uses; the wrapper
 * execs, so the pid is the server's own.
 */
export async function startServer(
  t: Test,
  args: string[],
  opts: { files?: number; program?: string; ready?: RegExp } = {},
): Promise<Server> {
  const program = opts.program ?? paths.echoServer;
  const spec = launch([program, ...args, '-P', '0'], undefined, opts.files);
  const proc = new Proc(`${program.split('/').pop()} ${args.join(' ')}`, spec.command, spec.args);
  t.teardown(() => proc.reap());
  const port = await waitForReady(proc, opts.ready ?? READY_LINE, 10_000);
  if (proc.pid === undefined) throw new Error('server has no pid');
  return { proc, port, pid: proc.pid };
}

/** Open file descriptors of a process (entries of /proc/PID/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size in KiB (VmRSS of /proc/PID/status). */
export function rssKib(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

let clockTicks: number | undefined;
/** User + system CPU time of a process in ms (/proc/PID/stat, clock-tick resolution). */
export function cpuMs(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms until it holds or timeoutMs passes; returns its last value. */
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= until) return false;
    await sleep(20);
  }
}

export interface ClientResult {
  code: number | null;
  json: { transactions: number; mismatches: number; errors: number; wall_us: number } | undefined;
  stderr: string;
  ms: number;
}

/**
 * The normal client: native echo_client with --no-shutdown (every
 * connection ends with !quit; `shutdown` lets the last one send !shutdown
 * as in coro++), conns x txns x size, verifying every byte.
 */
export async function echoClient(
  port: number,
  conns = 4,
  txns = 20,
  size = 64,
  extra: string[] = [],
  timeoutMs = 15_000,
  shutdown = false,
): Promise<ClientResult> {
  const started = Date.now();
  const proc = new Proc('echo_client', paths.echoClient, [
    '--json', ...(shutdown ? [] : ['--no-shutdown']), ...extra, HOST, String(port), String(conns), String(txns), String(size),
  ]);
  const exit = (await proc.wait(timeoutMs)) ?? (await proc.reap());
  let json: ClientResult['json'];
  try {
    json = JSON.parse(proc.stdout);
  } catch {
    json = undefined;
  }
  return { code: exit.code, json, stderr: proc.stderrTail.get().join('\n'), ms: Date.now() - started };
}

/** Asserts that echo_client conns x txns x size is served correctly. */
export async function assertServed(t: Test, port: number, what: string, conns = 4, txns = 20, size = 64, extra: string[] = []): Promise<void> {
  const r = await echoClient(port, conns, txns, size, extra);
  t.equal(r.code, 0, `${what}: echo_client exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
  t.match(r.json, { transactions: conns * txns, mismatches: 0, errors: 0 }, `${what}: ${conns * txns} transactions, 0 mismatches`);
}

/** Node sockets opened by a test, destroyed at its end whatever happened. */
export class Sockets {
  private readonly open = new Set<Socket>();
  constructor(t: Test) {
    t.teardown(() => this.destroyAll());
  }

  /** Connects and resolves once connected (rejects on error). */
  connect(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: HOST, noDelay: true });
      this.open.add(s);
      s.on('close', () => this.open.delete(s));
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', () => {}); // later errors (resets) are read from the outcome
        resolve(s);
      });
    });
  }

  destroyAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  get size(): number {
    return this.open.size;
  }
}

export interface Outcome {
  data: Buffer;
  /** The server closed its side (FIN: 'end'), as opposed to a reset or our own destroy. */
  ended: boolean;
  error: string | undefined;
}

/** Collects everything a socket receives until it closes (or timeoutMs). */
export function collect(s: Socket, timeoutMs = 5_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    const timer = setTimeout(() => {
      error ??= `still open after ${timeoutMs} ms`;
      s.destroy();
    }, timeoutMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => (ended = true));
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended, error });
    });
  });
}

/** Reads until `want` bytes arrived (or the socket ends / timeoutMs). */
export function readBytes(s: Socket, want: number, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err?: Error): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (d: Buffer): void => {
      chunks.push(d);
      got += d.length;
      if (got >= want) done();
    };
    const onClose = (): void => done(new Error(`socket closed after ${got} of ${want} bytes`));
    const timer = setTimeout(() => done(new Error(`only ${got} of ${want} bytes within ${timeoutMs} ms`)), timeoutMs);
    s.on('data', onData);
    s.on('close', onClose);
  });
}

/** Writes and resolves when the data is handed to the kernel. */
export function write(s: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}

/** A snapshot of the server's resources. */
export interface Usage {
  fds: number;
  rssKib: number;
}

export function usage(pid: number): Usage {
  return { fds: fdCount(pid), rssKib: rssKib(pid) };
}

/**
 * Waits until the server's open fds are back to `fds` (its sessions for the
 * fault's connections closed; a session that closes itself may drain input
 * for up to a second first) and returns the usage then.
 */
export async function settled(pid: number, fds: number, timeoutMs = 4_000): Promise<Usage> {
  await waitFor(() => fdCount(pid) <= fds, timeoutMs);
  return usage(pid);
}

/**
 * The usage once the open fd count has not changed for 200 ms (the sessions
 * of a client that just left have closed).
 */
export async function resting(pid: number, timeoutMs = 3_000): Promise<Usage> {
  const until = Date.now() + timeoutMs;
  let last = fdCount(pid);
  let since = Date.now();
  while (Date.now() < until) {
    await sleep(20);
    const n = fdCount(pid);
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= 200) {
      break;
    }
  }
  return usage(pid);
}

/** The server's `!bench json` object, asked on a fresh connection. */
export async function benchJson(port: number, socks: Sockets): Promise<Record<string, unknown>> {
  const s = await socks.connect(port);
  const out = collect(s);
  s.write('!bench json\r\n!quit\r\n');
  const { data } = await out;
  return JSON.parse(data.toString('latin1').split('\r\n')[0]) as Record<string, unknown>;
}
