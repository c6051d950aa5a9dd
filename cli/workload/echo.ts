// One echo run: start a server, wait for its ready line, run echo_client
// against it, sample the server, collect both sides' figures, reap both.
import { paths } from '../paths.js';
import { rusageFromJson, type Rusage } from '../rusage/parse.js';
import type { EchoSample, Workload } from '../results/types.js';
import { askBench } from './bench-query.js';
import { clientCpu, launch, serverCpus, type Pinning } from './launch.js';
import { mergeClientReports, parseClientReport, splitConnections, type ClientReport } from './merge.js';
import { Proc, type Exit } from './process.js';
import { READY_LINE, waitForReady } from './ready.js';
import { freePort, waitCustomReady } from './custom.js';
import { TreeSampler, treeUsage, type TreeUsage } from './proc-tree.js';
import { serverArgv, configName, serverEnv, type ServerConfig } from './servers.js';
import { isLoopback, runEchoRemote, type RemoteClients } from './echo-remote.js';

export interface EchoRunOptions {
  config: ServerConfig;
  workload: Workload;
  /** 0 = ephemeral. */
  port: number;
  pinning: Pinning;
  /** Client run limit in ms; the run is killed and failed after it. */
  timeoutMs: number;
  /** Raise the open-files limit of both programs to this (many connections). */
  fileLimit?: number;
  readyTimeoutMs?: number;
  /** echo_client processes sharing the connections (default 1). */
  clients?: number;
  /** Address the server binds (default 127.0.0.1); clients on other hosts need one they can reach. */
  bind?: string;
  /** echo_client processes on other hosts over ssh (--client-hosts): then `clients` is per host. */
  remote?: RemoteClients;
  /** Open loop: lines a second over all connections and clients (echo_client --rate), shared in proportion to connections. */
  rate?: number;
}

/** A failed run, carrying the failing program's last stderr lines. */
export class RunFailure extends Error {
  constructor(
    message: string,
    readonly stderrTail: string[],
    readonly mismatches = 0,
    readonly errors = 0,
  ) {
    super(message);
    this.name = 'RunFailure';
  }
}

export interface StartedServer {
  proc: Proc;
  port: number;
}

export async function startServer(
  config: ServerConfig,
  port: number,
  pinning: Pinning,
  fileLimit: number | undefined,
  readyTimeoutMs = 10_000,
  /** A tool the server runs under, e.g. ["valgrind", "--tool=callgrind", ...] (gate metrics). */
  wrapper: string[] = [],
  bind?: string,
): Promise<StartedServer> {
  const spec = launch([...wrapper, ...serverArgv(config, port, bind)], serverCpus(pinning), fileLimit);
  const proc = new Proc(`${configName(config)} server`, spec.command, spec.args, serverEnv(config));
  try {
    const actual = await waitForReady(proc, READY_LINE, readyTimeoutMs);
    return { proc, port: actual };
  } catch (err) {
    await proc.reap();
    throw new RunFailure((err as Error).message, proc.stderrTail.get());
  }
}

export function clientArgv(
  config: ServerConfig,
  port: number,
  w: Workload,
  extra: string[],
  /** Where the server is, as the client sees it. */
  host = '127.0.0.1',
  /** The client binary (another path on a remote host). */
  program = paths.echoClient,
): string[] {
  return [
    program,
    ...(config.tls ? ['-t'] : []),
    ...extra,
    host,
    String(port),
    String(w.conns),
    String(w.txns),
    String(w.size),
  ];
}

/** Stops a server after its client is done: it should exit on !shutdown; kill it if not. */
export async function stopServer(server: Proc, graceMs = 3000): Promise<void> {
  await server.reap(graceMs);
}

/** Parses the one JSON object echo_client --json prints (docs/programs.md), with the server's figures it asked for. */
export function parseClientJson(stdout: string, peak: { rss: number; cpu: number }): EchoSample {
  const report = parseClientReport(stdout);
  return sampleOf([report], { rusage: rusageFromJson(report.server, 'echo_client --json "server"') }, peak);
}

