// The regression gate's pieces without running anything: the decision rule on
// synthetic samples, the bootstrap, the baseline loader, the tool-output
// parsers and the gate settings of a profile.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { UsageError } from '../cli/errors.js';
import { BASELINE_SCHEMA, loadBaseline, makeBaseline, parseBaseline, serializeBaseline, writeBaseline } from '../cli/gate/baseline.js';
import { bootstrapRatioOfMedians } from '../cli/gate/bootstrap.js';
import { confirmBorderline, decideNoiseFree, decideTimed, MIN_TIMED_SAMPLES } from '../cli/gate/decide.js';
import { exactThreshold, spreadOf } from '../cli/gate/exact.js';
import { allowMissing, exitStatus, failedRow, judgeMetric, notMeasuredRow, passing, skippedRow, unmeasured } from '../cli/gate/judge.js';
import { perUnit, type Metric } from '../cli/gate/metric.js';
import { seededRandom, seedFor } from '../cli/gate/rng.js';
import { gateSettings, loadGateSettings } from '../cli/gate/settings.js';
import { DEFAULT_SPREAD_RUNS, parseCheckOptions } from '../cli/commands/check.js';
import type { Environment } from '../cli/results/types.js';
import { parseCallgrindTotal } from '../cli/workload/callgrind.js';
import { parseStraceSummary } from '../cli/workload/strace.js';

/** n samples around `center` with relative noise `noise` (uniform, seeded: the tests are reproducible). */
function noisy(center: number, noise: number, n: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => center * (1 + noise * (2 * r() - 1)));
}

const opts = { seedLabel: 'test' };

t.test('seeded random numbers and bootstrap intervals are reproducible', async (t) => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = Array.from({ length: 5 }, () => a());
  t.same(Array.from({ length: 5 }, () => b()), xs, 'same seed, same stream');
  t.ok(xs.every((x) => x >= 0 && x < 1));
  t.not(seedFor('switch_vs_bound/0B'), seedFor('txn_per_s_vs_epoll/coro/epoll'), 'each metric its own stream');
  const num = noisy(110, 0.1, 12, 1);
  const den = noisy(100, 0.1, 12, 2);
  const i1 = bootstrapRatioOfMedians(num, den, { random: seededRandom(7) });
  const i2 = bootstrapRatioOfMedians(num, den, { random: seededRandom(7) });
  t.same(i1, i2, 'same samples and seed, same interval');
  t.ok(i1.low < 1.1 && 1.1 < i1.high, `interval ${i1.low}..${i1.high} holds the true ratio 1.1`);
  t.equal(i1.level, 0.95);
  t.throws(() => bootstrapRatioOfMedians([], den, { random: seededRandom(1) }), RangeError);
});

t.test('timed: no regression', async (t) => {
  const d = decideTimed(noisy(1, 0.05, 15, 1), noisy(1, 0.05, 15, 2), 'lower', 10, opts);
  t.equal(d.verdict, 'ok', d.reason);
  t.ok(d.interval && d.interval.low < 1 && d.interval.high > 1 - 0.1);
});

t.test('timed: a clear regression (30 % slower, 5 % noise)', async (t) => {
  const base = noisy(100, 0.05, 15, 3);
  const d = decideTimed(base, noisy(130, 0.05, 15, 4), 'lower', 10, opts);
  t.equal(d.verdict, 'regression', d.reason);
  t.ok(d.interval && d.interval.low > 1.1, 'the whole interval is beyond +10 %');
  t.ok(Math.abs(d.cost - 1.3) < 0.05, `cost ${d.cost} is about 1.3`);
  // Higher is better (throughput): 25 % fewer txn/s is a cost of 1/0.75.
  const tp = decideTimed(noisy(1000, 0.03, 15, 5), noisy(750, 0.03, 15, 6), 'higher', 10, opts);
  t.equal(tp.verdict, 'regression', tp.reason);
  t.ok(Math.abs(tp.cost - 1 / 0.75) < 0.05);
});

