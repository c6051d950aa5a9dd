// The noise-free metrics: counts that do not depend on the machine's load.
//   instructions per switch      callgrind on bench/switch_count, two sizes
//   bytes copied per switch      switch_count's own counter
//   instructions per transaction callgrind on the server, two sizes
//   syscalls per transaction     strace -f -c on the server, two sizes
//   bytes per idle connection    server RSS (page-granular: an absolute tolerance)
// Each counted figure is (total of the larger run - total of the smaller) /
// (units of the larger - units of the smaller), so start-up cancels out.
import { join } from 'node:path';
import { errorMessage, NativeMissingError } from '../errors.js';
import { resolveConfigs } from '../engine/configs.js';
import { runIdleSuite } from '../engine/idle.js';
import { fileLimitFor, requireEchoPrograms } from '../engine/preflight.js';
import { paths } from '../paths.js';
import type { IdleResult } from '../results/types.js';
import { callgrindWrapper, readCallgrindTotal } from '../workload/callgrind.js';
import { configName, requireProgram, type ServerConfig } from '../workload/servers.js';
import { readStraceSummary, straceWrapper } from '../workload/strace.js';
import { runSwitchCount, runTracedEcho } from '../workload/traced.js';
import { COUNTED_RUN_TIMEOUT_MS, type MeasureContext } from './context.js';
import type { MetricKind } from './decide.js';
import { emptyMeasurement, mergeMeasurements, perUnit, type Measurement, type Metric } from './metric.js';
import type { GateSettings } from './settings.js';

/**
 * RSS moves in pages, and the peak while idle also holds the read buffers of
 * connections that happened to be served at the same moment during their
 * first transaction: on a loaded machine, one run in six here ended up to 22
 * pages higher than the others (+90 KiB: 612 instead of 567 bytes per
 * connection at 2,000 connections). 32 pages over the whole run are allowed
 * on top of the relative threshold; the median of the runs is compared.
 */
export const IDLE_RSS_TOLERANCE_BYTES = 32 * 4096;

let fileSeq = 0;
function outFile(ctx: MeasureContext, what: string): string {
  fileSeq += 1;
  return join(ctx.tmpDir, `${what}.${process.pid}.${fileSeq}.out`);
}

function stderrOf(err: unknown): string[] {
  const tail = (err as { stderrTail?: unknown }).stderrTail;
  return Array.isArray(tail) ? (tail as string[]) : [];
}

/** Runs `f`; a failure becomes a failed metric (or skipped, for a program that is not built). */
async function guarded(id: string, label: string, kind: MetricKind, f: () => Promise<Measurement>): Promise<Measurement> {
  try {
    return await f();
  } catch (err) {
    const m = emptyMeasurement();
    if (err instanceof NativeMissingError) m.skipped.push({ id, label, kind, reason: err.message });
    else m.failed.push({ id, label, kind, error: errorMessage(err), stderr_tail: stderrOf(err) });
    return m;
  }
}

function one(metric: Metric): Measurement {
  return { metrics: [metric], skipped: [], failed: [] };
}

