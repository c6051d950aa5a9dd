// Proof that the open loop measures what it claims (issue 15): a server that
// freezes 200 ms once a second, at a rate far below its capacity, must show
// up in the corrected (open-loop) percentiles, while a closed-loop client at
// the same server hides it (coordinated omission); and a server with no
// stalls at half its capacity gives nearly equal corrected and uncorrected
// figures. Both views are printed in the test output (t.comment).
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT } from '../cli/paths.js';
import { histPercentile, parseHist } from '../cli/stats/latency-hist.js';
import { paths } from '../cli/paths.js';
import { Proc } from '../cli/workload/process.js';
import { echoClient, HOST, startServer } from './fault-helpers.js';
import { cliMissing, echoMissing, processesWithMarker } from './helpers.js';

const STALL_SERVER = join(ROOT, 'test', 'fixtures', 'stall-server.mjs');
const noEcho = echoMissing() ?? cliMissing();

const FREEZE_MS = 200;
const PERIOD_MS = 1000;
const CONNS = 10;
const RATE = 1000; // lines a second: a Node echo server does tens of thousands
const SECONDS = 5;

type Lat = { p50: number; p90: number; p99: number; p999: number; max: number };
const show = (l: Lat): string => `p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} us`;

t.test('a server frozen 200 ms every second: the open loop sees it, the closed loop hides it', { skip: noEcho }, async (t) => {
  const srv = await startServer(t, [STALL_SERVER, String(FREEZE_MS), String(PERIOD_MS)], { program: process.execPath });
  const txns = (RATE * SECONDS) / CONNS;
  const open = await echoClient(srv.port, CONNS, txns, 100, ['--no-bench', '--rate', String(RATE)], 60_000);
  t.equal(open.code, 0, `open-loop echo_client exit status (stderr: ${open.stderr})`);
  const o = open.json as unknown as { transactions: number; latency_us: Lat; service_us: Lat; latency_hist_ns: unknown; rate: { offered_per_s: number; achieved_per_s: number } };
  t.equal(o.transactions, CONNS * txns, 'every scheduled line answered');
  const froze = (srv.proc.stderrTail.get().join('\n').match(/froze \d+ ms/g) ?? []).length;
  t.ok(froze >= SECONDS - 1, `the server froze during the run (${froze} freezes seen)`);

  const hist = parseHist(o.latency_hist_ns, 'latency_hist_ns');
  let above = 0;
  for (const [high, count] of hist.buckets) if (high > 100_000_000) above += count;
  const fractionAbove = above / hist.total;
  const frozenShare = FREEZE_MS / PERIOD_MS;

  // The closed loop at the same server: as many transactions as it manages
  // in about the same time, long enough to live through several freezes.
  const closed = await echoClient(srv.port, CONNS, 4000, 100, ['--no-bench'], 60_000);
  t.equal(closed.code, 0, `closed-loop echo_client exit status (stderr: ${closed.stderr})`);
  const c = closed.json as unknown as { transactions: number; wall_us: number; latency_us: Lat };

  t.comment(`stall server (${FREEZE_MS} ms frozen every ${PERIOD_MS} ms, frozen share ${frozenShare}), ${CONNS} connections:`);
  t.comment(`  open loop at ${RATE}/s for ${SECONDS} s, latency from due time: ${show(o.latency_us)}`);
  t.comment(`  open loop, service time from send (uncorrected):  ${show(o.service_us)}`);
  t.comment(`  open loop: ${(fractionAbove * 100).toFixed(1)} % of lines above 100 ms; achieved ${o.rate.achieved_per_s}/s of ${o.rate.offered_per_s}/s`);
  t.comment(`  closed loop, ${c.transactions} txns in ${(c.wall_us / 1e6).toFixed(2)} s: ${show(c.latency_us)}`);

  t.ok(o.latency_us.p999 >= 100_000, `open-loop p99.9 ${o.latency_us.p999} us >= 100 ms`);
  t.ok(fractionAbove >= (frozenShare / 2) * 0.8, `fraction above 100 ms ${fractionAbove.toFixed(3)} >= about frozen share / 2 = ${frozenShare / 2} (80 % of it)`);
  t.ok(c.latency_us.max >= 100_000, `the closed loop lived through a freeze (max ${c.latency_us.max} us)`);
  t.ok(c.latency_us.p99 * 5 <= o.latency_us.p99, `closed-loop p99 ${c.latency_us.p99} us is far (5x+) below the open-loop p99 ${o.latency_us.p99} us`);
  t.ok(o.service_us.p99 < o.latency_us.p99, 'the uncorrected service time hides part of the stall too');
});

