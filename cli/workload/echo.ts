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
import { Sampler } from './sampler.js';
import { serverArgv, configName, type ServerConfig } from './servers.js';

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
): Promise<StartedServer> {
  const spec = launch([...wrapper, ...serverArgv(config, port)], serverCpus(pinning), fileLimit);
  const proc = new Proc(`${configName(config)} server`, spec.command, spec.args);
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
): string[] {
  return [
    paths.echoClient,
    ...(config.tls ? ['-t'] : []),
    ...extra,
    '127.0.0.1',
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
  return sampleOf([report], rusageFromJson(report.server, 'echo_client --json "server"'), peak);
}

function sampleOf(reports: ClientReport[], server: Rusage, peak: { rss: number; cpu: number }): EchoSample {
  const m = mergeClientReports(reports);
  return {
    transactions: m.transactions,
    mismatches: m.mismatches,
    errors: m.errors,
    wall_us: m.wall_us,
    txn_per_s: m.txn_per_s,
    bytes_moved: m.bytes_moved,
    latency_us: m.latency_us,
    server_rusage: server,
    client_rusage: m.client_rusage,
    client_read_block: m.client_read_block,
    client_write_block: m.client_write_block,
    server_peak_rss_kib: peak.rss,
    server_peak_cpu_percent: peak.cpu,
    ...(reports.length > 1 ? { clients: reports.length } : {}),
    ...(m.open_loop ? { open_loop: m.open_loop } : {}),
  };
}

/** A rate as echo_client reads it: plain decimal, never exponent notation. */
export function rateArg(rate: number): string {
  return rate.toFixed(6).replace(/\.?0+$/, '');
}

/** Every client's stderr tail, labelled when there are several, then the server's. */
function tails(clients: Proc[], server: Proc): string[] {
  const label = (p: Proc, l: string): string => (clients.length > 1 ? `[${p.label}] ${l}` : l);
  return [...clients.flatMap((p) => p.stderrTail.get().map((l) => label(p, l))), ...server.stderrTail.get().map((l) => `[server] ${l}`)];
}

/**
 * Runs one measured echo run. Resolves with the sample or rejects with a
 * RunFailure. With several clients, each gets its share of the connections
 * (numbered apart, so every payload differs) and its own CPU; none of them
 * asks the server for figures or stops it: this process does, once all are
 * done.
 */
export async function runEcho(o: EchoRunOptions): Promise<EchoSample> {
  const n = o.clients ?? 1;
  const shares = splitConnections(o.workload.conns, n);
  const { proc: server, port } = await startServer(o.config, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs);
  const sampler = new Sampler(server.pid as number).start();
  const clients: Proc[] = [];
  try {
    for (const [i, share] of shares.entries()) {
      const extra = n === 1 ? ['--json'] : ['--json', '--no-bench', '--conn-base', String(share.base)];
      if (o.rate !== undefined) extra.push('--rate', rateArg((o.rate * share.conns) / o.workload.conns));
      const spec = launch(clientArgv(o.config, port, { ...o.workload, conns: share.conns }, extra), clientCpu(o.pinning, i), o.fileLimit);
      clients.push(new Proc(n === 1 ? 'echo_client' : `echo_client ${i + 1}/${n}`, spec.command, spec.args));
    }
    const deadline = Date.now() + o.timeoutMs;
    const exits: (Exit | undefined)[] = [];
    for (const c of clients) exits.push(await c.wait(Math.max(1, deadline - Date.now())));
    const peak = sampler.stop();
    const late = clients.filter((_, i) => !exits[i]);
    if (late.length > 0) {
      throw new RunFailure(`${late.map((c) => c.label).join(', ')} did not finish within ${o.timeoutMs / 1000} s (killed)`, tails(late, server));
    }
    const reports: ClientReport[] = [];
    for (const [i, c] of clients.entries()) {
      try {
        reports.push(parseClientReport(c.stdout));
      } catch (err) {
        const why = exits[i]?.code === 0 ? (err as Error).message : `${c.label} ${c.describeExit()}`;
        throw new RunFailure(why, tails([c], server));
      }
    }
    let serverRusage: Rusage;
    try {
      if (n === 1) {
        serverRusage = rusageFromJson(reports[0].server, 'echo_client --json "server"');
      } else {
        const answer = await askBench('127.0.0.1', port, true);
        if (!answer.rusage) throw new Error(`server figures missing: ${answer.missing}`);
        serverRusage = answer.rusage;
      }
    } catch (err) {
      const failed = clients.filter((_, i) => exits[i]?.code !== 0);
      const why = failed.length > 0 ? `${failed[0].label} ${failed[0].describeExit()}` : (err as Error).message;
      throw new RunFailure(why, tails(clients, server));
    }
    const sample = sampleOf(reports, serverRusage, { rss: peak.peak_rss_kib, cpu: peak.peak_cpu_percent });
    const bad = clients.filter((_, i) => exits[i]?.code !== 0);
    if (bad.length > 0 || sample.mismatches > 0 || sample.errors > 0) {
      const who = bad.length > 0 ? bad.map((c) => `${c.label} ${c.describeExit()}`).join(', ') : `${n === 1 ? 'echo_client' : `${n} echo_clients`} exit status 0`;
      throw new RunFailure(
        `${who}: ${sample.mismatches} mismatched transaction(s), ${sample.errors} failed connection(s)`,
        tails(bad.length > 0 ? bad : clients, server).filter((l) => !l.startsWith('[server]')),
        sample.mismatches,
        sample.errors,
      );
    }
    return sample;
  } finally {
    sampler.stop();
    for (const c of clients) await c.reap();
    await stopServer(server);
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