async function switchMetrics(s: NonNullable<GateSettings['switch']>, ctx: MeasureContext): Promise<Measurement> {
  const out: Measurement[] = [];
  const [itA, itB] = s.countIterations;
  for (const depth of s.depths) {
    const iid = `instructions_per_switch/${depth}B`;
    const ilabel = `instructions per switch, ${depth} B live stack`;
    const bid = `bytes_copied_per_switch/${depth}B`;
    const blabel = `bytes copied per switch, ${depth} B live stack`;
    if (ctx.valgrind) {
      const valgrind = ctx.valgrind;
      ctx.progress.note(`gate: callgrind switch_count ${depth} B x ${itA} and ${itB}`);
      let bytes = Number.NaN;
      out.push(
        await guarded(iid, ilabel, 'noise-free', async () => {
          requireProgram(paths.switchCount, 'bench/switch_count');
          const fa = outFile(ctx, 'switch');
          const a = await runSwitchCount(depth, itA, s.coroutines, callgrindWrapper(valgrind, fa), COUNTED_RUN_TIMEOUT_MS);
          const fb = outFile(ctx, 'switch');
          const b = await runSwitchCount(depth, itB, s.coroutines, callgrindWrapper(valgrind, fb), COUNTED_RUN_TIMEOUT_MS);
          const ta = readCallgrindTotal(fa);
          const tb = readCallgrindTotal(fb);
          bytes = b.bytes_copied_per_switch;
          return one({
            id: iid,
            label: ilabel,
            kind: 'noise-free',
            better: 'lower',
            unit: 'instructions',
            exact: 'instructions',
            method: `callgrind: bench/switch_count ${depth} B, ${s.coroutines} coroutines, ${itA} vs ${itB} iterations`,
            samples: [perUnit({ total: ta, units: a.switches }, { total: tb, units: b.switches })],
            detail: { instructions_small: ta, switches_small: a.switches, instructions_large: tb, switches_large: b.switches },
          });
        }),
      );
      if (Number.isFinite(bytes)) {
        out.push(one(bytesMetric(bid, blabel, depth, s, bytes)));
        continue;
      }
    } else {
      out.push({ metrics: [], failed: [], skipped: [{ id: iid, label: ilabel, kind: 'noise-free', reason: 'valgrind is not installed (on PATH)' }] });
    }
    out.push(
      await guarded(bid, blabel, 'noise-free', async () => {
        requireProgram(paths.switchCount, 'bench/switch_count');
        const b = await runSwitchCount(depth, itB, s.coroutines, [], COUNTED_RUN_TIMEOUT_MS);
        return one(bytesMetric(bid, blabel, depth, s, b.bytes_copied_per_switch));
      }),
    );
  }
  return mergeMeasurements(out);
}

function bytesMetric(id: string, label: string, depth: number, s: NonNullable<GateSettings['switch']>, bytes: number): Metric {
  return {
    id,
    label,
    kind: 'noise-free',
    better: 'lower',
    unit: 'bytes',
    exact: 'integer',
    method: `counter: bench/switch_count ${depth} B, ${s.coroutines} coroutines`,
    samples: [bytes],
  };
}

/** The echo configurations counted: the coro server per backend, and the epoll peer (no TLS). */
export function countedConfigs(e: NonNullable<GateSettings['echo']>): ServerConfig[] {
  return [...resolveConfigs(['coro'], e.backends, e.tls), ...(e.tls ? [] : resolveConfigs(['epoll'], [], false))];
}

/** "coro/epoll" for the coro server, "epoll-peer" for the plain epoll peer (ids stay unambiguous). */
export function configKey(c: ServerConfig): string {
  return c.server === 'coro' ? configName(c) : `${configName(c)}-peer`;
}

function serverLabel(c: ServerConfig): string {
  return c.server === 'coro' ? `${configName(c)} server` : `${c.server} peer`;
}

async function echoCounts(
  e: NonNullable<GateSettings['echo']>,
  c: ServerConfig,
  ctx: MeasureContext,
  tool: { name: string; wrap: (file: string) => string[]; read: (file: string) => number },
): Promise<{ small: { total: number; units: number }; large: { total: number; units: number } }> {
  requireEchoPrograms([c]);
  const fileLimit = fileLimitFor(e.conns);
  const points: { total: number; units: number }[] = [];
  for (const txns of e.countTxns) {
    const file = outFile(ctx, tool.name);
    const r = await runTracedEcho({
      config: c,
      workload: { conns: e.conns, txns, size: e.size },
      wrapper: tool.wrap(file),
      pinning: ctx.pinning,
      timeoutMs: COUNTED_RUN_TIMEOUT_MS,
      fileLimit,
    });
    points.push({ total: tool.read(file), units: r.transactions });
  }
  return { small: points[0], large: points[1] };
}

