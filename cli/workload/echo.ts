// One echo run: start a server, wait for its ready line, run echo_client
// against it, sample the server, collect both sides' figures, reap both.
import { paths } from '../paths.js';
import { rusageFromJson } from '../rusage/parse.js';
import type { EchoSample, Workload } from '../results/types.js';
import { launch, type Pinning } from './launch.js';
import { Proc } from './process.js';
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
  const spec = launch([...wrapper, ...serverArgv(config, port)], pinning.server, fileLimit);
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

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`echo_client --json: "${what}" missing or not a number`);
  return v;
}

/** Parses the one JSON object echo_client --json prints (docs/programs.md). */
export function parseClientJson(stdout: string, peak: { rss: number; cpu: number }): EchoSample {
  const text = stdout.trim();
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`echo_client --json printed no valid JSON object: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const lat = (obj.latency_us ?? {}) as Record<string, unknown>;
  const server = rusageFromJson(obj.server, 'echo_client --json "server"');
  return {
    transactions: num(obj.transactions, 'transactions'),
    mismatches: num(obj.mismatches, 'mismatches'),
    errors: num(obj.errors, 'errors'),
    wall_us: num(obj.wall_us, 'wall_us'),
    txn_per_s: num(obj.txn_per_s, 'txn_per_s'),
    bytes_moved: num(obj.bytes_moved, 'bytes_moved'),
    latency_us: {
      p50: num(lat.p50, 'latency_us.p50'),
      p90: num(lat.p90, 'latency_us.p90'),
      p99: num(lat.p99, 'latency_us.p99'),
      p999: num(lat.p999, 'latency_us.p999'),
      max: num(lat.max, 'latency_us.max'),
    },
    server_rusage: server,
    client_rusage: rusageFromJson(obj.client, 'echo_client --json "client"'),
    ...(typeof obj.read_block === 'number' ? { client_read_block: obj.read_block } : {}),
    ...(typeof obj.write_block === 'number' ? { client_write_block: obj.write_block } : {}),
    server_peak_rss_kib: peak.rss,
    server_peak_cpu_percent: peak.cpu,
  };
}

/** Runs one measured echo run. Resolves with the sample or rejects with a RunFailure. */
export async function runEcho(o: EchoRunOptions): Promise<EchoSample> {
  const { proc: server, port } = await startServer(o.config, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs);
  const sampler = new Sampler(server.pid as number).start();
  let client: Proc | undefined;
  try {
    const spec = launch(clientArgv(o.config, port, o.workload, ['--json']), o.pinning.client, o.fileLimit);
    client = new Proc('echo_client', spec.command, spec.args);
    const exit = await client.wait(o.timeoutMs);
    const peak = sampler.stop();
    if (!exit) {
      throw new RunFailure(`echo_client did not finish within ${o.timeoutMs / 1000} s (killed)`, client.stderrTail.get());
    }
    let sample: EchoSample;
    try {
      sample = parseClientJson(client.stdout, { rss: peak.peak_rss_kib, cpu: peak.peak_cpu_percent });
    } catch (err) {
      const why = exit.code === 0 ? (err as Error).message : `echo_client ${client.describeExit()}`;
      throw new RunFailure(why, [...client.stderrTail.get(), ...server.stderrTail.get().map((l) => `[server] ${l}`)]);
    }
    if (exit.code !== 0 || sample.mismatches > 0 || sample.errors > 0) {
      throw new RunFailure(
        `echo_client ${client.describeExit()}: ${sample.mismatches} mismatched transaction(s), ${sample.errors} failed connection(s)`,
        client.stderrTail.get(),
        sample.mismatches,
        sample.errors,
      );
    }
    return sample;
  } finally {
    sampler.stop();
    if (client) await client.reap();
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