t.test('timed: a noisy non-regression is not an alarm', async (t) => {
  // +12 % on the medians, but noise of +-40 %: the interval straddles the threshold.
  const base = noisy(100, 0.4, 10, 11);
  const cur = base.map((x, i) => x * 1.12 * (i % 2 ? 1.02 : 0.98));
  const d = decideTimed(base, cur, 'lower', 10, opts);
  t.not(d.verdict, 'regression', d.reason);
  t.ok(d.interval && d.interval.low <= 1.1, 'the interval reaches below the threshold');
  // The same on improvement side: noise alone is never "improved" either.
  const same = decideTimed(noisy(100, 0.4, 10, 12), noisy(100, 0.4, 10, 13), 'lower', 10, opts);
  t.equal(same.verdict, 'ok', same.reason);
});

t.test('timed: too few samples cannot decide', async (t) => {
  const few = [1, 2, 3, 4].slice(0, MIN_TIMED_SAMPLES - 1);
  const d = decideTimed(few, noisy(1, 0.01, 10, 1), 'lower', 10, opts);
  t.equal(d.verdict, 'insufficient');
  t.match(d.reason, new RegExp(`at least ${MIN_TIMED_SAMPLES} samples per side \\(baseline ${few.length}, current 10\\)`));
  t.equal(decideTimed(noisy(1, 0.01, 10, 1), [], 'lower', 10, opts).verdict, 'insufficient');
  t.equal(decideNoiseFree([], [1], 'lower', 10).verdict, 'insufficient');
});

t.test('timed: borderline, then the confirming re-run decides', async (t) => {
  // Point estimate beyond +10 % but an interval reaching below it.
  const base = [100, 101, 99, 100, 102, 98, 100, 101];
  const first = [104, 140, 111, 109, 118, 106, 125, 113];
  const d = decideTimed(base, first, 'lower', 10, opts);
  t.equal(d.verdict, 'borderline', d.reason);
  t.ok(d.cost > 1.1 && (d.interval?.low ?? 2) <= 1.1);
  // A re-run that is clearly slow too confirms it: the pooled interval is beyond.
  const confirmed = confirmBorderline(base, first, [118, 121, 119, 117, 122, 120, 118, 119], 'lower', 10, opts);
  t.equal(confirmed.verdict, 'regression', confirmed.reason);
  t.match(confirmed.reason, /pooled with a re-run \(8 \+ 8 samples\)/);
  // A re-run back at the baseline does not: it passes as "unconfirmed" or ok.
  const cleared = confirmBorderline(base, first, [100, 102, 99, 101, 100, 98, 103, 100], 'lower', 10, opts);
  t.ok(cleared.verdict === 'ok' || cleared.verdict === 'unconfirmed', cleared.reason);
  t.not(cleared.verdict, 'regression');
  // Still borderline after pooling: not confirmed, so it passes.
  const still = confirmBorderline(base, first, first, 'lower', 10, opts);
  t.equal(still.verdict, 'unconfirmed', still.reason);
});

t.test('timed: a clear improvement', async (t) => {
  const d = decideTimed(noisy(100, 0.03, 15, 21), noisy(70, 0.03, 15, 22), 'lower', 10, opts);
  t.equal(d.verdict, 'improved', d.reason);
});