async function echoMetrics(e: NonNullable<GateSettings['echo']>, ctx: MeasureContext): Promise<Measurement> {
  const out: Measurement[] = [];
  const shape = `${e.conns} conns x (${e.countTxns[0]} vs ${e.countTxns[1]}) txns x ${e.size} B`;
  for (const c of countedConfigs(e)) {
    const iid = `instructions_per_txn/${configKey(c)}`;
    const ilabel = `instructions per transaction, ${serverLabel(c)}`;
    if (ctx.valgrind) {
      const valgrind = ctx.valgrind;
      ctx.progress.note(`gate: callgrind ${serverLabel(c)}, ${shape}`);
      out.push(
        await guarded(iid, ilabel, 'noise-free', async () => {
          const { small, large } = await echoCounts(e, c, ctx, { name: 'echo-callgrind', wrap: (f) => callgrindWrapper(valgrind, f), read: readCallgrindTotal });
          return one({
            id: iid,
            label: ilabel,
            kind: 'noise-free',
            better: 'lower',
            unit: 'instructions',
            exact: 'instructions',
            method: `callgrind: ${serverLabel(c)}, ${shape}`,
            samples: [perUnit(small, large)],
            detail: { instructions_small: small.total, txns_small: small.units, instructions_large: large.total, txns_large: large.units },
          });
        }),
      );
    } else {
      out.push({ metrics: [], failed: [], skipped: [{ id: iid, label: ilabel, kind: 'noise-free', reason: 'valgrind is not installed (on PATH)' }] });
    }
    const sid = `syscalls_per_txn/${configKey(c)}`;
    const slabel = `syscalls per transaction, ${serverLabel(c)}`;
    if (ctx.strace) {
      const strace = ctx.strace;
      ctx.progress.note(`gate: strace ${serverLabel(c)}, ${shape}`);
      out.push(
        await guarded(sid, slabel, 'noise-free', async () => {
          const { small, large } = await echoCounts(e, c, ctx, { name: 'echo-strace', wrap: (f) => straceWrapper(strace, f), read: (f) => readStraceSummary(f).total });
          return one({
            id: sid,
            label: slabel,
            kind: 'noise-free',
            better: 'lower',
            unit: 'syscalls',
            exact: 'events',
            method: `strace -f -c: ${serverLabel(c)}, ${shape}`,
            samples: [perUnit(small, large)],
            detail: { syscalls_small: small.total, txns_small: small.units, syscalls_large: large.total, txns_large: large.units },
          });
        }),
      );
    } else {
      out.push({ metrics: [], failed: [], skipped: [{ id: sid, label: slabel, kind: 'noise-free', reason: 'strace is not installed (on PATH)' }] });
    }
  }
  return mergeMeasurements(out);
}

async function idleMetrics(s: NonNullable<GateSettings['idle']>, ctx: MeasureContext): Promise<Measurement> {
  const out: Measurement[] = [];
  for (const c of resolveConfigs(['coro'], s.backends, false)) {
    const id = `bytes_per_idle_conn/${configKey(c)}`;
    const label = `bytes of RSS per idle connection, ${serverLabel(c)}`;
    let fileLimit: number;
    try {
      fileLimit = fileLimitFor(s.conns) ?? s.conns + 64;
    } catch (err) {
      out.push({ metrics: [], failed: [], skipped: [{ id, label, kind: 'noise-free', reason: errorMessage(err) }] });
      continue;
    }
    ctx.progress.note(`gate: ${s.conns} idle connections for ${s.idleS} s on ${serverLabel(c)}, ${s.runs} run(s)`);
    out.push(
      await guarded(id, label, 'noise-free', async () => {
        requireEchoPrograms([c]);
        const res = await runIdleSuite(
          { configs: [c], conns: s.conns, idleSeconds: s.idleS, runs: s.runs, warmup: 0, port: 0, pinning: ctx.pinning, timeoutMs: s.timeoutS * 1000, fileLimit },
          ctx.progress,
        );
        const failures = res.failures.filter((f) => !f.warmup);
        if (failures.length > 0) throw Object.assign(new Error(failures[0].error), { stderrTail: failures[0].stderr_tail });
        const r = res.results[0] as IdleResult;
        return one({
          id,
          label,
          kind: 'noise-free',
          better: 'lower',
          unit: 'bytes',
          method: `RSS: ${s.conns} idle connections for ${s.idleS} s, median of the runs`,
          samples: r.samples.map((x) => x.bytes_per_idle_conn),
          abs_tolerance: IDLE_RSS_TOLERANCE_BYTES / s.conns,
        });
      }),
    );
  }
  return mergeMeasurements(out);
}

export async function measureNoiseFree(s: GateSettings, ctx: MeasureContext): Promise<Measurement> {
  const parts: Measurement[] = [];
  if (s.switch) parts.push(await switchMetrics(s.switch, ctx));
  if (s.echo) parts.push(await echoMetrics(s.echo, ctx));
  if (s.idle) parts.push(await idleMetrics(s.idle, ctx));
  return mergeMeasurements(parts);
}
