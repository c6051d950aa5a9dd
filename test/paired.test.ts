// Paired statistics of interleaved runs (cli/stats/paired.ts), the short-run
// warning, and the trend's points and verdicts (cli/trend/), on synthetic
// data: no process is run.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bootstrapRatioOfMedians } from '../cli/gate/bootstrap.js';
import { makeBaseline } from '../cli/gate/baseline.js';
import { seededRandom } from '../cli/gate/rng.js';
import type { EchoResult, Environment, Failure } from '../cli/results/types.js';
import { pairedRatio, pairedTxnRatio, sampleRuns } from '../cli/stats/paired.js';
import { summarize } from '../cli/stats/summary.js';
import { MIN_RUN_WALL_MS, shortRunWarning } from '../cli/stats/warnings.js';
import { loadPoints } from '../cli/trend/points.js';
import { buildSeries, selected, trendVerdict } from '../cli/trend/series.js';
import { lineChart, trendTables } from '../cli/trend/render.js';

/** Rounds that share a machine-wide drift (x0.6..x1.4), the configurations differing by a fixed 10 % plus 2 % noise each. */
function drifting(rounds: number): { a: number[]; b: number[] } {
  const r = seededRandom(99);
  const a: number[] = [];
  const b: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const drift = 0.6 + 0.8 * r();
    a.push(110_000 * drift * (1 + 0.02 * (2 * r() - 1)));
    b.push(100_000 * drift * (1 + 0.02 * (2 * r() - 1)));
  }
  return { a, b };
}

t.test('paired ratio: the median of per-pair ratios, and a narrower interval under shared drift', async (t) => {
  const { a, b } = drifting(20);
  const p = pairedRatio(a, b, { seedLabel: 'x' });
  t.equal(p.pairs, 20);
  t.ok(Math.abs(p.ratio - 1.1) < 0.02, `ratio ${p.ratio} is about 1.1`);
  t.ok(p.interval && p.interval.low < 1.1 && p.interval.high > 1.1, 'the interval holds the true ratio');
  const u = bootstrapRatioOfMedians(a, b, { random: seededRandom(1) });
  const pw = (p.interval?.high ?? 0) - (p.interval?.low ?? 0);
  t.ok(pw < (u.high - u.low) / 3, `paired width ${pw.toFixed(3)} is far below the unpaired ${(u.high - u.low).toFixed(3)}`);
  t.same(pairedRatio(a, b, { seedLabel: 'x' }), p, 'seeded: reproducible');
  t.equal(pairedRatio([2], [1], { seedLabel: 'x' }).interval, undefined, 'one pair: no interval');
  t.throws(() => pairedRatio([1, 2], [1], { seedLabel: 'x' }), /as many numerators as denominators/);
});

const echo = (name: string, txn: number[], failed = 0): EchoResult =>
  ({ type: 'echo', name, failed_runs: failed, runs: txn.length, samples: txn.map((x) => ({ txn_per_s: x })), txn_per_s: summarize(txn) }) as unknown as EchoResult;

t.test('pairs are matched by run number: a failed run drops its round', async (t) => {
  const failures: Failure[] = [
    { config: 'a', run: 2, warmup: false, error: 'x', stderr_tail: [] },
    { config: 'a', run: 0, warmup: true, error: 'x', stderr_tail: [] },
  ];
  t.same(sampleRuns(echo('a', [1, 3, 4], 1), failures), [1, 3, 4]);
  t.same(sampleRuns(echo('b', [1, 2, 3, 4]), failures), [1, 2, 3, 4]);
  // Round 2 of b (value 100) has no partner: with it, index pairing would give a ratio of 0.2.
  const a = echo('a', [20, 20, 20], 1);
  const b = echo('b', [10, 100, 10, 10]);
  const p = pairedTxnRatio(a, b, failures, 'a');
  t.equal(p?.pairs, 3);
  t.equal(p?.ratio, 2);
  t.equal(pairedTxnRatio(a, b, undefined, 'a'), undefined, 'failed runs and no failure list: cannot pair');
});

t.test('a run under the minimum wall time gets a warning with more transactions', async (t) => {
  const w = shortRunWarning('coro/epoll', summarize([20_000, 21_000, 22_000]), 20);
  t.equal(w.length, 1);
  t.match(w[0], new RegExp(`coro/epoll: a run takes 21\\.0 ms \\(median\\), under the ${MIN_RUN_WALL_MS} ms .*--txns 191`));
  t.same(shortRunWarning('x', summarize([250_000]), 20), [], 'a long enough run: nothing');
  t.same(shortRunWarning('x', summarize([]), 20), [], 'no run: nothing');
});

