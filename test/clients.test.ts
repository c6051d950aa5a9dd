// Many client processes as one load (issue 11): the histogram export and its
// exact merge, the split of connections, the merged figures, unique payloads
// (a server that swaps replies between connections must be caught), and
// `echo --clients N` end to end. Ephemeral ports; every process is reaped.
import { join } from 'node:path';
import t from 'tap';
import { parseEchoOptions, type RawEchoOptions } from '../cli/commands/echo.js';
import { cpuList } from '../cli/commands/parse.js';
import { ROOT } from '../cli/paths.js';
import { histPercentile, latencySummaryUs, mergeHists, parseHist, type LatencyHist } from '../cli/stats/latency-hist.js';
import { clientCpu, formatCpus, resolvePinning } from '../cli/workload/launch.js';
import { mergeClientReports, parseClientReport, splitConnections, type ClientReport } from '../cli/workload/merge.js';
import { echoClient, startServer } from './fault-helpers.js';
import { cliMissing, echoMissing, processesWithMarker, runCli } from './helpers.js';

const SWAP_SERVER = join(ROOT, 'test', 'fixtures', 'swap-server.mjs');
const noEcho = echoMissing() ?? cliMissing();

/** A histogram of these exact values, bucketed like the C one for values < 128 (one value per bucket). */
function smallHist(values: number[]): LatencyHist {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return { total: values.length, min: Math.min(...values), max: Math.max(...values), buckets: [...counts.entries()].sort((a, b) => a[0] - b[0]) };
}

t.test('histogram merge is exact and percentiles are ranks of the merged counts', async (t) => {
  const a = smallHist([1, 2, 3, 4, 5]);
  const b = smallHist([6, 7, 8, 9, 100]);
  const m = mergeHists([a, b]);
  t.same(m, smallHist([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]), 'counts add bucket by bucket');
  t.equal(histPercentile(m, 50), 5, 'p50 of 10 values is the 5th');
  t.equal(histPercentile(m, 90), 9, 'p90 is the 9th');
  t.equal(histPercentile(m, 99.9), 100, 'p99.9 of 10 values is the 10th');
  // Averaging the clients' medians (3 and 8) would say 5.5: not what the merge says.
  t.equal(histPercentile(mergeHists([a, smallHist([8, 8, 8])]), 50), 4, 'the median of the union, not a mean of medians');
  t.same(mergeHists([]), { total: 0, min: 0, max: 0, buckets: [] }, 'nothing merged: empty');
  t.equal(histPercentile(mergeHists([]), 50), 0);
  t.throws(() => parseHist({ total: 3, min: 1, max: 2, buckets: [[1, 1], [2, 1]] }, 'h'), /add up to 2, total says 3/);
  t.throws(() => parseHist({ total: 2, min: 1, max: 2, buckets: [[2, 1], [1, 1]] }, 'h'), /increasing order/);
  t.throws(() => parseHist(undefined, 'h'), /h: missing/);
});

t.test('connections are split as evenly as possible, numbered apart', async (t) => {
  t.same(splitConnections(10, 3), [
    { conns: 4, base: 0 },
    { conns: 3, base: 4 },
    { conns: 3, base: 7 },
  ]);
  t.same(splitConnections(5, 1), [{ conns: 5, base: 0 }]);
  t.same(splitConnections(2, 2), [
    { conns: 1, base: 0 },
    { conns: 1, base: 1 },
  ]);
  t.throws(() => splitConnections(2, 3), /3 clients for 2 connection/);
  t.throws(() => splitConnections(2, 0), /clients must be >= 1/);
});

