// The timed metrics, each a ratio measured side by side in the same run so
// that the machine's speed cancels out:
//   coro txn/s / epoll peer txn/s   echo runs interleaved (coro, peer, coro,
//                                   peer...), one ratio per pair of runs
//   ns per switch / bound           the FFI switch microbenchmark, the bound
//                                   (register switch + memcpy of the bytes
//                                   copied) timed right after it; one sample
//                                   per fresh process (see switchProcess)
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';
import { runEchoSuite } from '../engine/echo.js';
import { fileLimitFor, requireEchoPrograms } from '../engine/preflight.js';
import { ensureRuntime } from '../native/coro.js';
import { paths } from '../paths.js';
import { RunFailure } from '../workload/echo.js';
import { Proc } from '../workload/process.js';
import type { EchoResult, SwitchResult } from '../results/types.js';
import type { MeasureContext } from './context.js';
import { emptyMeasurement, mergeMeasurements, type Measurement } from './metric.js';
import { configKey, countedConfigs } from './noise-free.js';
import type { GateSettings } from './settings.js';

export const echoRatioId = (coroKey: string): string => `txn_per_s_vs_epoll/${coroKey}`;
export const switchRatioId = (depth: number): string => `switch_vs_bound/${depth}B`;

function failAll(ids: { id: string; label: string }[], err: unknown, tail: string[] = []): Measurement {
  const m = emptyMeasurement();
  for (const { id, label } of ids) m.failed.push({ id, label, kind: 'timed', error: errorMessage(err), stderr_tail: tail });
  return m;
}

export async function measureEchoRatio(e: NonNullable<GateSettings['echo']>, ctx: MeasureContext): Promise<Measurement> {
  const configs = countedConfigs(e);
  const coro = configs.filter((c) => c.server === 'coro');
  const ids = coro.map((c) => ({ id: echoRatioId(configKey(c)), label: `txn/s of ${configKey(c)} / txn/s of the epoll peer` }));
  if (e.tls) {
    const m = emptyMeasurement();
    for (const x of ids) m.skipped.push({ ...x, kind: 'timed', reason: 'the epoll peer has no TLS' });
    return m;
  }
  try {
    requireEchoPrograms(configs);
    ctx.progress.note(`gate: timed echo ${e.conns}x${e.txns}x${e.size}, ${configs.map(configKey).join(' / ')} interleaved, ${e.warmup} warmup + ${e.runs} runs each`);
    const out = await runEchoSuite(
      {
        configs,
        workload: { conns: e.conns, txns: e.txns, size: e.size },
        runs: e.runs,
        warmup: e.warmup,
        port: 0,
        pinning: ctx.pinning,
        timeoutMs: e.timeoutS * 1000,
        fileLimit: fileLimitFor(e.conns),
      },
      ctx.progress,
    );
    const failed = out.failures.filter((f) => !f.warmup);
    // Ratios are per pair of interleaved runs: a failed run leaves a run unpaired.
    if (failed.length > 0) return failAll(ids, `${failed[0].config} run ${failed[0].run}: ${failed[0].error}`, failed[0].stderr_tail);
    const results = out.results as EchoResult[];
    const peer = results[results.length - 1];
    const m = emptyMeasurement();
    coro.forEach((c, i) => {
      const r = results[i];
      m.metrics.push({
        ...ids[i],
        kind: 'timed',
        better: 'higher',
        unit: 'ratio',
        method: `interleaved echo ${e.conns}x${e.txns}x${e.size}: ${configKey(c)} txn/s / epoll peer txn/s, per pair of runs`,
        samples: r.samples.map((s, k) => s.txn_per_s / peer.samples[k].txn_per_s),
        detail: { coro_txn_per_s_median: r.txn_per_s.median, peer_txn_per_s_median: peer.txn_per_s.median },
      });
    });
    return m;
  } catch (err) {
    return failAll(ids, err, (err as { stderrTail?: string[] }).stderrTail ?? []);
  }
}

