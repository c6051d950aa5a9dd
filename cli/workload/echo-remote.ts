// One echo run with its clients on other hosts (--client-hosts): start the
// server here, bound to an address the hosts can reach (--bind), or load a
// server already running (--target, reached at its address); start every client
// over ssh; let them all connect, then start their transactions together
// (the start barrier); merge their reports on this host's clock, as for
// local client processes, keeping each host's own figures and how well the
// clients' intervals overlapped.
//
// A host that fails (ssh cannot log in, no client binary, the connection or
// the client dies) fails the run at once with one line naming it; every
// other remote client is ended with it (see remote.ts: they exit when their
// stdin closes).
import type { ClientHostsFigures, EchoResult, EchoSample, HostFigures } from '../results/types.js';
import { median } from '../stats/summary.js';
import { askBench } from './bench-query.js';
import { clientArgv, rusageDelta, RunFailure, sampleOf, startServer, stopServer, type EchoRunOptions } from './echo.js';
import { mergeClientReports, parseClientReport, splitConnections, type ClientReport } from './merge.js';
import { overlapOf, RemoteClient, type SshSpec } from './remote.js';
import type { Proc } from './process.js';
import { TreeSampler } from './proc-tree.js';

export interface RemoteClients {
  hosts: string[];
  ssh: SshSpec;
  /** Where the clients find a server started here: the address it is bound to (--bind; none with only --target). */
  serverHost?: string;
}

/** Clock exchanges per client before "go": a few ms over ssh, enough for one quick one. */
const SYNC_ROUNDS = 8;

/** True for an address this host reaches over loopback (the server obeys !shutdown from there only). */
export function isLoopback(addr: string): boolean {
  return /^127\./.test(addr) || addr === '::1' || addr === 'localhost';
}

function tailsOf(clients: RemoteClient[]): string[] {
  return clients.flatMap((c) => c.proc.stderrTail.get().map((l) => `[${c.label}] ${l}`));
}

export async function runEchoRemote(o: EchoRunOptions, r: RemoteClients): Promise<EchoSample> {
  const perHost = o.clients ?? 1;
  const n = r.hosts.length * perHost;
  const shares = splitConnections(o.workload.conns, n);
  const target = o.config.server === 'target' ? o.config.custom : undefined;
  if (!target && (o.config.server === 'cmd' || !r.serverHost)) {
    throw new RunFailure(`${o.config.server === 'cmd' ? 'a --server-cmd server' : 'a server started here without --bind'} cannot be loaded from --client-hosts`, []);
  }
  let server: Proc | undefined;
  let port: number;
  const host = target ? (target.host as string) : (r.serverHost as string);
  if (target) {
    port = target.port as number;
  } else {
    const started = await startServer(o.config, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs, [], o.bind);
    server = started.proc;
    port = started.port;
  }
  const sampler = server ? new TreeSampler(server.pid as number).start() : undefined;
  // A --target counts its figures from its own start: the run's share is the
  // difference of two readings (as for local clients).
  const targetBefore = target ? await askBench(host, port, false) : undefined;
  const clients: RemoteClient[] = [];
  const deadline = Date.now() + o.timeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());
  const hostFailure = (c: RemoteClient, started: boolean): RunFailure =>
    new RunFailure(`client host ${c.host}: ${c.failure(started)}`, tailsOf([c]));
  let serverGrace = 3000;
  try {
    for (const [i, share] of shares.entries()) {
      const h = Math.floor(i / perHost);
      const label = perHost > 1 ? `${r.hosts[h]} client ${(i % perHost) + 1}/${perHost}` : r.hosts[h];
      const extra = ['--json', '--no-bench', '--barrier', '--conn-base', String(share.base)];
      const argv = clientArgv(o.config, port, { ...o.workload, conns: share.conns }, extra, host, r.ssh.clientPath);
      clients.push(new RemoteClient(r.hosts[h], label, r.ssh, argv));
    }

    // The barrier: every client has opened its connections ...
    const ready = await Promise.all(clients.map((c) => c.waitFor(() => c.ready !== undefined, left())));
    const notReady = clients.find((_, i) => !ready[i]);
    if (notReady) throw hostFailure(notReady, false);
    // ... their clocks are compared with ours (the quickest of a few
    // exchanges; the offsets put all reports on our clock) ...
    const synced = await Promise.all(clients.map((c) => c.syncClock(SYNC_ROUNDS, left())));
    const noSync = clients.find((_, i) => !synced[i]);
    if (noSync) throw hostFailure(noSync, false);
    // ... then all start at once; each acknowledges with its clock reading.
    for (const c of clients) c.sendGo();
    const acked = await Promise.all(clients.map((c) => c.waitFor(() => c.go !== undefined, left())));
    const noAck = clients.find((_, i) => !acked[i]);
    if (noAck) throw hostFailure(noAck, true);

    // The run: the first client that dies (not one that reports mismatches
    // or failed connections, exit status 1 with its report) ends it.
    const dead = new Promise<RemoteClient>((resolve) => {
      for (const c of clients) void c.proc.exited.then((e) => (e.code === 0 || e.code === 1 ? undefined : resolve(c)));
    });
    const first = await Promise.race([
      dead,
      Promise.all(clients.map((c) => c.proc.exited)).then(() => undefined),
      new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), left()).unref()),
    ]);
    if (first === 'late') {
      const late = clients.filter((c) => !c.proc.exit);
      throw new RunFailure(`${late.map((c) => `client host ${c.label}`).join(', ')} did not finish within ${o.timeoutMs / 1000} s (ended)`, tailsOf(late));
    }
    if (first) throw hostFailure(first, true);
    const peak = sampler?.stop() ?? { peak_rss_kib: Number.NaN, peak_cpu_percent: Number.NaN };
    if (server?.exit) throw new RunFailure(`${server.label} ${server.describeExit()} during the run`, server.stderrTail.get());

    const reports: ClientReport[] = [];
    for (const c of clients) {
      try {
        reports.push(parseClientReport(c.reportText()));
      } catch (err) {
        throw new RunFailure(`client host ${c.label}: ${(err as Error).message}`, tailsOf([c]));
      }
    }
    const clocks = clients.map((c) => c.clockOffset() as { offsetNs: number; uncertaintyNs: number });
    const offsets = clocks.map((k) => k.offsetNs);

    // Bound to an address other than loopback, our server refuses !shutdown
    // from us: it is stopped by signal, at once. A --target is never stopped.
    const shutdown = !target && isLoopback(host);
    const answer = await askBench(host, port, shutdown);
    if (!shutdown) serverGrace = 0;
    let figures: { rusage: EchoSample['server_rusage']; source?: string };
    if (!target) {
      if (!answer.rusage) throw new RunFailure(`server figures missing: ${answer.missing}`, server?.stderrTail.get() ?? []);
      figures = { rusage: answer.rusage };
    } else if (answer.rusage && targetBefore?.rusage) {
      figures = { rusage: rusageDelta(targetBefore.rusage, answer.rusage) };
    } else {
      figures = { rusage: null, source: `missing: ${targetBefore?.missing ? `before the run: ${targetBefore.missing}` : answer.missing}` };
    }

    const sample: EchoSample = {
      ...sampleOf(reports, figures, { rss: peak.peak_rss_kib, cpu: peak.peak_cpu_percent }, offsets),
      clients: reports.length,
      client_hosts: hostFigures(r.hosts, clients, reports, clocks),
    };
    if (sample.mismatches > 0 || sample.errors > 0) {
      const bad = clients.filter((c) => c.proc.exit?.code !== 0);
      throw new RunFailure(
        `${bad.length > 0 ? bad.map((c) => `client host ${c.label}`).join(', ') : `${n} remote echo_clients`}: ${sample.mismatches} mismatched transaction(s), ${sample.errors} failed connection(s)`,
        tailsOf(bad.length > 0 ? bad : clients),
        sample.mismatches,
        sample.errors,
      );
    }
    return sample;
  } finally {
    sampler?.stop();
    await Promise.all(clients.map((c) => c.end()));
    if (server) await stopServer(server, serverGrace);
  }
}

