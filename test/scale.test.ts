// `coro-bench scale` (issue 11): the plan of points (CPUs for workers and
// clients, the too-few-CPUs warning), the rows and their efficiency, and a
// small end-to-end run with its HTML chart. Ephemeral ports; nothing left.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseScaleOptions, type RawScaleOptions } from '../cli/commands/scale.js';
import { planPoints, powersUpTo, scaleRows } from '../cli/engine/scale.js';
import { scaleCharts } from '../cli/export/scale-chart.js';
import type { EchoResult } from '../cli/results/types.js';
import { summarize } from '../cli/stats/summary.js';
import { serverArgv, serverEnv } from '../cli/workload/servers.js';
import { cliMissing, echoMissing, processesWithMarker, runCli } from './helpers.js';

const noEcho = echoMissing() ?? cliMissing();

t.test('worker counts and the plan of CPUs', async (t) => {
  t.same(powersUpTo(1), [1]);
  t.same(powersUpTo(6), [1, 2, 4, 6]);
  t.same(powersUpTo(8), [1, 2, 4, 8]);
  const big = planPoints([1, 2, 4], [0, 1, 2, 3], undefined, 8, undefined, 100, true);
  t.same(big.warnings, [], 'eight CPUs: server and clients apart');
  t.same(big.points.map((p) => [p.workers, p.clients, p.pinning.serverCpus, p.pinning.clientCpus]), [
    [1, 1, [0], [1, 2, 3, 4, 5, 6, 7]],
    [2, 2, [0, 1], [2, 3, 4, 5, 6, 7]],
    [4, 4, [0, 1, 2, 3], [4, 5, 6, 7]],
  ]);
  const small = planPoints([1, 2], [0, 1], undefined, 2, undefined, 100, true);
  t.equal(small.warnings.length, 1, 'two CPUs: one warning line');
  t.match(small.warnings[0], /too few CPUs to keep server and clients apart at 2 worker/);
  t.same(small.points[1].pinning.clientCpus, [0, 1], 'the clients then share the server CPUs');
  t.match(planPoints([1, 4], [0, 1], [2], 3, undefined, 100, true).warnings[0], /4 workers on 2 server CPU/);
  t.same(planPoints([1, 2], [0], undefined, 2, 1, 100, false).points.map((p) => p.pinning), [{}, {}], 'not pinned');
});

function result(name: string, rate: number): EchoResult {
  return { name, runs: 1, txn_per_s: summarize([rate]), server_cpu_us_per_txn: summarize([5]) } as unknown as EchoResult;
}

t.test('rows: efficiency against one worker; missing stays missing', async (t) => {
  const spec = { configs: [{ server: 'coro' as const, backend: 'epoll', tls: false }], points: [1, 2, 4].map((w) => ({ workers: w, clients: w, pinning: {} })) };
  const rows = scaleRows(spec, [result('coro/epoll', 100), result('coro/epoll w2', 150)]);
  t.same(rows.map((r) => [r.workers, r.txn_per_s, r.efficiency]), [
    [1, 100, 1],
    [2, 150, 0.75],
    [4, null, null],
  ]);
  const svg = scaleCharts(rows);
  t.match(svg, /server workers \(processes\)/, 'x axis label');
  t.match(svg, /transactions\/s/, 'y axis label with unit');
  t.match(svg, /efficiency \(%\)/);
  t.match(svg, /coro\/epoll ideal/, 'legend');
  t.equal(scaleCharts(rows.map((r) => ({ ...r, txn_per_s: null, efficiency: null }))), '', 'nothing measured: no chart');
});

t.test('scale options', async (t) => {
  const base: RawScaleOptions = { conns: '10', txns: '10', size: '100', runs: '1', warmup: '0', port: '0', timeout: '60' };
  t.same(parseScaleOptions({ ...base, workers: '4,1,2,2' }).workers, [1, 2, 4]);
  t.throws(() => parseScaleOptions({ ...base, workers: '2,4' }), /--workers must include 1/);
  t.throws(() => parseScaleOptions({ ...base, target: ['127.0.0.1:9'] }), /a --target cannot be scaled/);
  t.throws(() => parseScaleOptions({ ...base, clients: '11' }), /--clients 11 is more than the 10/);
  t.throws(() => parseScaleOptions({ ...base, workers: '0,1' }), /--workers must be between 1 and 256/);
});

t.test('scale end to end: table, JSON rows and the HTML chart', { skip: noEcho }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-bench-scale-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, 'scale.html');
  const r = await runCli(['scale', '--server', 'coro,epoll', '--workers', '1,2', '--conns', '20', '--txns', '50', '--runs', '1', '--warmup', '0', '--export', html]);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-400)})`);
  t.match(r.stdout, /Scaling \(medians; efficiency/);
  t.match(r.stdout, /│ coro\/epoll +│ 2 +│ 2 +│/, 'a row per configuration and worker count');
  const page = readFileSync(html, 'utf8');
  t.match(page, /<svg[^>]*aria-label="Throughput against server workers"/);
  t.match(page, /Scaling efficiency/);
  t.same(processesWithMarker(r.marker), []);
  const j = await runCli(['scale', '--server', 'epoll', '--workers', '1,2', '--conns', '10', '--txns', '20', '--runs', '1', '--warmup', '0', '--json']);
  const doc = JSON.parse(j.stdout);
  t.equal(doc.command, 'scale');
  t.same(doc.scale.map((x: { workers: number }) => x.workers), [1, 2]);
  t.equal(doc.scale[0].efficiency, 1);
  t.ok(doc.scale[1].txn_per_s > 0);
  t.equal(doc.results[1].transactions.median, 200, 'every transaction at 2 workers');
});

t.test('the Go peer scales by GOMAXPROCS, or is left out with the reason', { skip: noEcho }, async (t) => {
  t.equal(serverEnv({ server: 'go', backend: 'netpoll', tls: false, workers: 2 })?.GOMAXPROCS, '2', 'GOMAXPROCS = workers');
  t.equal(serverEnv({ server: 'go', backend: 'netpoll', tls: false }), undefined, 'no --workers: Go\'s own default');
  t.same(serverArgv({ server: 'epoll', backend: 'epoll', tls: false, workers: 3 }, 0).slice(-2), ['-w', '3'], 'the C and Node servers get -w N');
  const r = await runCli(['scale', '--server', 'go', '--workers', '1,2', '--conns', '10', '--txns', '20', '--runs', '1', '--warmup', '0', '--json'], { timeoutMs: 400_000 });
  if (r.code === 2) {
    t.match(r.stderr, /^error: nothing to scale: go /, 'no Go toolchain: says why');
    return;
  }
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-300)})`);
  const doc = JSON.parse(r.stdout);
  t.same(doc.results.map((x: { name: string }) => x.name), ['go', 'go w2']);
  for (const x of doc.results) t.match(x, { mismatches: 0, transactions: { median: 200 } }, x.name);
});
