// Latency under a fixed offered load (issue 15): --rate parsing and its
// contradictions, the knee, the percentile spectrum, the open-loop merge of
// several clients, and `coro-bench latency` end to end (table, JSON with
// histograms, the HTML page with both charts). Ephemeral ports; every
// process is reaped.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseEchoOptions, type RawEchoOptions } from '../cli/commands/echo.js';
import { parseLatencyOptions, type RawLatencyOptions } from '../cli/commands/latency.js';
import { MAX_RATE_PER_CONN, rateValue } from '../cli/commands/rate.js';
import { spectrumPoints } from '../cli/export/latency-charts.js';
import type { LatencyCurveResult, ResultsDoc } from '../cli/results/types.js';
import { findKnee } from '../cli/stats/knee.js';
import type { LatencyHist } from '../cli/stats/latency-hist.js';
import { rateArg } from '../cli/workload/echo.js';
import { mergeOpenLoop, type OpenLoopReport } from '../cli/workload/open-loop.js';
import { cliMissing, echoMissing, processesWithMarker, runCli } from './helpers.js';

const noEcho = echoMissing() ?? cliMissing();

const echoRaw = (over: Partial<RawEchoOptions>): RawEchoOptions => ({
  conns: '100', txns: '100', size: '100', server: 'coro', runs: '5', warmup: '1', port: '0', timeout: '120', ...over,
});
const latencyRaw = (over: Partial<RawLatencyOptions>): RawLatencyOptions => ({
  server: 'coro', conns: '100', size: '100', duration: '2', port: '0', timeout: '120', ...over,
});

t.test('--rate: numbers > 0 only, the per-connection limit, contradictions', async (t) => {
  t.equal(rateValue('--rate', '2500'), 2500);
  t.equal(rateValue('--rate', '0.5'), 0.5);
  t.equal(rateValue('--rate', '2e3'), 2000);
  for (const bad of ['0', '-5', 'abc', '', '1,000', 'Infinity', 'NaN', '0x10']) {
    t.throws(() => rateValue('--rate', bad), /--rate must be a number of transactions a second > 0/, `"${bad}" refused`);
  }
  t.equal(parseEchoOptions(echoRaw({ rate: '5000' })).rate, 5000, 'echo --rate kept');
  t.equal(parseEchoOptions(echoRaw({})).rate, undefined, 'no --rate: closed loop');
  t.throws(() => parseEchoOptions(echoRaw({ conns: '1', txns: '1', rate: String(MAX_RATE_PER_CONN + 1) })), /per connection; the limit is 100,000/);
  t.doesNotThrow(() => parseEchoOptions(echoRaw({ conns: '1', txns: '1', rate: String(MAX_RATE_PER_CONN) })), 'exactly the limit is fine');
  t.throws(() => parseEchoOptions(echoRaw({ rate: '100', raw: true })), /--rate cannot be combined with --raw/);
  t.throws(() => parseEchoOptions(echoRaw({ rate: '1' })), /10000 s schedule, longer than --timeout 120 s/);
  t.equal(rateArg(1234.5), '1234.5');
  t.equal(rateArg(1e-7 + 3), '3', 'plain decimal for echo_client, no exponent');
  t.equal(rateArg(2e21 / 1e15), '2000000');
});

t.test('latency options: defaults, fractions or rates, spectrum among the points', async (t) => {
  const d = parseLatencyOptions(latencyRaw({}));
  t.same(d.fractions, [0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.1], 'default fractions 10..110 %');
  t.same(d.spectrum, [0.5, 0.9, 1.0]);
  t.equal(d.maxRuns, 3);
  const r = parseLatencyOptions(latencyRaw({ rates: '1000,5000', spectrum: '5000' }));
  t.same(r.rates, [1000, 5000]);
  t.equal(r.fractions, undefined);
  t.same(parseLatencyOptions(latencyRaw({ fractions: '20,60' })).spectrum, [0.6], 'default spectrum falls back to a measured point');
  t.throws(() => parseLatencyOptions(latencyRaw({ fractions: '10', rates: '100' })), /either --fractions .* or --rates/);
  t.throws(() => parseLatencyOptions(latencyRaw({ rates: '100', maxRuns: '2' })), /--max-runs and --max-txns size the closed-loop maximum/);
  t.throws(() => parseLatencyOptions(latencyRaw({ spectrum: '30' })), /--spectrum 30 is not among the measured --fractions/);
  t.throws(() => parseLatencyOptions(latencyRaw({ fractions: '0' })), /percentages of the closed-loop maximum in \(0, 1000\]/);
  t.throws(() => parseLatencyOptions(latencyRaw({ fractions: '10,10' })), /lists a value twice/);
  t.throws(() => parseLatencyOptions(latencyRaw({ rates: '-3' })), /--rates must be a number of transactions a second > 0/);
  t.throws(() => parseLatencyOptions(latencyRaw({ rates: '1e9' })), /the limit is 100,000/);
  t.throws(() => parseLatencyOptions(latencyRaw({ duration: '0' })), /--duration must be a number of seconds/);
  t.throws(() => parseLatencyOptions(latencyRaw({ duration: '200' })), /longer than --timeout 120 s/);
});