export function sampleOf(reports: ClientReport[], server: ServerFigures, peak: { rss: number; cpu: number }, offsetsNs: number[] = []): EchoSample {
  const m = mergeClientReports(reports, offsetsNs);
  return {
    transactions: m.transactions,
    mismatches: m.mismatches,
    errors: m.errors,
    wall_us: m.wall_us,
    txn_per_s: m.txn_per_s,
    bytes_moved: m.bytes_moved,
    latency_us: m.latency_us,
    server_rusage: server.rusage,
    client_rusage: m.client_rusage,
    client_read_block: m.client_read_block,
    client_write_block: m.client_write_block,
    server_peak_rss_kib: peak.rss,
    server_peak_cpu_percent: peak.cpu,
    ...(reports.length > 1 ? { clients: reports.length } : {}),
    ...(m.open_loop ? { open_loop: m.open_loop } : {}),
    ...(server.source ? { server_figures: server.source } : {}),
  };
}

/** The server's figures of one run, and where they came from when not its own `!bench json`. */
interface ServerFigures {
  rusage: Rusage | null;
  source?: string;
}

/** A rate as echo_client reads it: plain decimal, never exponent notation. */
export function rateArg(rate: number): string {
  return rate.toFixed(6).replace(/\.?0+$/, '');
}

/** Every client's stderr tail, labelled when there are several, then the server's. */
function tails(clients: Proc[], server: Proc | undefined): string[] {
  const label = (p: Proc, l: string): string => (clients.length > 1 ? `[${p.label}] ${l}` : l);
  return [...clients.flatMap((p) => p.stderrTail.get().map((l) => label(p, l))), ...(server?.stderrTail.get().map((l) => `[server] ${l}`) ?? [])];
}

/** Starts a --server-cmd server on `port` (0: a free one picked now) and waits until it is ready. */
export async function startCustomServer(
  config: ServerConfig,
  port: number,
  pinning: Pinning,
  fileLimit: number | undefined,
  readyTimeoutMs = 10_000,
): Promise<StartedServer> {
  const actual = port || (await freePort());
  const spec = launch(serverArgv(config, actual), serverCpus(pinning), fileLimit);
  const proc = new Proc(`${configName(config)} server`, spec.command, spec.args);
  try {
    await waitCustomReady(proc, '127.0.0.1', actual, config.custom?.ready, readyTimeoutMs);
    return { proc, port: actual };
  } catch (err) {
    await proc.reap();
    throw new RunFailure((err as Error).message, proc.stderrTail.get());
  }
}

/** The server under load: spawned (proc) or already running (--target). */
interface ServerUnderTest {
  proc?: Proc;
  host: string;
  port: number;
}

async function startAny(o: EchoRunOptions): Promise<ServerUnderTest> {
  const c = o.config;
  if (c.server === 'target') return { host: c.custom?.host as string, port: c.custom?.port as number };
  const s = c.server === 'cmd' ? await startCustomServer(c, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs) : await startServer(c, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs, [], o.bind);
  return { proc: s.proc, host: c.server === 'cmd' ? '127.0.0.1' : (o.bind ?? '127.0.0.1'), port: s.port };
}

/** CPU, faults and switches a process tree used between two readings, as a rusage (maxrss: the peak sampled RSS of the tree). */
function treeDelta(before: TreeUsage, after: TreeUsage, wallUs: number, peakRssKib: number): Rusage {
  return {
    wall_us: Math.round(wallUs),
    utime_us: after.utime_us - before.utime_us,
    stime_us: after.stime_us - before.stime_us,
    maxrss_kib: peakRssKib,
    ixrss: 0,
    idrss: 0,
    isrss: 0,
    minflt: after.minflt - before.minflt,
    majflt: after.majflt - before.majflt,
    nswap: 0,
    inblock: 0,
    oublock: 0,
    msgsnd: 0,
    msgrcv: 0,
    nsignals: 0,
    nvcsw: after.nvcsw - before.nvcsw,
    nivcsw: after.nivcsw - before.nivcsw,
  };
}