t.test('noise-free: deterministic against the threshold', async (t) => {
  t.equal(decideNoiseFree([645], [650], 'lower', 10).verdict, 'ok');
  t.equal(decideNoiseFree([645], [709], 'lower', 10).verdict, 'ok', '+9.9 % is within 10 %');
  const r = decideNoiseFree([645], [716], 'lower', 10);
  t.equal(r.verdict, 'regression', '+11 % is not');
  t.match(r.reason, /\+11\.0 % is beyond the 10 % allowed/);
  t.equal(decideNoiseFree([645], [500], 'lower', 10).verdict, 'improved');
  t.equal(decideNoiseFree([1.0], [0.85], 'higher', 10).verdict, 'regression', 'higher is better: a drop is a regression');
  t.equal(decideNoiseFree([0], [0], 'lower', 10).verdict, 'ok');
  // An absolute tolerance (RSS pages) wins over a small relative threshold.
  t.equal(decideNoiseFree([25], [40], 'lower', 10, 16).verdict, 'ok', '+15 bytes within a 16-byte tolerance');
  t.equal(decideNoiseFree([25], [42], 'lower', 10, 16).verdict, 'regression');
  t.equal(decideNoiseFree([560, 570, 565], [600, 563, 566], 'lower', 10).verdict, 'ok', 'medians are compared');
});

t.test('two-point difference', async (t) => {
  t.equal(perUnit({ total: 4_071_668, units: 1000 }, { total: 4_716_921, units: 2000 }), 645.253);
  t.throws(() => perUnit({ total: 1, units: 10 }, { total: 2, units: 10 }), /same work/);
});

const env: Environment = {
  date: '2026-01-01T00:00:00.000Z',
  host: 'h',
  os: 'Linux 6',
  kernel: 'k',
  arch: 'x64',
  cpu_model: 'cpu',
  cpus: 2,
  node: 'v20',
  coro_version: '0.1.0',
  coro_arch: 'x86_64-sysv-elf',
  build_flags: 'cc -O2',
  tls_library: 'OpenSSL',
  pinning: 'not pinned',
  open_files_limit: 1024,
};

const metric = (over: Partial<Metric> = {}): Metric => ({
  id: 'instructions_per_switch/0B',
  label: 'instructions per switch, 0 B live stack',
  kind: 'noise-free',
  better: 'lower',
  unit: 'instructions',
  method: 'callgrind: x',
  samples: [84.5],
  ...over,
});

t.test('baseline: written atomically, read back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-gate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'baseline.json');
  const b = makeBaseline({ date: new Date(env.date), profile: 'gate', build: 'native/build', environment: env, metrics: [metric()] });
  writeBaseline(file, b);
  t.same(loadBaseline(file), b);
  t.equal(JSON.parse(readFileSync(file, 'utf8')).schema, BASELINE_SCHEMA);
  t.notOk(readFileSync(file, 'utf8').includes('"id"'), 'metrics are keyed by id');
});

