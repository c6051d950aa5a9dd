// `coro-bench check`: measure the gate profile, judge every metric against
// the baseline, re-run a borderline timed metric once, print the table, and
// write a new baseline after a passing run when asked.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { CheckOptions } from '../commands/check.js';
import type { IO } from '../commands/io.js';
import { UsageError } from '../errors.js';
import { writeAtomic } from '../export/exporter.js';
import { loadBaseline, makeBaseline, writeBaseline, type Baseline } from '../gate/baseline.js';
import type { MeasureContext } from '../gate/context.js';
import { confirmBorderline, MIN_TIMED_SAMPLES } from '../gate/decide.js';
import { environmentWarnings } from '../gate/drift.js';
import { allowMissing, exitStatus, failedRow, judgeMetric, notMeasuredRow, passing, skippedRow, unmeasured, type GateRow } from '../gate/judge.js';
import { mergeMeasurements, type Metric } from '../gate/metric.js';
import { measureNoiseFree } from '../gate/noise-free.js';
import { baselineSummary, CHECK_SCHEMA, checkTable, type CheckDoc } from '../gate/render.js';
import { loadGateSettings, type GateSettings } from '../gate/settings.js';
import { measureSpread } from '../gate/spread.js';
import { measureTimed, remeasureTimed } from '../gate/timed.js';
import { createProgress } from '../measure/progress.js';
import { coroVersion } from '../native/coro.js';
import { paths, ROOT, useNativeBuild } from '../paths.js';
import { environment } from '../results/environment.js';
import type { Environment } from '../results/types.js';
import { renderTable } from '../render/terminal.js';
import { median } from '../stats/summary.js';
import { describePinning, resolvePinning } from '../workload/launch.js';
import { installReaper } from '../workload/process.js';
import { requireProgram } from '../workload/servers.js';
import { findOnPath } from '../workload/tools.js';

function withRuns(s: GateSettings, runs: number | undefined): GateSettings {
  if (runs === undefined) return s;
  return {
    ...s,
    ...(s.switch ? { switch: { ...s.switch, runs } } : {}),
    ...(s.echo ? { echo: { ...s.echo, runs } } : {}),
  };
}

function where(e: Environment): string {
  return `${e.host} (${e.cpu_model}, ${e.cpus} CPUs, ${e.os}), node ${e.node}, coro ${e.coro_version ?? 'n/a'} [${e.build_flags ?? 'n/a'}]`;
}

function rowsFor(measured: ReturnType<typeof mergeMeasurements>, baseline: Baseline | undefined, o: CheckOptions): GateRow[] {
  const base = baseline?.metrics ?? {};
  const rows: GateRow[] = [
    ...measured.metrics.map((m) => judgeMetric(m.id, base[m.id], m, o.thresholdPct)),
    ...measured.skipped.map((m) => skippedRow(m, base[m.id])),
    ...measured.failed.map((f) => failedRow(f, base[f.id])),
  ];
  const seen = new Set(rows.map((r) => r.id));
  for (const [id, m] of Object.entries(base)) {
    if (!seen.has(id) && (m.kind === 'noise-free' ? o.noiseFree : o.timed)) rows.push(notMeasuredRow(id, m));
  }
  return allowMissing(rows, o.allowMissing);
}

/** "a, b (why); c (why)": the unmeasured metrics grouped by their reason, in table order. */
function byReason(rows: GateRow[]): string {
  const groups = new Map<string, string[]>();
  for (const r of rows) groups.set(r.note, [...(groups.get(r.note) ?? []), r.id]);
  return [...groups].map(([why, ids]) => `${ids.join(', ')} (${why})`).join('; ');
}

/** --allow-missing names must be metrics of the baseline: a typo would otherwise allow nothing, silently. */
function checkAllowed(o: CheckOptions, baseline: Baseline | undefined): void {
  const unknown = o.allowMissing.filter((id) => !baseline?.metrics[id]);
  if (unknown.length > 0) {
    const valid = baseline ? Object.keys(baseline.metrics).join(', ') : '(no baseline yet)';
    throw new UsageError(`--allow-missing: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a metric of baseline ${o.baseline} (valid: ${valid})`);
  }
}