/** What a running server used between two `!bench json` readings (maxrss: the later reading). */
export function rusageDelta(a: Rusage, b: Rusage): Rusage {
  const out = { ...b };
  for (const k of Object.keys(b) as (keyof Rusage)[]) {
    const x = a[k];
    const y = b[k];
    if (k !== 'maxrss_kib' && typeof x === 'number' && typeof y === 'number') out[k] = y - x;
  }
  return out;
}

/**
 * Runs one measured echo run. Resolves with the sample or rejects with a
 * RunFailure. With several clients, each gets its share of the connections
 * (numbered apart, so every payload differs) and its own CPU; none of them
 * asks the server for figures or stops it: this process does, once all are
 * done. So it does for servers the suite did not write, which may not know
 * `!bench`/`!shutdown`: then a spawned one's figures come from /proc (its
 * whole process tree) and it is stopped with a signal, and a --target's are
 * missing, with the reason.
 */
export async function runEcho(o: EchoRunOptions): Promise<EchoSample> {
  if (o.remote) return runEchoRemote(o, o.remote);
  const n = o.clients ?? 1;
  const kind = o.config.server;
  const custom = kind === 'cmd' || kind === 'target';
  const cliAsks = n > 1 || custom;
  const shares = splitConnections(o.workload.conns, n);
  const server = await startAny(o);
  const root = server.proc?.pid;
  const sampler = root === undefined ? undefined : new TreeSampler(root).start();
  const before = root === undefined ? undefined : treeUsage(root);
  // A --target was not started for this run: its `!bench json` counts from
  // its own start, so the run's share is the difference of two readings.
  const targetBefore = kind === 'target' ? await askBench(server.host, server.port, false) : undefined;
  const startedAt = performance.now();
  const clients: Proc[] = [];
  let stopped = false;
  try {
    for (const [i, share] of shares.entries()) {
      const extra = cliAsks ? ['--json', '--no-bench', '--conn-base', String(share.base)] : ['--json'];
      if (o.rate !== undefined) extra.push('--rate', rateArg((o.rate * share.conns) / o.workload.conns));
      const spec = launch(clientArgv(o.config, server.port, { ...o.workload, conns: share.conns }, extra, server.host), clientCpu(o.pinning, i), o.fileLimit);
      clients.push(new Proc(n === 1 ? 'echo_client' : `echo_client ${i + 1}/${n}`, spec.command, spec.args));
    }
    const deadline = Date.now() + o.timeoutMs;
    const exits: (Exit | undefined)[] = [];
    for (const c of clients) exits.push(await c.wait(Math.max(1, deadline - Date.now())));
    const after = root === undefined ? undefined : treeUsage(root);
    const wallUs = (performance.now() - startedAt) * 1000;
    const peak = sampler?.stop() ?? { peak_rss_kib: Number.NaN, peak_cpu_percent: Number.NaN };
    const late = clients.filter((_, i) => !exits[i]);
    if (late.length > 0) {
      throw new RunFailure(`${late.map((c) => c.label).join(', ')} did not finish within ${o.timeoutMs / 1000} s (killed)`, tails(late, server.proc));
    }
    // A client that failed may have lost its server: give the server's exit a
    // moment to be reported, so the failure names the cause.
    if (cliAsks && server.proc && exits.some((e) => e?.code !== 0)) await server.proc.wait(1000);
    if (cliAsks && server.proc?.exit) {
      throw new RunFailure(`${server.proc.label} ${server.proc.describeExit()} during the run`, tails(clients, server.proc));
    }
    const reports: ClientReport[] = [];
    for (const [i, c] of clients.entries()) {
      try {
        reports.push(parseClientReport(c.stdout));
      } catch (err) {
        const why = exits[i]?.code === 0 ? (err as Error).message : `${c.label} ${c.describeExit()}`;
        throw new RunFailure(why, tails([c], server.proc));
      }
    }
    let figures: ServerFigures;
    try {
      if (!cliAsks) {
        figures = { rusage: rusageFromJson(reports[0].server, 'echo_client --json "server"') };
      } else {
        const answer = await askBench(server.host, server.port, kind !== 'target');
        stopped = answer.rusage !== undefined && kind !== 'target';
        if (answer.rusage && targetBefore) {
          figures = targetBefore.rusage ? { rusage: rusageDelta(targetBefore.rusage, answer.rusage) } : { rusage: null, source: `missing: before the run: ${targetBefore.missing}` };
        } else if (answer.rusage) figures = { rusage: answer.rusage };
        else if (kind === 'cmd' && before && after) figures = { rusage: treeDelta(before, after, wallUs, peak.peak_rss_kib), source: `/proc (process tree; ${answer.missing})` };
        else if (kind === 'target') figures = { rusage: null, source: `missing: ${answer.missing}` };
        else throw new Error(`server figures missing: ${answer.missing}`);
      }
    } catch (err) {
      const failed = clients.filter((_, i) => exits[i]?.code !== 0);
      const why = failed.length > 0 ? `${failed[0].label} ${failed[0].describeExit()}` : (err as Error).message;
      throw new RunFailure(why, tails(clients, server.proc));
    }
    const sample = sampleOf(reports, figures, { rss: peak.peak_rss_kib, cpu: peak.peak_cpu_percent });
    const bad = clients.filter((_, i) => exits[i]?.code !== 0);
    if (bad.length > 0 || sample.mismatches > 0 || sample.errors > 0) {
      const who = bad.length > 0 ? bad.map((c) => `${c.label} ${c.describeExit()}`).join(', ') : `${n === 1 ? 'echo_client' : `${n} echo_clients`} exit status 0`;
      throw new RunFailure(
        `${who}: ${sample.mismatches} mismatched transaction(s), ${sample.errors} failed connection(s)`,
        tails(bad.length > 0 ? bad : clients, server.proc).filter((l) => !l.startsWith('[server]')),
        sample.mismatches,
        sample.errors,
      );
    }
    return sample;
  } finally {
    sampler?.stop();
    for (const c of clients) await c.reap();
    // A server told !shutdown (by its client or by us) gets time to exit by itself; one that was not is signalled now.
    // Bound to another address than loopback (--bind), it refuses !shutdown from us.
    const obeys = !o.bind || isLoopback(o.bind);
    if (server.proc) await stopServer(server.proc, (!custom || stopped) && obeys ? 3000 : 0);
  }
}

/**
 * One run in coro++'s text mode: the client's default output. Returns the
 * client's stdout lines that form the coro++ README report.
 */
export async function runEchoRaw(o: EchoRunOptions): Promise<string[]> {
  const { proc: server, port } = await startServer(o.config, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs);
  let client: Proc | undefined;
  try {
    const spec = launch(clientArgv(o.config, port, o.workload, []), o.pinning.client, o.fileLimit);
    client = new Proc('echo_client', spec.command, spec.args);
    const exit = await client.wait(o.timeoutMs);
    if (!exit) throw new RunFailure(`echo_client did not finish within ${o.timeoutMs / 1000} s (killed)`, client.stderrTail.get());
    const lines = client.stdout
      .split('\n')
      .map((l) => l.replace(/\r$/, ''))
      .filter((l) => /^(server bench|client bench|read_block):/.test(l));
    if (exit.code !== 0 || lines.length !== 3) {
      throw new RunFailure(
        `echo_client ${client.describeExit()}, printed ${lines.length} of the 3 report lines`,
        client.stderrTail.get(),
      );
    }
    return lines;
  } finally {
    if (client) await client.reap();
    await stopServer(server);
  }
}
