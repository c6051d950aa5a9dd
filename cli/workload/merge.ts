// Several echo_client processes as one load: their --json reports merged
// into one. Used for `--clients N` on this host, and meant for any other set
// of clients (remote hosts) whose reports have the same shape.
//
// * transactions, mismatches, errors, bytes and the clients' CPU add up;
// * txn/s is all transactions over the wall time from the first connect of
//   any client to the last reply of any client (the clients' start_ns/end_ns
//   are CLOCK_MONOTONIC readings, comparable on one host; a caller with
//   clients on several hosts passes each report's offset to this host's
//   clock);
// * latency percentiles come from the exact merge of the clients' histograms,
//   never from averaging their percentiles.
import type { EchoSample } from '../results/types.js';
import { rusageFromJson, type Rusage } from '../rusage/parse.js';
import { latencySummaryUs, mergeHists, parseHist, type LatencyHist } from '../stats/latency-hist.js';
import { mergeOpenLoop, parseOpenLoop, type OpenLoopReport } from './open-loop.js';

/** One echo_client --json report (docs/programs.md), as the merge needs it. */
export interface ClientReport {
  conns: number;
  conn_base: number;
  transactions: number;
  mismatches: number;
  errors: number;
  wall_us: number;
  txn_per_s: number;
  bytes_moved: number;
  /** CLOCK_MONOTONIC of the first connect and of the last reply. */
  start_ns: number;
  end_ns: number;
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number };
  latency_hist: LatencyHist;
  client: Rusage;
  /** The server's `!bench json` reply when this client asked it, else null. */
  server: unknown;
  read_block: number;
  write_block: number;
  /** With --rate (open loop): the schedule's figures (cli/workload/open-loop.ts). */
  open_loop?: OpenLoopReport;
}

/** The merged load, in the fields of an echo sample (client_rusage: added up, maxrss the largest). */
export type MergedClients = Pick<
  EchoSample,
  'transactions' | 'mismatches' | 'errors' | 'wall_us' | 'txn_per_s' | 'bytes_moved' | 'latency_us' | 'client_rusage' | 'client_read_block' | 'client_write_block' | 'open_loop'
> & { clients: number; latency_hist: LatencyHist };

function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`echo_client --json: "${k}" missing or not a number`);
  return v;
}

/** Parses the one JSON object echo_client --json prints. Throws naming what is wrong. */
export function parseClientReport(stdout: string): ClientReport {
  const text = stdout.trim();
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`echo_client --json printed no valid JSON object: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (!obj || typeof obj !== 'object') throw new Error('echo_client --json printed no JSON object');
  const lat = (obj.latency_us ?? {}) as Record<string, unknown>;
  const latNum = (k: string): number => {
    const v = lat[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`echo_client --json: "latency_us.${k}" missing or not a number`);
    return v;
  };
  return {
    conns: num(obj, 'conns'),
    conn_base: typeof obj.conn_base === 'number' ? obj.conn_base : 0,
    transactions: num(obj, 'transactions'),
    mismatches: num(obj, 'mismatches'),
    errors: num(obj, 'errors'),
    wall_us: num(obj, 'wall_us'),
    txn_per_s: num(obj, 'txn_per_s'),
    bytes_moved: num(obj, 'bytes_moved'),
    start_ns: num(obj, 'start_ns'),
    end_ns: num(obj, 'end_ns'),
    latency_us: { p50: latNum('p50'), p90: latNum('p90'), p99: latNum('p99'), p999: latNum('p999'), max: latNum('max') },
    latency_hist: parseHist(obj.latency_hist_ns, 'echo_client --json "latency_hist_ns"'),
    client: rusageFromJson(obj.client, 'echo_client --json "client"'),
    server: obj.server ?? null,
    read_block: typeof obj.read_block === 'number' ? obj.read_block : 0,
    write_block: typeof obj.write_block === 'number' ? obj.write_block : 0,
    ...(obj.rate !== undefined ? { open_loop: parseOpenLoop(obj) } : {}),
  };
}

/** Adds up the resource usage of several processes (maxrss: the largest one). */
export function sumRusage(rs: Rusage[]): Rusage {
  const out = { ...rs[0] };
  for (const r of rs.slice(1)) {
    for (const k of Object.keys(out) as (keyof Rusage)[]) {
      const a = out[k];
      const b = r[k];
      if (typeof a !== 'number' || typeof b !== 'number') continue;
      out[k] = k === 'maxrss_kib' || k === 'wall_us' ? Math.max(a, b) : a + b;
    }
  }
  return out;
}

/**
 * Merges the reports of clients that ran together. `offsetsNs[i]` is added
 * to report i's clock readings (0 for clients on this host).
 */
export function mergeClientReports(reports: ClientReport[], offsetsNs: number[] = []): MergedClients {
  if (reports.length === 0) throw new Error('no client report to merge');
  const at = (i: number): number => offsetsNs[i] ?? 0;
  const start = Math.min(...reports.map((r, i) => r.start_ns + at(i)));
  const end = Math.max(...reports.map((r, i) => r.end_ns + at(i)));
  const wallNs = end - start;
  const sum = (f: (r: ClientReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
  const transactions = sum((r) => r.transactions);
  const hist = mergeHists(reports.map((r) => r.latency_hist));
  const open = reports.map((r) => r.open_loop).filter((o): o is OpenLoopReport => o !== undefined);
  if (open.length > 0 && open.length < reports.length) throw new Error('cannot merge open-loop (--rate) and closed-loop client reports');
  return {
    clients: reports.length,
    transactions,
    mismatches: sum((r) => r.mismatches),
    errors: sum((r) => r.errors),
    wall_us: reports.length === 1 ? reports[0].wall_us : Math.round(wallNs / 1000),
    // One client: its own figures, exactly as it printed them.
    txn_per_s: reports.length === 1 ? reports[0].txn_per_s : wallNs > 0 ? Math.round((transactions / (wallNs / 1e9)) * 10) / 10 : 0,
    bytes_moved: sum((r) => r.bytes_moved),
    // One client: its own figures, exactly as it printed them.
    latency_us: reports.length === 1 ? reports[0].latency_us : latencySummaryUs(hist),
    latency_hist: hist,
    client_rusage: sumRusage(reports.map((r) => r.client)),
    client_read_block: sum((r) => r.read_block),
    client_write_block: sum((r) => r.write_block),
    ...(open.length > 0 ? { open_loop: mergeOpenLoop(open, transactions, hist, offsetsNs) } : {}),
  };
}

/**
 * How `conns` connections are split among `clients` processes: as evenly as
 * possible (the first conns % clients get one more), each with the id of its
 * first connection so that every connection's payload is distinct.
 */
export function splitConnections(conns: number, clients: number): { conns: number; base: number }[] {
  if (!Number.isInteger(clients) || clients < 1) throw new Error(`clients must be >= 1, got ${clients}`);
  if (clients > conns) throw new Error(`${clients} clients for ${conns} connection(s): at most one client per connection`);
  const q = Math.floor(conns / clients);
  const r = conns % clients;
  const out: { conns: number; base: number }[] = [];
  let base = 0;
  for (let i = 0; i < clients; i++) {
    const n = q + (i < r ? 1 : 0);
    out.push({ conns: n, base });
    base += n;
  }
  return out;
}
