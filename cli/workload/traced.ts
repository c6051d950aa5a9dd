// Runs under a counting tool (callgrind, strace): one echo run with the
// server wrapped, or one switch_count run. The tool writes its figures when
// the program exits, so each function waits for a natural exit (the client's
// !shutdown for the server) rather than killing anything.
import { paths } from '../paths.js';
import { clientArgv, parseClientJson, RunFailure, startServer } from './echo.js';
import { launch, type Pinning } from './launch.js';
import { Proc } from './process.js';
import type { ServerConfig } from './servers.js';
import type { Workload } from '../results/types.js';

export interface TracedEchoOptions {
  config: ServerConfig;
  workload: Workload;
  /** The tool's words before the server's argv (callgrindWrapper, straceWrapper). */
  wrapper: string[];
  pinning: Pinning;
  timeoutMs: number;
  fileLimit?: number;
}

/** Transactions the client completed; the tool's output file is complete when this resolves. */
export async function runTracedEcho(o: TracedEchoOptions): Promise<{ transactions: number }> {
  // A server under valgrind starts in about a second; allow for a loaded machine.
  const { proc: server, port } = await startServer(o.config, 0, o.pinning, o.fileLimit, 60_000, o.wrapper);
  let client: Proc | undefined;
  try {
    const spec = launch(clientArgv(o.config, port, o.workload, ['--json']), o.pinning.client, o.fileLimit);
    client = new Proc('echo_client', spec.command, spec.args);
    const exit = await client.wait(o.timeoutMs);
    if (!exit) throw new RunFailure(`echo_client did not finish within ${o.timeoutMs / 1000} s (killed)`, client.stderrTail.get());
    let transactions: number;
    try {
      const s = parseClientJson(client.stdout, { rss: 0, cpu: 0 });
      if (exit.code !== 0 || s.mismatches > 0 || s.errors > 0) {
        throw new Error(`echo_client ${client.describeExit()}: ${s.mismatches} mismatched transaction(s), ${s.errors} failed connection(s)`);
      }
      transactions = s.transactions;
    } catch (err) {
      throw new RunFailure((err as Error).message, [...client.stderrTail.get(), ...server.stderrTail.get().map((l) => `[server] ${l}`)]);
    }
    const done = await server.wait(o.timeoutMs);
    if (!done) throw new RunFailure(`the traced server did not exit within ${o.timeoutMs / 1000} s after !shutdown`, server.stderrTail.get());
    if (done.code !== 0) throw new RunFailure(`the traced server ${server.describeExit()}`, server.stderrTail.get());
    return { transactions };
  } finally {
    if (client) await client.reap();
    await server.reap();
  }
}

/** What switch_count prints (native/bench/switch_count.c). */
export interface SwitchCount {
  depth_bytes: number;
  iterations: number;
  coroutines: number;
  switches: number;
  bytes_copied_per_switch: number;
  slice_bytes: number;
  ns_per_switch: number;
}

/** Runs build/bench/switch_count DEPTH ITERS COROS, under `wrapper` if given. */
export async function runSwitchCount(depth: number, iterations: number, coroutines: number, wrapper: string[], timeoutMs: number): Promise<SwitchCount> {
  const argv = [...wrapper, paths.switchCount, String(depth), String(iterations), String(coroutines)];
  const proc = new Proc('switch_count', argv[0], argv.slice(1));
  try {
    const exit = await proc.wait(timeoutMs);
    if (!exit) throw new RunFailure(`switch_count did not finish within ${timeoutMs / 1000} s (killed)`, proc.stderrTail.get());
    if (exit.code !== 0) throw new RunFailure(`switch_count ${proc.describeExit()}`, proc.stderrTail.get());
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(proc.stdout.trim()) as Record<string, unknown>;
    } catch {
      throw new RunFailure(`switch_count printed no JSON object: ${JSON.stringify(proc.stdout.slice(0, 200))}`, proc.stderrTail.get());
    }
    const keys = ['depth_bytes', 'iterations', 'coroutines', 'switches', 'bytes_copied_per_switch', 'slice_bytes', 'ns_per_switch'] as const;
    for (const k of keys) {
      if (typeof obj[k] !== 'number') throw new RunFailure(`switch_count JSON: "${k}" missing or not a number`, proc.stderrTail.get());
    }
    return obj as unknown as SwitchCount;
  } finally {
    await proc.reap();
  }
}