t.test('baseline: malformed files are rejected with a clear error', async (t) => {
  const good = JSON.parse(serializeBaseline(makeBaseline({ date: new Date(env.date), profile: 'gate', build: 'native/build', environment: env, metrics: [metric()] })));
  const m = (over: Record<string, unknown>): string => JSON.stringify({ ...good, metrics: { 'instructions_per_switch/0B': { ...good.metrics['instructions_per_switch/0B'], ...over } } });
  const cases: [string, RegExp][] = [
    ['{ not json', /b\.json is not JSON/],
    ['[]', /must be a JSON object/],
    [JSON.stringify({ ...good, schema: 'coro-bench/results@1' }), /not a coro-bench baseline \(want "schema": "coro-bench\/baseline@1", got "coro-bench\/results@1"\)/],
    [JSON.stringify({ ...good, date: 'yesterday' }), /"date" must be an ISO 8601 date/],
    [JSON.stringify({ ...good, environment: undefined }), /"environment" must say where it was measured/],
    [JSON.stringify({ ...good, metrics: {} }), /"metrics" must be an object with at least one metric/],
    [m({ kind: 'fast' }), /metric "instructions_per_switch\/0B": "kind" must be "noise-free" or "timed", got "fast"/],
    [m({ better: 'more' }), /"better" must be "lower" or "higher"/],
    [m({ samples: [] }), /"samples" must be a non-empty list of finite numbers/],
    [m({ samples: ['84'] }), /"samples" must be a non-empty list of finite numbers/],
    [m({ samples: [null] }), /"samples" must be a non-empty list of finite numbers/],
    [m({ method: 3 }), /"method" must be a string/],
    [m({ abs_tolerance: -1 }), /"abs_tolerance" must be a number >= 0/],
    [m({ exact: 'roughly' }), /"exact" must be "instructions", "events" or "integer", got "roughly"/],
    [m({ spread: { max_pct: 1, values: [1, 2], conditions: ['a'] } }), /"spread" must be \{ "max_pct"/],
  ];
  for (const [text, re] of cases) {
    t.throws(() => parseBaseline(text, 'b.json'), UsageError);
    t.throws(() => parseBaseline(text, 'b.json'), re);
  }
  t.throws(() => loadBaseline('/nonexistent/baseline.json'), /baseline \/nonexistent\/baseline\.json does not exist \(record one with `coro-bench check --update-baseline/);
});

t.test('judging rows and the exit status', async (t) => {
  const base = { ...metric(), id: undefined } as unknown as Omit<Metric, 'id'>;
  const ok = judgeMetric('m', base, metric({ samples: [85] }), 10);
  t.equal(ok.status, 'ok');
  const reg = judgeMetric('m', base, metric({ samples: [200] }), 10);
  t.equal(reg.status, 'regression');
  const moved = judgeMetric('m', base, metric({ method: 'callgrind: y' }), 10);
  t.equal(moved.status, 'method-changed');
  const fresh = judgeMetric('m', undefined, metric(), 10);
  t.equal(fresh.status, 'new');
  // Cannot be measured here, and the baseline does not have it either: nothing is lost.
  const skip = skippedRow({ id: 's', label: 's', kind: 'noise-free', reason: 'strace is not installed' }, undefined);
  t.equal(skip.status, 'skipped');
  t.equal(exitStatus([ok, skip]), 0);
  t.equal(exitStatus([ok, reg]), 1);
  t.equal(exitStatus([ok, moved]), 2);
  t.equal(exitStatus([skip]), 2, 'nothing measured: cannot pass');
  t.equal(exitStatus([fresh]), 2, 'nothing compared with the baseline: cannot pass');
  t.equal(exitStatus([ok, fresh]), 0, 'a new metric beside compared ones is fine');
  t.ok(passing([ok, moved]), 'a changed method may be re-recorded');
  t.notOk(passing([ok, reg]));
});

t.test('a baseline metric that was not measured fails the check unless allowed', async (t) => {
  const base = { ...metric(), id: undefined } as unknown as Omit<Metric, 'id'>;
  const ok = judgeMetric('m', base, metric({ samples: [85] }), 10);
  const noTool = skippedRow({ id: 'syscalls_per_txn/x', label: 'syscalls', kind: 'noise-free', reason: 'strace is not installed (on PATH)' }, base);
  t.match(noTool, { status: 'missing', note: 'strace is not installed (on PATH)', baseline: { median: 84.5 } });
  const gone = notMeasuredRow('instructions_per_switch/64B', base);
  t.match(gone, { status: 'missing', note: /the profile no longer measures it/ });
  const broke = failedRow({ id: 'instructions_per_txn/x', label: 'i', kind: 'noise-free', error: 'echo_client exited 1', stderr_tail: [] }, base);
  const rows = [ok, noTool, gone, broke];
  t.equal(exitStatus(rows), 2, 'exit 2, not 0');
  t.notOk(passing(rows), 'and no new baseline from it');
  t.same(unmeasured(rows).map((r) => r.id), ['syscalls_per_txn/x', 'instructions_per_switch/64B', 'instructions_per_txn/x'], 'each one is named');
  const some = allowMissing(rows, ['syscalls_per_txn/x', 'instructions_per_switch/64B']);
  t.equal(exitStatus(some), 2, 'one still not allowed');
  t.same(unmeasured(some).map((r) => r.id), ['instructions_per_txn/x']);
  const all = allowMissing(rows, ['syscalls_per_txn/x', 'instructions_per_switch/64B', 'instructions_per_txn/x']);
  t.equal(exitStatus(all), 0, 'every gap accepted explicitly: passes');
  t.same(all.map((r) => r.status), ['ok', 'allowed-missing', 'allowed-missing', 'allowed-missing'], 'and each gap stays visible');
  t.equal(all[1].note, 'strace is not installed (on PATH)', 'with its reason');
  t.equal(allowMissing([ok], ['m'])[0].status, 'ok', 'a measured metric is judged even when allowed missing');
  t.equal(exitStatus(allowMissing([noTool], ['syscalls_per_txn/x'])), 2, 'only gaps, nothing compared: still no pass');
});

t.test('exact counts: their own thresholds from the recorded spread', async (t) => {
  t.same(spreadOf([500, 500, 500], ['a', 'b', 'c']).max_pct, 0);
  t.equal(spreadOf([499, 500, 501], ['a', 'b', 'c']).max_pct, 0.2);
  const spread = (pct: number) => ({ spread: { max_pct: pct, values: [1, 1], conditions: ['a', 'b'] } });
  t.match(exactThreshold('instructions', spread(0.1)), { pct: 1, why: /max\(3 x spread, 1 %\), spread 0\.10 % in 2 runs/ }, 'instructions: the 1 % floor');
  t.equal(exactThreshold('instructions', spread(0.5))?.pct, 1.5, 'instructions: 3 x a larger spread');
  t.match(exactThreshold('integer', spread(0)), { pct: 0, why: /any change/ }, 'integers: any change');
  t.match(exactThreshold('integer', spread(0.2)), { pct: 1, why: /it moves: max\(3 x spread, 1 %\)/ }, 'integers that were seen to move: the instruction rule');
  t.equal(exactThreshold('integer', spread(0.5))?.pct, 1.5);
  t.match(exactThreshold('events', spread(0)), { pct: 1, why: /max\(3 x spread, 1 %\)/ }, 'syscalls: the instruction rule even with no spread seen');
  t.match(exactThreshold('instructions', {}), { pct: 1, why: /no spread recorded/ });
  t.equal(exactThreshold(undefined, spread(1)), undefined, 'other metrics keep --threshold');

  // +2 % instructions: inside the old 10 %, now a regression; +0.5 % is not.
  const base = { ...metric({ samples: [500], exact: 'instructions', ...spread(0.1) }), id: undefined } as unknown as Omit<Metric, 'id'>;
  t.equal(judgeMetric('i', base, metric({ samples: [510], exact: 'instructions' }), 10).status, 'regression');
  t.equal(judgeMetric('i', base, metric({ samples: [502.5], exact: 'instructions' }), 10).status, 'ok');
  t.match(judgeMetric('i', base, metric({ samples: [510], exact: 'instructions' }), 10), { threshold_pct: 1, note: /\+2\.0 % is beyond the 1 % allowed/ });
  // Bytes copied per switch: any change, either way.
  const bytes = { ...metric({ samples: [64], unit: 'bytes', exact: 'integer', ...spread(0) }), id: undefined } as unknown as Omit<Metric, 'id'>;
  t.match(judgeMetric('b', bytes, metric({ samples: [65], exact: 'integer' }), 10), { status: 'regression', note: /64 -> 65\): any change is a regression/ });
  t.equal(judgeMetric('b', bytes, metric({ samples: [64], exact: 'integer' }), 10).status, 'ok');
  t.equal(judgeMetric('b', bytes, metric({ samples: [48], exact: 'integer' }), 10).status, 'improved');
  t.equal(decideNoiseFree([2.02], [2.0201], 'lower', 0).verdict, 'regression', 'threshold 0: the smallest change');
});

t.test('callgrind and strace output parsers', async (t) => {
  t.equal(parseCallgrindTotal('# callgrind format\nevents: Ir\nsummary: 4716921\n\ntotals: 4716921\n'), 4716921);
  t.equal(parseCallgrindTotal('events: Ir\ntotals: 12\n'), 12);
  t.throws(() => parseCallgrindTotal('events: Ir\n'), /no "summary:" or "totals:" line/);
  const withErrors = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 79.16    0.028231          14      2002           write
 17.37    0.006194           3      2041           read
  2.39    0.000852           7       119           epoll_wait
  0.00    0.000000           0        21         1 accept4
  0.00    0.000000           0         1         1 access
------ ----------- ----------- --------- --------- ----------------
100.00    0.035664           8      4184         2 total
`;
  const s = parseStraceSummary(withErrors);
  t.equal(s.total, 2002 + 2041 + 119 + 21 + 1);
  t.equal(s.bySyscall.accept4, 21);
  t.equal(s.bySyscall.write, 2002);
  // Older strace: blank usecs/call in the total row, which is not trusted anyway.
  const old = withErrors.replace('100.00    0.035664           8      4184         2 total', '100.00    0.035664                  4184         2 total');
  t.equal(parseStraceSummary(old).total, 4184);
  t.throws(() => parseStraceSummary('strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n'), /no summary table/);
});

t.test('gate settings from a profile', async (t) => {
  const s = loadGateSettings('gate');
  t.ok(s.switch && s.switch.depths.includes(0), 'the gate profile has switch depths');
  t.ok(s.echo && s.echo.countTxns[0] < s.echo.countTxns[1]);
  t.ok(s.idle && s.idle.conns > 0);
  const text = JSON.stringify({
    description: 'x',
    workloads: [{ kind: 'echo', conns: 4, txns: 20, size: 16 }],
  });
  t.same(gateSettings('x', text).echo?.countTxns, [10, 20], 'default counted sizes: txns/2 and txns');
  t.equal(gateSettings('x', text).switch, undefined);
  const bad = (gate: unknown): string => JSON.stringify({ description: 'x', workloads: [{ kind: 'switch', depths: [0, 64] }], gate });
  t.throws(() => gateSettings('x', bad({ nope: 1 })), /"gate": unknown key "nope" \(valid: switch_count_iterations, echo_count_txns, timed_switch_depths\)/);
  t.throws(() => gateSettings('x', bad({ switch_count_iterations: [20, 10] })), /"switch_count_iterations" must be two increasing integers/);
  t.throws(() => gateSettings('x', bad({ timed_switch_depths: [128] })), /"timed_switch_depths" must be a non-empty list of the switch workload's depths \(0, 64\)/);
  t.throws(() => gateSettings('x', JSON.stringify({ description: 'x', workloads: [{ kind: 'smtp', conns: 1, messages: 1, size: 10 }] })), /nothing for the gate to measure/);
  t.throws(() => loadGateSettings('nope'), /unknown profile "nope" \(valid: .*gate/);
  const dir = mkdtempSync(join(tmpdir(), 'coro-gate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tiny.json'), text);
  t.equal(loadGateSettings(join(dir, 'tiny.json')).profile, 'tiny', 'a profile given as a path');
});

t.test('check options: the spread and --allow-missing', async (t) => {
  const base = { profile: 'gate', threshold: '10' };
  t.equal(parseCheckOptions({ ...base, updateBaseline: true }).spreadRuns, DEFAULT_SPREAD_RUNS, 'a recorded baseline has a spread by default');
  t.equal(DEFAULT_SPREAD_RUNS, 5);
  t.same(parseCheckOptions({ ...base, updateBaseline: true, spreadRuns: '1', spreadBuild: '.' }).spreadBuilds, ['.']);
  t.same(parseCheckOptions({ ...base, allowMissing: 'a/1B, b/2B' }).allowMissing, ['a/1B', 'b/2B']);
  t.throws(() => parseCheckOptions({ ...base, spreadRuns: '3' }), /add --update-baseline/);
  t.throws(() => parseCheckOptions({ ...base, updateBaseline: true, spreadRuns: '0' }), /--spread-runs/);
});