/**
 * Runs the switch suite in a fresh process (the CLI's own `switch --json`
 * against the same build) and returns each depth's median ratio to the bound.
 * Fresh processes matter: a process keeps its address-space layout, and with
 * it the alignment of the shared stack, save buffers and memcpy buffers, so
 * runs inside one process agree with each other while two processes can
 * differ by 1.5x (measured here: 0.72 vs 1.16). One sample per process puts
 * that variation into the samples where the statistics can see it.
 */
async function switchProcess(s: NonNullable<GateSettings['switch']>, depths: number[]): Promise<Map<number, number>> {
  const args = [CLI_MAIN, 'switch', '--json', '--depth', depths.join(','), '--coros', String(s.coroutines), '--iters', String(s.iterations), '--runs', String(RUNS_PER_PROCESS), '--warmup', String(Math.min(1, s.warmup))];
  const proc = new Proc('coro-bench switch', process.execPath, args, { ...process.env, CORO_BENCH_NATIVE_BUILD: paths.build });
  try {
    const exit = await proc.wait(SWITCH_PROCESS_TIMEOUT_MS);
    if (!exit || exit.code !== 0) throw new RunFailure(`coro-bench switch ${exit ? proc.describeExit() : 'timed out'}`, proc.stderrTail.get());
    const doc = JSON.parse(proc.stdout) as { results: SwitchResult[] };
    const out = new Map<number, number>();
    for (const r of doc.results) if (r.type === 'switch' && r.runs > 0) out.set(r.depth_bytes, r.ratio_to_bound.median);
    return out;
  } finally {
    await proc.reap();
  }
}

/** Runs of the microbenchmark inside each process; their median is that process's sample. */
export const RUNS_PER_PROCESS = 3;
const SWITCH_PROCESS_TIMEOUT_MS = 120_000;
const CLI_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

export async function measureSwitchRatio(s: NonNullable<GateSettings['switch']>, ctx: MeasureContext, depths = s.timedDepths): Promise<Measurement> {
  const ids = depths.map((d) => ({ id: switchRatioId(d), label: `ns per switch / bound, ${d} B live stack` }));
  try {
    ensureRuntime(); // Fails with the build hint (exit 2) when the library is missing.
    ctx.progress.note(`gate: timed switch at ${depths.join(', ')} B in ${s.runs} fresh processes (${RUNS_PER_PROCESS} runs of ${s.iterations} switches each)`);
    const samples = depths.map((): number[] => []);
    for (let i = 0; i < s.runs; i++) {
      const got = await switchProcess(s, depths);
      depths.forEach((d, k) => {
        const v = got.get(d);
        if (v === undefined) throw new Error(`coro-bench switch reported no result for ${d} B`);
        samples[k].push(v);
      });
    }
    const m = emptyMeasurement();
    depths.forEach((d, k) => {
      m.metrics.push({
        ...ids[k],
        kind: 'timed',
        better: 'lower',
        unit: 'ratio',
        method: `FFI coro_bench_switch ${d} B, ${s.coroutines} coroutines, ${s.iterations} iterations / (regswitch + memcpy); per process, median of ${RUNS_PER_PROCESS} runs`,
        samples: samples[k],
      });
    });
    return m;
  } catch (err) {
    return failAll(ids, err, (err as { stderrTail?: string[] }).stderrTail ?? []);
  }
}

export async function measureTimed(s: GateSettings, ctx: MeasureContext): Promise<Measurement> {
  const parts: Measurement[] = [];
  if (s.switch) parts.push(await measureSwitchRatio(s.switch, ctx));
  if (s.echo) parts.push(await measureEchoRatio(s.echo, ctx));
  return mergeMeasurements(parts);
}

/** Measures one timed metric again (the confirming re-run of a borderline result). */
export async function remeasureTimed(id: string, s: GateSettings, ctx: MeasureContext): Promise<Measurement> {
  const m = /^switch_vs_bound\/(\d+)B$/.exec(id);
  if (m && s.switch) return measureSwitchRatio(s.switch, ctx, [Number(m[1])]);
  if (id.startsWith('txn_per_s_vs_epoll/') && s.echo) return measureEchoRatio(s.echo, ctx);
  return emptyMeasurement();
}