/** Below this median overlap, a result's merged txn/s is said to understate the full load. */
const OVERLAP_WARN_PERCENT = 90;

/** One warning per result whose client hosts overlapped poorly (median over its runs). */
export function overlapWarnings(rs: EchoResult[]): string[] {
  const out: string[] = [];
  for (const r of rs) {
    const xs = r.samples.flatMap((s) => (s.client_hosts ? [s.client_hosts.overlap_percent] : []));
    if (xs.length === 0) continue;
    const m = median(xs);
    if (m < OVERLAP_WARN_PERCENT) {
      out.push(`${r.name}: the client hosts overlapped ${m.toFixed(1)} % of the measured span (median): the merged txn/s understates the full load; run longer (docs/hosts.md)`);
    }
  }
  return out;
}

/** Each host's processes merged on our clock, and how all the processes overlapped. */
function hostFigures(
  hosts: string[],
  clients: RemoteClient[],
  reports: ClientReport[],
  clocks: { offsetNs: number; uncertaintyNs: number }[],
): ClientHostsFigures {
  const intervals = reports.map((rep, i) => ({ start_ns: rep.start_ns + clocks[i].offsetNs, end_ns: rep.end_ns + clocks[i].offsetNs }));
  const firstStart = Math.min(...intervals.map((x) => x.start_ns));
  const figures: HostFigures[] = hosts.map((host) => {
    const idx = clients.map((c, i) => (c.host === host ? i : -1)).filter((i) => i >= 0);
    const m = mergeClientReports(
      idx.map((i) => reports[i]),
      idx.map((i) => clocks[i].offsetNs),
    );
    // One host, one clock: its best estimate is the exchange that was quickest.
    const best = idx.reduce((a, i) => (clocks[i].uncertaintyNs < clocks[a].uncertaintyNs ? i : a), idx[0]);
    return {
      host,
      clients: idx.length,
      conns: idx.reduce((a, i) => a + reports[i].conns, 0),
      transactions: m.transactions,
      mismatches: m.mismatches,
      errors: m.errors,
      wall_us: m.wall_us,
      txn_per_s: m.txn_per_s,
      latency_us: m.latency_us,
      client_cpu_us: m.client_rusage.utime_us + m.client_rusage.stime_us,
      start_after_first_us: Math.round((Math.min(...idx.map((i) => intervals[i].start_ns)) - firstStart) / 1000),
      clock_offset_us: Math.round(clocks[best].offsetNs / 1000),
      clock_uncertainty_us: Math.round(clocks[best].uncertaintyNs / 1000),
    };
  });
  return {
    ...overlapOf(intervals),
    clock_uncertainty_us: Math.round(Math.max(...clocks.map((k) => k.uncertaintyNs)) / 1000),
    hosts: figures,
  };
}
