// One echo run with its clients on other hosts (--client-hosts): start the
// server here, bound to an address the hosts can reach; start every client
// over ssh; let them all connect, then start their transactions together
// (the start barrier); merge their reports on this host's clock, as for
// local client processes, keeping each host's own figures and how well the
// clients' intervals overlapped.
//
// A host that fails (ssh cannot log in, no client binary, the connection or
// the client dies) fails the run at once with one line naming it; every
// other remote client is ended with it (see remote.ts: they exit when their
// stdin closes).
import type { Rusage } from '../rusage/parse.js';
import type { ClientHostsFigures, EchoSample, HostFigures } from '../results/types.js';
import { askBench } from './bench-query.js';
import { clientArgv, RunFailure, sampleOf, startServer, stopServer, type EchoRunOptions } from './echo.js';
import { mergeClientReports, parseClientReport, splitConnections, type ClientReport } from './merge.js';
import { overlapOf, RemoteClient, type SshSpec } from './remote.js';
import { Sampler } from './sampler.js';

export interface RemoteClients {
  hosts: string[];
  ssh: SshSpec;
  /** Where the clients find the server: the address it is bound to (--bind). */
  serverHost: string;
}

/** Clock exchanges per client before "go": a few ms over ssh, enough for one quick one. */
const SYNC_ROUNDS = 8;

/** True for an address this host reaches over loopback (the server obeys !shutdown from there only). */
function isLoopback(addr: string): boolean {
  return /^127\./.test(addr) || addr === '::1' || addr === 'localhost';
}

function tailsOf(clients: RemoteClient[]): string[] {
  return clients.flatMap((c) => c.proc.stderrTail.get().map((l) => `[${c.label}] ${l}`));
}

export async function runEchoRemote(o: EchoRunOptions, r: RemoteClients): Promise<EchoSample> {
  const perHost = o.clients ?? 1;
  const n = r.hosts.length * perHost;
  const shares = splitConnections(o.workload.conns, n);
  const { proc: server, port } = await startServer(o.config, o.port, o.pinning, o.fileLimit, o.readyTimeoutMs, [], o.bind);
  const sampler = new Sampler(server.pid as number).start();
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
      const argv = clientArgv(o.config, port, { ...o.workload, conns: share.conns }, extra, r.serverHost, r.ssh.clientPath);
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
    const peak = sampler.stop();

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

    const shutdown = isLoopback(r.serverHost);
    const answer = await askBench(r.serverHost, port, shutdown);
    if (!answer.rusage) throw new RunFailure(`server figures missing: ${answer.missing}`, server.stderrTail.get());
    const serverRusage: Rusage = answer.rusage;
    // Bound to an address other than loopback, the server refuses !shutdown
    // from us: it is stopped by signal, at once.
    if (!shutdown) serverGrace = 0;

    const sample: EchoSample = {
      ...sampleOf(reports, serverRusage, { rss: peak.peak_rss_kib, cpu: peak.peak_cpu_percent }, offsets),
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
    sampler.stop();
    await Promise.all(clients.map((c) => c.end()));
    await stopServer(server, serverGrace);
  }
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