const env = (date: string, commit: string | null, commitDate: string | null): Environment =>
  ({ date, host: 'h', os: 'Linux', kernel: 'k', arch: 'x64', cpu_model: 'c', cpus: 2, node: 'v20', coro_version: '0.1.0', coro_arch: 'x', build_flags: 'cc', tls_library: null, pinning: 'p', open_files_limit: 1, commit, commit_date: commitDate }) as Environment;

t.test('trend: points in commit order, judged against the oldest with the gate threshold', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-trend-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base = (date: string, commit: string | null, cdate: string | null, instr: number, bytes: number) =>
    makeBaseline({
      date: new Date(date),
      profile: 'gate',
      build: 'native/build',
      environment: env(date, commit, cdate),
      metrics: [
        { id: 'instructions_per_txn/coro/epoll', label: 'instructions per transaction', kind: 'noise-free', better: 'lower', unit: 'instructions', method: 'm', samples: [instr], exact: 'instructions', spread: { max_pct: 0.1, values: [instr, instr], conditions: ['a', 'b'] } },
        { id: 'bytes_copied_per_switch/0B', label: 'bytes copied', kind: 'noise-free', better: 'lower', unit: 'bytes', method: 'm', samples: [bytes], exact: 'integer' },
      ],
    });
  mkdirSync(join(dir, 'run-2'));
  // Written out of order; the commit dates decide (the second was measured later but is the older commit).
  writeFileSync(join(dir, 'a.json'), JSON.stringify(base('2026-12-01T10:00:00Z', 'aaaa1111', '2026-11-30T09:00:00Z', 500, 64)));
  writeFileSync(join(dir, 'run-2', 'b.json'), JSON.stringify(base('2026-12-02T10:00:00Z', 'bbbb2222', '2026-11-29T09:00:00Z', 500, 64)));
  writeFileSync(join(dir, 'c.json'), JSON.stringify(base('2026-12-03T10:00:00Z', 'cccc3333+dirty', '2026-12-01T09:00:00Z', 510, 64)));
  writeFileSync(join(dir, 'd.json'), JSON.stringify(base('2026-12-04T10:00:00Z', null, null, 503, 72)));
  writeFileSync(join(dir, 'notes.json'), '{"hello": 1}');
  const { points, skipped } = loadPoints([dir]);
  t.same(points.map((p) => p.commit), ['bbbb2222', 'aaaa1111', 'cccc3333+dirty', null], 'ordered by commit date, then by measurement date');
  t.equal(skipped.length, 1);
  t.match(skipped[0], /notes\.json: not a coro-bench results, check or baseline file/);
  t.throws(() => loadPoints([join(dir, 'notes.json')]), /notes\.json: not a coro-bench/, 'a named file that is not a point is an error');

  const series = buildSeries(points, { metrics: [], thresholdPct: 10 });
  const instr = series.find((s) => s.id === 'instructions_per_txn/coro/epoll');
  t.equal(instr?.threshold_pct, 1, 'the exact count keeps its own threshold: max(3 x 0.1 %, 1 %)');
  t.same(instr?.entries.map((e) => e.verdict), ['reference', 'ok', 'regression', 'ok'], '+2 % would have failed; +0.6 % not');
  const bytes = series.find((s) => s.id === 'bytes_copied_per_switch/0B');
  t.same(bytes?.entries.map((e) => e.verdict), ['reference', 'ok', 'ok', 'regression'], 'an integer count: any change');
  t.same(buildSeries(points, { metrics: ['instructions_per_txn'], thresholdPct: 10 }).map((s) => s.id), ['instructions_per_txn/coro/epoll'], 'selected by prefix');
  t.ok(selected('instructions_per_txn/coro/epoll', ['instructions_per_txn/coro/epoll']));
  t.notOk(selected('instructions_per_txn_x/coro', ['instructions_per_txn']));
  t.equal(trendVerdict(1.2, 10), 'regression');
  t.equal(trendVerdict(1 / 1.2, 10), 'improved');
  t.equal(trendVerdict(1.0001, 0), 'regression', 'threshold 0: any change');

  const table = trendTables([instr!])[0];
  t.same(table.rows.map((r) => r[0]), ['bbbb2222', 'aaaa1111', 'cccc3333+dirty', '-'], 'short commits; "-" when not recorded');
  t.same(table.rows.map((r) => r[6]), ['reference', 'ok', 'WOULD FAIL', 'ok']);
  const svg = lineChart(instr!);
  t.match(svg, /<svg [^>]*role="img"/);
  t.equal((svg.match(/class="fail"/g) ?? []).length, 2, 'one failing point, and the legend\'s marker');
  t.match(svg, />instructions<\/text>/, 'y axis labelled with the unit');
  t.match(svg, /gate band \(1 %\)/, 'the band in the legend');
});
