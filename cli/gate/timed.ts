// The timed metrics, each a ratio measured side by side in the same run so
// that the machine's speed cancels out:
//   coro txn/s / epoll peer txn/s   echo runs interleaved (coro, peer, coro,
//                                   peer...), one ratio per pair of runs
//   ns per switch / bound           the FFI switch microbenchmark, the bound
//                                   (register switch + memcpy of the bytes
//                                   copied) timed right after it, per run
import { errorMessage } from '../errors.js';
import { runEchoSuite } from '../engine/echo.js';
import { fileLimitFor, requireEchoPrograms } from '../engine/preflight.js';
import { runSwitchSuite } from '../engine/switch.js';
import { ensureRuntime } from '../native/coro.js';
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

export async function measureSwitchRatio(s: NonNullable<GateSettings['switch']>, ctx: MeasureContext, depths = s.timedDepths): Promise<Measurement> {
  const ids = depths.map((d) => ({ id: switchRatioId(d), label: `ns per switch / bound, ${d} B live stack` }));
  try {
    ensureRuntime();
    ctx.progress.note(`gate: timed switch at ${depths.join(', ')} B, ${s.iterations} switches per run, ${s.warmup} warmup + ${s.runs} runs`);
    const out = await runSwitchSuite({ coroutines: s.coroutines, depths, iterations: s.iterations, runs: s.runs, warmup: s.warmup }, ctx.progress);
    const failed = out.failures.filter((f) => !f.warmup);
    if (failed.length > 0) return failAll(ids, `${failed[0].config} run ${failed[0].run}: ${failed[0].error}`);
    const m = emptyMeasurement();
    (out.results as SwitchResult[]).forEach((r, i) => {
      m.metrics.push({
        ...ids[i],
        kind: 'timed',
        better: 'lower',
        unit: 'ratio',
        method: `FFI coro_bench_switch ${depths[i]} B, ${s.coroutines} coroutines, ${s.iterations} iterations / (regswitch + memcpy), per run`,
        samples: r.samples.map((x) => x.ratio_to_bound),
        detail: { ns_per_switch_median: r.ns_per_switch.median, bound_ns_median: r.bound_ns.median },
      });
    });
    return m;
  } catch (err) {
    return failAll(ids, err);
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