t.test('the knee: highest load whose p99 stays under 2x the lightest load', async (t) => {
  const pts = (p99s: (number | undefined)[]) => p99s.map((p99, i) => ({ offered_per_s: (i + 1) * 1000, fraction: (i + 1) / 10, p99_us: p99 }));
  const k = findKnee(pts([100, 120, 150, 199, 250, 180]));
  t.same(k.knee, { offered_per_s: 4000, fraction: 0.4, p99_us: 199, base_p99_us: 100 }, 'stops at the first point at or over 2x; a later dip does not count');
  t.same(findKnee(pts([100, 300])).knee, { offered_per_s: 1000, fraction: 0.1, p99_us: 100, base_p99_us: 100 }, 'the lightest load itself when the next is over');
  t.same(findKnee(pts([100, undefined, 110])).knee?.offered_per_s, 1000, 'a failed point ends the curve');
  const none = findKnee(pts([undefined, 100]));
  t.equal(none.knee, null);
  t.match(none, { missing: /has no p99/ });
  t.same(findKnee([]).knee, null);
  const unsorted = findKnee([{ offered_per_s: 3000, fraction: null, p99_us: 150 }, { offered_per_s: 1000, fraction: null, p99_us: 100 }]);
  t.equal(unsorted.knee?.offered_per_s, 3000, 'points are taken in order of offered load');
});

t.test('percentile spectrum points from a histogram', async (t) => {
  const h: LatencyHist = { total: 100, min: 10_000, max: 500_000, buckets: [[10_000, 90], [100_000, 9], [600_000, 1]] };
  const pts = spectrumPoints(h);
  t.same(pts[0], { x: 1, us: 10 }, 'starts at percentile 0 (1/(1-0) = 1)');
  const near = (q: { x: number; us: number }, x: number, us: number): boolean => Math.abs(q.x - x) < 1e-9 && q.us === us;
  t.ok(near(pts[1], 10, 10), '90 % of values at or below 10 us: x = 1/(1-0.9)');
  t.ok(near(pts[3], 100, 100), '99 %: x = 100');
  t.same(pts[pts.length - 1], { x: 100, us: 500 }, 'the last bucket is clamped to the exact max, drawn at x = total');
});