/**
 * Runs a program pinned to `cpu`, and as root under the real-time FIFO
 * policy (chrt -f 10; both programs block in epoll and every run is
 * bounded, so they cannot hog a CPU). The relation checked below is about
 * measurement, not speed: a client or server descheduled by unrelated work
 * on a shared machine is a real stall that the open loop rightly counts,
 * so the check keeps both from being preempted by it (nice -10 was not
 * enough on a 2-core machine at load 12: 1 ms sleeps woke 3 ms late at
 * p99; under chrt 0.3 ms).
 */
function favoured(cpu: number, argv: string[]): { program: string; args: string[] } {
  const pinned = ['taskset', '-c', String(cpu), ...argv];
  return process.getuid?.() === 0 ? { program: 'chrt', args: ['-f', '10', ...pinned] } : { program: pinned[0], args: pinned.slice(1) };
}

async function runClient(port: number, extra: string[], txns: number): Promise<Record<string, unknown>> {
  const f = favoured(1, [paths.echoClient, '--json', '--no-bench', ...extra, HOST, String(port), '10', String(txns), '100']);
  const proc = new Proc('echo_client', f.program, f.args);
  const exit = (await proc.wait(60_000)) ?? (await proc.reap());
  if (exit.code !== 0) throw new Error(`echo_client ${proc.describeExit()}: ${proc.stderrTail.get().join(' ')}`);
  return JSON.parse(proc.stdout) as Record<string, unknown>;
}

/** One try of the no-stall check: closed-loop capacity, then the open loop at half of it. */
async function halfLoad(t: Test): Promise<{ decided: boolean; ok: boolean; lines: string[] }> {
  const f = favoured(0, [paths.echoServer]);
  const srv = await startServer(t, f.args, { program: f.program });
  try {
    const max = await runClient(srv.port, [], 2000);
    const capacity = max.txn_per_s as number;
    const rate = Math.round(capacity / 2);
    const txns = Math.max(50, Math.round((rate * 2) / 10)); // about 2 s
    const o = await runClient(srv.port, ['--rate', String(rate)], txns);
    const corrected = parseHist(o.latency_hist_ns, 'latency');
    const service = parseHist(o.service_hist_ns, 'service');
    const hiccups = parseHist(o.client_hiccup_hist_ns, 'client hiccups');
    // p50 and p90 are compared, so the client must have been on time for
    // most of the run: its hiccups under 1 ms at p95 (the client's own
    // verdict, kept_schedule, asks that of p99, for claims about the tail).
    const onTime = histPercentile(hiccups, 95) <= 1_000_000;
    const lines = [
      `capacity ${Math.round(capacity)}/s closed loop; open loop at ${rate}/s (50 %); client hiccups p50 ${histPercentile(hiccups, 50) / 1000} p95 ${histPercentile(hiccups, 95) / 1000} p99 ${histPercentile(hiccups, 99) / 1000} us`,
    ];
    let ok = true;
    for (const p of [50, 90]) {
      const a = histPercentile(corrected, p) / 1000;
      const b = histPercentile(service, p) / 1000;
      // Nearly equal: at most half of the service time plus 100 us more.
      const near = a >= b && a <= 1.5 * b + 100;
      ok &&= near;
      lines.push(`  p${p}: corrected ${a.toFixed(1)} us, service ${b.toFixed(1)} us: ${near ? 'nearly equal' : 'NOT nearly equal'}`);
    }
    return { decided: onTime, ok, lines };
  } finally {
    await srv.proc.reap();
  }
}

t.test('no stalls at 50 % of capacity: corrected and uncorrected percentiles nearly equal', { skip: noEcho }, async (t) => {
  // A try in which the client itself was stalled (its hiccup meter says it
  // was late by more than 1 ms for over 5 % of the time) cannot decide: its
  // corrected figures carry the client's delays. Up to three tries; every
  // one is shown; the first decided one must show the relation.
  const decided: boolean[] = [];
  for (let i = 1; i <= 3 && decided.length === 0; i++) {
    const r = await halfLoad(t);
    for (const l of r.lines) t.comment(`try ${i}: coro echo_server ${l}${l.startsWith('capacity') && !r.decided ? ' - undecided' : ''}`);
    if (r.decided) decided.push(r.ok);
  }
  t.ok(decided.length > 0, 'a try in which the client was on time (else this machine was too busy to decide)');
  if (decided.length > 0) t.ok(decided[0], 'corrected and uncorrected p50 and p90 nearly equal at 50 % load');
});

t.test('no process left behind', { skip: noEcho }, async (t) => {
  t.same(processesWithMarker(process.env.CORO_BENCH_TEST_MARKER ?? 'none'), []);
});
