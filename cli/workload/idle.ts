// Bytes per idle connection: the server's RSS before any client connects
// versus its RSS while `conns` connections are open and idle
// (echo_client --idle SECONDS, docs/programs.md).
import type { IdleSample, Workload } from '../results/types.js';
import { rusageFromJson, type Rusage } from '../rusage/parse.js';
import { clientArgv, RunFailure, startServer, stopServer } from './echo.js';
import { launch, type Pinning } from './launch.js';
import { Proc } from './process.js';
import { rssKib, Sampler } from './sampler.js';
import type { ServerConfig } from './servers.js';

export interface IdleRunOptions {
  config: ServerConfig;
  workload: Workload;
  idleSeconds: number;
  port: number;
  pinning: Pinning;
  timeoutMs: number;
  fileLimit: number;
}

export async function runIdle(o: IdleRunOptions): Promise<IdleSample> {
  const { proc: server, port } = await startServer(o.config, o.port, o.pinning, o.fileLimit);
  const pid = server.pid as number;
  let client: Proc | undefined;
  const sampler = new Sampler(pid, 100);
  try {
    const before = await rssKib(pid);
    if (before === undefined) throw new RunFailure('cannot read the server RSS from /proc', server.stderrTail.get());
    sampler.start();
    const spec = launch(
      clientArgv(o.config, port, o.workload, ['--json', '--idle', String(o.idleSeconds)]),
      o.pinning.client,
      o.fileLimit,
    );
    client = new Proc('echo_client --idle', spec.command, spec.args);
    const exit = await client.wait(o.timeoutMs);
    const peak = sampler.stop();
    if (!exit) throw new RunFailure(`echo_client --idle did not finish within ${o.timeoutMs / 1000} s (killed)`, client.stderrTail.get());
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(client.stdout.trim()) as Record<string, unknown>;
    } catch {
      throw new RunFailure(`echo_client --idle ${client.describeExit()} and printed no JSON object`, client.stderrTail.get());
    }
    const errors = typeof obj.errors === 'number' ? obj.errors : 0;
    const connected = o.workload.conns - errors;
    if (exit.code !== 0 || connected <= 0) {
      throw new RunFailure(`echo_client --idle ${client.describeExit()}, ${errors} failed connection(s)`, client.stderrTail.get(), 0, errors);
    }
    let serverRusage: Rusage | null = null;
    try {
      serverRusage = rusageFromJson(obj.server, 'echo_client --idle "server"');
    } catch {
      serverRusage = null;
    }
    const after = peak.peak_rss_kib;
    return {
      rss_before_kib: before,
      rss_after_kib: after,
      bytes_per_idle_conn: ((after - before) * 1024) / connected,
      connected,
      server_rusage: serverRusage,
    };
  } finally {
    sampler.stop();
    if (client) await client.reap();
    await stopServer(server);
  }
}