t.test('open-loop figures of several clients merge exactly', async (t) => {
  const hist = (pairs: [number, number][]): LatencyHist => ({
    total: pairs.reduce((a, p) => a + p[1], 0), min: pairs[0][0], max: pairs[pairs.length - 1][0], buckets: pairs,
  });
  const part = (over: Partial<OpenLoopReport>): OpenLoopReport => ({
    offered_per_s: 500, achieved_per_s: 499, start_ns: 1e9, end_ns: 3e9, client_kept_schedule: true, kept_schedule_p99_us: 1000,
    service_us: { p50: 1, p90: 1, p99: 1, p999: 1, max: 1 }, lag_us: { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 }, client_hiccup_us: { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
    service_hist: hist([[50_000, 10]]), lag_hist: hist([[0, 10]]), client_hiccup_hist: hist([[0, 10]]), ...over,
  });
  const a = part({});
  const b = part({ start_ns: 2e9, end_ns: 5e9, service_hist: hist([[50_000, 5], [90_000, 5]]), client_hiccup_hist: hist([[0, 8], [5_000_000, 2]]) });
  const m = mergeOpenLoop([a, b], 2000, hist([[1, 2000]]));
  t.equal(m.offered_per_s, 1000, 'offered rates add up');
  t.equal(m.achieved_per_s, 500, '2000 transactions over the union of the spans (1 s .. 5 s)');
  t.same(m.service_hist_ns.buckets, [[50_000, 15], [90_000, 5]], 'service histograms add bucket by bucket');
  t.equal(m.service_us.p90, 90, 'percentiles of the merge');
  t.equal(m.client_kept_schedule, false, 'the merged hiccups (2 of 20 above 1 ms: p99 5 ms) decide, not each client alone');
  const one = mergeOpenLoop([a], 10, hist([[1, 10]]));
  t.equal(one.achieved_per_s, 499, 'one client: its own figure as printed');
});

t.test('coro-bench echo/latency bad input: one error line, exit 2', { skip: noEcho }, async (t) => {
  const cases: [string[], RegExp][] = [
    [['echo', '--rate', '0'], /--rate must be a number/],
    [['echo', '--rate', '-5'], /--rate must be a number/],
    [['echo', '--rate', 'fast'], /--rate must be a number/],
    [['echo', '--conns', '1', '--txns', '1', '--rate', '200000'], /the limit is 100,000/],
    [['echo', '--rate', '100', '--raw'], /--rate cannot be combined with --raw/],
    [['latency', '--fractions', '10', '--rates', '100'], /either --fractions/],
    [['latency', '--rates', 'x'], /--rates must be a number/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(args, { timeoutMs: 30_000 });
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line (${JSON.stringify(r.stderr)})`);
    t.match(r.stderr, /^error: /);
    t.equal(r.stdout, '', 'nothing on stdout');
  }
});

t.test('coro-bench latency end to end: table, JSON with histograms, HTML with both charts', { skip: noEcho }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-latency-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, 'curve.html');
  const args = ['latency', '--server', 'coro,epoll', '--conns', '10', '--fractions', '25,100', '--spectrum', '25,100', '--duration', '0.5', '--max-runs', '1', '--max-txns', '100'];
  const r = await runCli([...args, '--json', '--export', html], { timeoutMs: 180_000 });
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr})`);
  t.same(processesWithMarker(r.marker), [], 'no process left');
  const doc = JSON.parse(r.stdout) as ResultsDoc;
  t.equal(doc.command, 'latency');
  const curves = doc.results.filter((x): x is LatencyCurveResult => x.type === 'latency');
  t.same(curves.map((c) => c.name), ['coro/epoll', 'epoll'], 'one curve per server');
  for (const c of curves) {
    t.ok(c.closed_loop_per_s && c.closed_loop_per_s.median > 0, `${c.name}: closed-loop maximum measured first`);
    t.equal(c.points.length, 2, `${c.name}: a point per fraction`);
    for (const p of c.points) {
      t.notOk(p.error, `${c.name} at ${p.fraction}: measured (${p.error ?? ''})`);
      t.ok(Math.abs(p.offered_per_s - (p.fraction as number) * (c.closed_loop_per_s?.median ?? 0)) < 1e-6, 'offered = fraction x maximum');
      t.ok(p.latency_hist_ns && p.latency_hist_ns.total === p.transactions && p.latency_hist_ns.buckets.length > 0, 'corrected histogram kept, one count per transaction');
      t.ok(p.service_hist_ns && p.service_hist_ns.total === p.transactions, 'service histogram kept');
      t.ok(p.latency_us && p.service_us && p.latency_us.p50 >= p.service_us.p50, 'corrected p50 >= service p50');
      t.type(p.client_kept_schedule, 'boolean');
    }
    t.ok(c.knee !== null || typeof c.knee_missing === 'string', `${c.name}: a knee or why there is none`);
  }
  const page = readFileSync(html, 'utf8');
  t.match(page, /Latency against offered load/, 'the curve chart');
  t.match(page, /Percentile spectrum/, 'the spectrum chart');
  t.match(page, /offered load \(transactions\/s, all connections\)/, 'x axis labelled with its unit');
  t.match(page, /99 %/, 'percentile ticks');
  t.ok((page.match(/<path d="M/g) ?? []).length >= 2 * 3 + 4, 'a line per server and percentile, and one per spectrum point');
});
