// One SMTP run: native/build/smtp_server against native/build/smtp_client
// (`smtp_client --json <ip> <port> <nconns> <nmessages_per_conn> <message_bytes>`).
import { paths } from '../paths.js';
import type { SmtpSample, Workload } from '../results/types.js';
import { rusageFromJson, type Rusage } from '../rusage/parse.js';
import { RunFailure } from './echo.js';
import { launch, type Pinning } from './launch.js';
import { Proc } from './process.js';
import { waitForReady } from './ready.js';

/** smtp_server prints a ready line like the echo server's; accept any "... port N". */
export const SMTP_READY = /starting on port (\d+)/;

export interface SmtpRunOptions {
  backend: string;
  workload: Workload;
  port: number;
  pinning: Pinning;
  timeoutMs: number;
}

export async function runSmtp(o: SmtpRunOptions): Promise<SmtpSample> {
  const sspec = launch(
    [paths.smtpServer, '-a', '127.0.0.1', '-P', String(o.port), '-b', o.backend],
    o.pinning.server,
  );
  const server = new Proc('smtp_server', sspec.command, sspec.args);
  let client: Proc | undefined;
  try {
    let port: number;
    try {
      port = await waitForReady(server, SMTP_READY, 10_000);
    } catch (err) {
      throw new RunFailure((err as Error).message, server.stderrTail.get());
    }
    const w = o.workload;
    const cspec = launch(
      [paths.smtpClient, '--json', '127.0.0.1', String(port), String(w.conns), String(w.txns), String(w.size)],
      o.pinning.client,
    );
    client = new Proc('smtp_client', cspec.command, cspec.args);
    const exit = await client.wait(o.timeoutMs);
    if (!exit) throw new RunFailure(`smtp_client did not finish within ${o.timeoutMs / 1000} s (killed)`, client.stderrTail.get());
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(client.stdout.trim()) as Record<string, unknown>;
    } catch {
      throw new RunFailure(`smtp_client ${client.describeExit()} and printed no JSON object`, client.stderrTail.get());
    }
    const n = (k: string): number => {
      const v = obj[k];
      if (typeof v !== 'number') throw new RunFailure(`smtp_client --json: "${k}" missing`, client?.stderrTail.get() ?? []);
      return v;
    };
    const sample: SmtpSample = {
      messages: n('messages'),
      errors: n('errors'),
      wall_us: n('wall_us'),
      msg_per_s: n('msg_per_s'),
      server_rusage: null as Rusage | null,
    };
    try {
      sample.server_rusage = rusageFromJson(obj.server, 'smtp_client "server"');
    } catch {
      sample.server_rusage = null;
    }
    if (exit.code !== 0 || sample.errors > 0) {
      throw new RunFailure(`smtp_client ${client.describeExit()}, ${sample.errors} error(s)`, client.stderrTail.get(), 0, sample.errors);
    }
    return sample;
  } finally {
    if (client) await client.reap();
    await server.reap(client ? 3000 : 0);
  }
}
