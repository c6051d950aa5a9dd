// The soak: its verdicts on synthetic figures (each check must be able to
// fail), the profile, and a short real run of `coro-bench soak`.
import t from 'tap';
import { judgeSoak } from '../cli/engine/soak.js';
import { loadProfile, parseProfile } from '../cli/profiles/profile.js';
import type { SoakPoint } from '../cli/results/types.js';
import { ABUSES, soakMix, type SoakFigures } from '../cli/workload/soak.js';
import { cliMissing, echoMissing, processesWithMarker, runCli } from './helpers.js';

const spec = { conns: 1000, durationS: 100, warmupS: 20, rssSlackKib: 1024 };

/** A healthy run: 1,000 connections open, RSS flat at 8 MiB after warm-up. */
function figures(over: Partial<SoakFigures> = {}, rss = (s: number): number => (s < 20 ? 4000 + s * 200 : 8192)): SoakFigures {
  const samples: SoakPoint[] = [];
  for (let s = 1; s <= 100; s++) samples.push({ t_s: s, rss_kib: rss(s), fds: 7 + 1000, client_open: 990 });
  return {
    mix: soakMix(1000),
    fds_before: 7,
    rss_before_kib: 3500,
    fds_after: 7,
    rss_after_kib: 8000,
    connections_opened: 20_000,
    peak_client_open: 1000,
    transactions: 500_000,
    mismatches: 0,
    errors: 0,
    error_examples: [],
    normal_runs: 100,
    normal_transactions: 450_000,
    idle_pings: 1000,
    slow_lines: 500,
    abuses: Object.fromEntries(ABUSES.map((a) => [a, 10])) as SoakFigures['abuses'],
    server_cpu_s: 12,
    server_exit: 'exit status 0',
    server_exit_code: 0,
    samples,
    ...over,
  };
}

const failed = (r: ReturnType<typeof judgeSoak>): string[] => r.checks.filter((c) => !c.ok).map((c) => c.check);

t.test('a healthy soak passes every check', async (t) => {
  const r = judgeSoak(spec, 'epoll', figures());
  t.same(failed(r), []);
  t.equal(r.failed_runs, 0);
  t.equal(r.rss_warm_kib, 8192, 'warm-up growth is not judged');
  t.equal(r.rss_growth_kib, 0);
  t.equal(r.peak_server_connections, 1000);
  t.equal(r.rss_kib.n, 81, 'RSS summarised over the samples after the warm-up');
});

t.test('each check fails on its own fault', async (t) => {
  t.same(failed(judgeSoak(spec, 'epoll', figures({ mismatches: 1 }))), ['zero echo mismatches']);
  t.same(failed(judgeSoak(spec, 'epoll', figures({ errors: 2, error_examples: ['idle 3: reset'] }))), ['no unexpected errors']);
  t.same(failed(judgeSoak(spec, 'epoll', figures({ fds_after: 9 }))), ['every fd released once the clients left']);
  t.same(failed(judgeSoak(spec, 'epoll', figures({ server_exit_code: null, server_exit: 'killed by SIGSEGV' }))), [
    'the server ran throughout and exits 0 on !shutdown',
  ]);
  // A leak: RSS climbing 40 KiB a second after the warm-up.
  const leak = judgeSoak(spec, 'epoll', figures({}, (s) => 8192 + s * 40));
  t.same(failed(leak), ['stable RSS after the warm-up']);
  t.ok(leak.rss_slope_kib_per_min > 2000, `slope ${leak.rss_slope_kib_per_min} KiB/min`);
  // Sessions never closed: the fd count grows past the connections.
  const fdLeak = figures();
  fdLeak.samples = fdLeak.samples.map((p) => ({ ...p, fds: 7 + 1000 + p.t_s * 10 }));
  t.ok(failed(judgeSoak(spec, 'epoll', fdLeak)).includes('fd count bounded during the run'));
  // The load never reached its target.
  const thin = figures();
  thin.samples = thin.samples.map((p) => ({ ...p, fds: 7 + 500 }));
  t.same(failed(judgeSoak(spec, 'epoll', thin)), ['reached 1,000 connections at once (90 %)']);
});

t.test('the soak profile', async (t) => {
  const w = loadProfile('soak').workloads[0];
  t.match(w, { kind: 'soak', conns: 10_000, duration_s: 300, runs: 1, warmup: 0 });
  t.throws(() => parseProfile('x', JSON.stringify({ description: 'd', workloads: [{ kind: 'soak', runs: 3 }] })), /"runs" must be an integer between 1 and 1/);
});

const noCli = cliMissing();
const noEcho = echoMissing();
t.test('coro-bench soak: a short real run', { skip: noCli ?? noEcho }, async (t) => {
  const r = await runCli(['soak', '--conns', '200', '--duration', '10', '--warmup-seconds', '2', '--json'], { timeoutMs: 90_000 });
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const res = doc.results[0];
  t.match(res, { type: 'soak', mismatches: 0, errors: 0, runs: 1, failed_runs: 0 });
  t.ok(res.transactions > 0, `${res.transactions} verified echoes`);
  t.ok(res.peak_server_connections >= 180, `${res.peak_server_connections} connections at once`);
  t.equal(res.fds_after, res.fds_before, 'every fd released');
  t.ok(Object.values(res.abuses as Record<string, number>).reduce((a, b) => a + b, 0) > 0, 'abusive clients ran');
  t.same(doc.failures, []);
  t.same(processesWithMarker(r.marker), [], 'no process left behind');
});

t.test('default warm-up', async (t) => {
  const { defaultWarmupS } = await import('../cli/engine/soak.js');
  t.same([10, 20, 60, 300, 3600].map(defaultWarmupS), [5, 10, 12, 60, 60]);
});