const rusage = { wall_us: 1000, utime_us: 100, stime_us: 200, maxrss_kib: 3000, ixrss: 0, idrss: 0, isrss: 0, minflt: 10, majflt: 0, nswap: 0, inblock: 0, oublock: 0, msgsnd: 0, msgrcv: 0, nsignals: 0, nvcsw: 5, nivcsw: 1 };
function report(over: Partial<ClientReport>): ClientReport {
  return {
    conns: 2, conn_base: 0, transactions: 100, mismatches: 0, errors: 0, wall_us: 1000, txn_per_s: 100_000, bytes_moved: 2000,
    start_ns: 1_000_000, end_ns: 2_000_000, latency_us: { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
    latency_hist: smallHist([1]), client: rusage, server: null, read_block: 100, write_block: 2, ...over,
  };
}

t.test('merged figures: sums, wall from the first connect to the last reply', async (t) => {
  const m = mergeClientReports([
    report({ start_ns: 1_000_000, end_ns: 3_000_000, transactions: 300, mismatches: 1, latency_hist: smallHist([10, 20, 30]) }),
    report({ start_ns: 1_500_000, end_ns: 5_000_000, transactions: 100, errors: 2, client: { ...rusage, maxrss_kib: 4000 }, latency_hist: smallHist([40]) }),
  ]);
  t.equal(m.clients, 2);
  t.equal(m.transactions, 400);
  t.equal(m.mismatches, 1, 'mismatches add up');
  t.equal(m.errors, 2, 'errors add up');
  t.equal(m.wall_us, 4000, '5 ms - 1 ms');
  t.equal(m.txn_per_s, 100_000, '400 transactions over 4 ms');
  t.equal(m.client_rusage.utime_us, 200, 'client CPU adds up');
  t.equal(m.client_rusage.maxrss_kib, 4000, 'maxrss: the largest');
  t.equal(m.client_read_block, 200);
  t.same(m.latency_hist, smallHist([10, 20, 30, 40]), 'the histograms merged');
  t.equal(m.latency_us.p50, 0, '20 ns is 0.0 us');
  const two = [report({ start_ns: 0, end_ns: 1_000_000 }), report({ start_ns: 0, end_ns: 1_000_000 })];
  t.equal(mergeClientReports(two, [0, 500_000]).wall_us, 1500, 'an offset moves both ends of that client');
});

t.test('CPU lists and client pinning', async (t) => {
  t.same(cpuList('--client-cpus', '1-3,0,2'), [0, 1, 2, 3]);
  t.equal(cpuList('--client-cpus', undefined), undefined);
  t.throws(() => cpuList('--client-cpus', 'one'), /--client-cpus must be a CPU list/);
  t.throws(() => cpuList('--client-cpus', '3-1'), /runs backwards/);
  t.equal(formatCpus([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
  t.throws(() => resolvePinning(undefined, false, { clients: [100_000] }), /--client-cpus: CPU 100000 does not exist/);
  t.throws(() => resolvePinning(undefined, true, { clients: [0] }), /--no-pin cannot be combined/);
  const p = { server: 0, client: 1, clientCpus: [1, 2] };
  t.same([0, 1, 2].map((i) => clientCpu(p, i)), [1, 2, 1], 'clients take the CPUs in turn');
});

t.test('--clients validation', async (t) => {
  const base: RawEchoOptions = { conns: '4', txns: '10', size: '100', server: 'coro', runs: '1', warmup: '0', port: '0', timeout: '120' };
  t.equal(parseEchoOptions(base).clients, 1, 'one client by default');
  t.equal(parseEchoOptions({ ...base, clients: '4' }).clients, 4);
  t.throws(() => parseEchoOptions({ ...base, clients: '0' }), /--clients must be between 1 and/);
  t.throws(() => parseEchoOptions({ ...base, clients: '5' }), /--clients 5 is more than the 4 connection/);
  t.throws(() => parseEchoOptions({ ...base, clients: '2', raw: true }), /cannot be combined with --clients/);
});

t.test('echo_client exports its histogram; one client merged equals its own report', { skip: noEcho }, async (t) => {
  const srv = await startServer(t, []);
  const r = await echoClient(srv.port, 5, 40, 100, ['--conn-base', '7']);
  t.equal(r.code, 0, `echo_client exits 0 ${r.stderr}`);
  const rep = parseClientReport(JSON.stringify(r.json));
  t.equal(rep.conn_base, 7);
  t.equal(rep.latency_hist.total, 200, 'every transaction is in the histogram');
  t.ok(rep.end_ns > rep.start_ns, 'start and end on the monotonic clock');
  t.ok(Math.abs((rep.end_ns - rep.start_ns) / 1000 - rep.wall_us) <= 1, 'wall_us is end - start');
  const mine = latencySummaryUs(rep.latency_hist);
  for (const k of ['p50', 'p90', 'p99', 'p999', 'max'] as const) {
    t.ok(Math.abs(mine[k] - rep.latency_us[k]) <= 0.1, `${k}: the merge's ${mine[k]} us is the client's ${rep.latency_us[k]} us`);
  }
});

t.test('unique payloads: a server swapping replies between connections i and i+26 is caught', { skip: noEcho }, async (t) => {
  // The fixture pairs connections by accept order; with 52 connections each
  // one has a partner 26 away, whose line it gets instead of its own. The
  // payload pattern of old repeated every 26 connections, so those swapped
  // lines were byte-identical and passed.
  const srv = await startServer(t, [SWAP_SERVER, '26'], { program: process.execPath });
  const r = await echoClient(srv.port, 52, 5, 100, ['--no-bench']);
  t.equal(r.code, 1, 'echo_client fails');
  t.equal(r.json?.transactions, 260, 'every transaction was answered');
  t.ok((r.json?.mismatches ?? 0) > 0, `and mismatches are counted (${r.json?.mismatches} of 260)`);
  t.match(r.stderr, /mismatched transactions/);
  // The same server answering each connection itself passes: the test sees swaps, not noise.
  const lone = await startServer(t, [SWAP_SERVER, '1000'], { program: process.execPath });
  const ok = await echoClient(lone.port, 4, 5, 100, ['--no-bench']);
  t.equal(ok.code, 0, `no partner, no swap: echo_client exits 0 ${ok.stderr}`);
  t.match(ok.json, { transactions: 20, mismatches: 0, errors: 0, server: null });
});

t.test('echo --clients 2: the README workload split over two processes', { skip: noEcho }, async (t) => {
  const r = await runCli(['echo', '--conns', '100', '--txns', '100', '--size', '100', '--clients', '2', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(-500)})`);
  const doc = JSON.parse(r.stdout);
  const res = doc.results[0];
  t.equal(res.transactions.median, 10_000, 'all 10,000 transactions');
  t.equal(res.mismatches, 0);
  t.equal(res.errors, 0);
  t.equal(res.samples[0].clients, 2, 'the sample says two clients');
  t.equal(doc.parameters.clients, 2);
  t.ok(res.server_cpu_us_per_txn.median > 0, 'the server figures came from !bench json');
  t.ok(res.latency_us.p50.median > 0 && res.latency_us.p50.median <= res.latency_us.p99.median, 'percentiles from the merged histogram');
  t.match(doc.environment.pinning, /not pinned|2 clients on CPU/);
  t.same(processesWithMarker(r.marker), [], 'no process left behind');
});

t.test('--clients bad input: one error line, exit 2, nothing left running', { skip: cliMissing() }, async (t) => {
  const cases: [string[], RegExp][] = [
    [['--clients', '0'], /--clients must be between 1 and/],
    [['--conns', '2', '--clients', '3'], /--clients 3 is more than the 2 connection/],
    [['--client-cpus', '4096'], /--client-cpus: CPU 4096 does not exist/],
    [['--client-cpus', 'x'], /--client-cpus must be a CPU list/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['echo', ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr.trim(), re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.match(r.stderr, /^error: /);
    t.same(processesWithMarker(r.marker), [], 'nothing left running');
  }
});