export async function checkAction(o: CheckOptions, io: IO): Promise<number> {
  if (o.build) useNativeBuild(o.build, { keepClient: true });
  const settings = withRuns(loadGateSettings(o.profile), o.runs);
  const baseline = existsSync(o.baseline) || !o.updateBaseline ? loadBaseline(o.baseline) : undefined;
  if (baseline && o.timed && !o.updateBaseline && !Object.values(baseline.metrics).some((m) => m.kind === 'timed')) {
    throw new UsageError(`baseline ${o.baseline} has no timed metrics (record them with \`coro-bench check --timed --update-baseline\`)`);
  }
  checkAllowed(o, baseline);
  // Nothing can be measured without the library and the echo client: say so now (exit 2).
  coroVersion();
  if (settings.echo || settings.idle) requireProgram(paths.echoClient, 'echo_client');
  installReaper();

  const warnings: string[] = [];
  const started = new Date();
  const pinning = resolvePinning(undefined, false);
  const env = environment(describePinning(pinning), started);
  if (baseline) {
    if (baseline.profile !== settings.profile) warnings.push(`the baseline was recorded with profile "${baseline.profile}", this check measures "${settings.profile}"`);
    warnings.push(...environmentWarnings(baseline.environment, env));
  }
  const tmp = mkdtempSync(join(tmpdir(), 'coro-bench-gate-'));
  const progress = createProgress(true);
  const ctx: MeasureContext = { progress, pinning, tmpDir: tmp, valgrind: findOnPath('valgrind'), strace: findOnPath('strace') };
  let rows: GateRow[];
  let metrics: Metric[];
  let sharesNothing = false;
  try {
    progress.note(`check: profile ${settings.profile}, build ${paths.build}, baseline ${baseline ? o.baseline : '(none yet)'}, threshold ${o.thresholdPct} %${o.timed ? ', with timed metrics' : ''}`);
    const measured = mergeMeasurements([
      ...(o.noiseFree ? [await measureNoiseFree(settings, ctx)] : []),
      ...(o.timed ? [await measureTimed(settings, ctx)] : []),
    ]);
    metrics = measured.metrics;
    rows = rowsFor(measured, baseline, o);
    const ids = [...measured.metrics, ...measured.failed, ...measured.skipped].map((m) => m.id);
    sharesNothing = baseline !== undefined && ids.length > 0 && !ids.some((id) => baseline.metrics[id] !== undefined);
    // A borderline timed result is re-run once; the pooled samples decide.
    for (const row of rows.filter((r) => r.status === 'borderline')) {
      progress.note(`check: ${row.id} is borderline (${row.note}); re-running it once`);
      const again = await remeasureTimed(row.id, settings, ctx);
      const first = metrics.find((m) => m.id === row.id) as Metric;
      const rerun = again.metrics.find((m) => m.id === row.id);
      const base = baseline?.metrics[row.id];
      if (!rerun || !base) {
        const f = again.failed.find((x) => x.id === row.id);
        Object.assign(row, { status: 'failed', note: `the confirming re-run failed: ${f?.error ?? 'no result'}`, rerun: true });
        continue;
      }
      const d = confirmBorderline(base.samples, first.samples, rerun.samples, first.better, o.thresholdPct, { seedLabel: row.id });
      first.samples = [...first.samples, ...rerun.samples];
      Object.assign(row, { decision: d, status: d.verdict, note: d.reason, rerun: true, current: { median: median(first.samples), samples: first.samples } });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  // Every row new: the baseline shares no metric with what was measured (a
  // baseline from another profile, or another build's metric ids). Comparing
  // nothing is not a pass.
  if (baseline && !o.updateBaseline && sharesNothing) {
    throw new UsageError(
      `baseline ${o.baseline} (profile "${baseline.profile}") has none of the ${rows.filter((r) => r.status !== 'missing').length} metrics profile "${settings.profile}" measured: nothing was compared (record a baseline for this profile with \`coro-bench check --profile ${settings.profile} --update-baseline --baseline FILE\`)`,
    );
  }
  let status = exitStatus(rows);
  let updated = false;
  let problem: string | undefined;
  if (o.updateBaseline) {
    const few = metrics.filter((m) => m.kind === 'timed' && m.samples.length < MIN_TIMED_SAMPLES);
    if (!passing(rows)) {
      warnings.push(`baseline ${o.baseline} not updated: the run did not pass`);
    } else if (few.length > 0) {
      problem = `baseline ${o.baseline} not updated: timed metrics need at least ${MIN_TIMED_SAMPLES} samples (${few.map((m) => m.id).join(', ')}); use --runs ${MIN_TIMED_SAMPLES} or more`;
      status = 2;
    } else {
      if ((o.spreadRuns > 1 || o.spreadBuilds.length > 0) && metrics.some((m) => m.exact !== undefined)) {
        const spreadTmp = mkdtempSync(join(tmpdir(), 'coro-bench-spread-'));
        try {
          const spreads = await measureSpread(metrics, { profile: o.profile, build: paths.build, runs: o.spreadRuns, builds: o.spreadBuilds, tmpDir: spreadTmp, progress });
          for (const m of metrics) {
            const sp = spreads.get(m.id);
            if (sp) m.spread = sp;
          }
        } catch (err) {
          problem = `baseline ${o.baseline} not updated: ${(err as Error).message}`;
        } finally {
          rmSync(spreadTmp, { recursive: true, force: true });
        }
      }
    }
    if (problem) {
      status = 2;
    } else if (passing(rows) && few.length === 0) {
      const dropped = baseline ? Object.keys(baseline.metrics).filter((id) => !metrics.some((m) => m.id === id)) : [];
      if (dropped.length > 0) warnings.push(`not in the new baseline (not measured by this run): ${dropped.join(', ')}`);
      const build = relative(ROOT, paths.build) || '.';
      writeBaseline(o.baseline, makeBaseline({ date: started, profile: settings.profile, build, environment: env, metrics }));
      updated = true;
      status = 0;
    }
  }

  const doc: CheckDoc = {
    schema: CHECK_SCHEMA,
    baseline_file: o.baseline,
    baseline: baselineSummary(baseline),
    profile: settings.profile,
    build: paths.build,
    threshold_pct: o.thresholdPct,
    timed: o.timed,
    noise_free: o.noiseFree,
    environment: env,
    status,
    baseline_updated: updated,
    rows,
    warnings,
  };
  const json = `${JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
  if (o.json) {
    io.out(json);
  } else {
    const colour = io.stdoutIsTTY && process.env.NO_COLOR === undefined;
    const parts = [renderTable(checkTable(rows, o.thresholdPct), colour)];
    if (warnings.length) parts.push(`Warnings\n${warnings.map((w) => `  - ${w}`).join('\n')}\n`);
    parts.push(
      `${baseline ? `Baseline: ${o.baseline}, profile ${baseline.profile}, measured ${baseline.date} on ${where(baseline.environment)}\n` : ''}` +
        `Current:  profile ${settings.profile}, build ${paths.build} (echo_client ${paths.echoClient}), measured ${env.date} on ${where(env)}, ${env.pinning}\n`,
    );
    io.out(parts.join('\n'));
  }
  if (o.export) {
    writeAtomic(o.export, json);
    io.err(`saved ${o.export}\n`);
  }
  if (updated) io.err(`wrote baseline ${o.baseline}\n`);
  const regressed = rows.filter((r) => r.status === 'regression');
  if (regressed.length > 0) io.err(`regression: ${regressed.map((r) => r.id).join(', ')}\n`);
  else if (status === 2) {
    const gaps = unmeasured(rows);
    const bad = rows.find((r) => r.status === 'insufficient' || r.status === 'method-changed');
    const line = problem
      ? problem
      : gaps.length > 0
        ? `${gaps.length} baseline metric(s) not measured: ${byReason(gaps)}; accept a gap explicitly with --allow-missing ${gaps.map((r) => r.id).join(',')}`
        : bad
          ? `${bad.id}: ${bad.note}`
          : 'no metric could be compared with the baseline';
    io.err(`error: ${line}\n`);
  }
  return status;
}
