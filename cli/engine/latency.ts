// `coro-bench latency`: latency against offered load. For each server, the
// closed-loop maximum first (the runs interleaved across servers), then one
// open-loop run (echo_client --rate) per offered rate, lightest first, the
// servers interleaved at each rate, so machine drift hits them alike. A
// failed run is recorded and the series goes on.
import { MAX_RATE_PER_CONN } from '../commands/rate.js';
import { errorMessage } from '../errors.js';
import type { Progress } from '../measure/progress.js';
import { measure } from '../measure/runner.js';
import { aggregateEcho } from '../results/aggregate.js';
import type { EchoResult, EchoSample, Failure, LatencyCurveResult, LatencyPoint } from '../results/types.js';
import { findKnee } from '../stats/knee.js';
import { runEcho } from '../workload/echo.js';
import type { Pinning } from '../workload/launch.js';
import { configName, type ServerConfig } from '../workload/servers.js';
import type { PartialSink, SuiteOutput } from './suite.js';

/** The default offered loads, as fractions of the closed-loop maximum. */
export const DEFAULT_FRACTIONS = [0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.1];

export interface LatencySpec {
  configs: ServerConfig[];
  conns: number;
  size: number;
  /** Offered loads as fractions of each server's closed-loop maximum ... */
  fractions?: number[];
  /** ... or absolute rates (transactions a second, all connections), the same for every server. */
  rates?: number[];
  /** Seconds of schedule per point. */
  durationS: number;
  /** Closed-loop runs per server for its maximum, and transactions per connection in each. */
  maxRuns: number;
  maxTxns: number;
  port: number;
  pinning: Pinning;
  timeoutMs: number;
  fileLimit?: number;
  clients?: number;
}

/** Transactions per connection that fill `durationS` at `rate` (at least 1). */
export function txnsFor(rate: number, conns: number, durationS: number): number {
  return Math.max(1, Math.round((rate * durationS) / conns));
}

function pointOf(fraction: number | null, offered: number, s: EchoSample): LatencyPoint {
  const o = s.open_loop;
  if (!o) throw new Error('open-loop run returned no open-loop figures');
  return {
    fraction,
    offered_per_s: offered,
    achieved_per_s: o.achieved_per_s,
    transactions: s.transactions,
    latency_us: s.latency_us,
    service_us: o.service_us,
    lag_us: o.lag_us,
    client_hiccup_us: o.client_hiccup_us,
    client_kept_schedule: o.client_kept_schedule,
    latency_hist_ns: o.latency_hist_ns,
    service_hist_ns: o.service_hist_ns,
    client_hiccup_hist_ns: o.client_hiccup_hist_ns,
  };
}

/** Finishes one server's curve: knee and whether the client kept its schedule up to it. */
export function curveOf(
  config: ServerConfig,
  spec: Pick<LatencySpec, 'conns' | 'size' | 'maxTxns' | 'durationS'>,
  closed: EchoResult | undefined,
  points: LatencyPoint[],
): LatencyCurveResult {
  const k = findKnee(points.map((p) => ({ offered_per_s: p.offered_per_s, fraction: p.fraction, p99_us: p.latency_us?.p99 })));
  const upTo = k.knee ? points.filter((p) => p.offered_per_s <= (k.knee?.offered_per_s ?? 0)) : [];
  return {
    type: 'latency',
    name: configName(config),
    server: config.server,
    backend: config.backend,
    tls: config.tls,
    workload: { conns: spec.conns, txns: spec.maxTxns, size: spec.size },
    duration_s: spec.durationS,
    closed_loop_per_s: closed && closed.runs > 0 ? closed.txn_per_s : null,
    closed_loop_latency_us: closed && closed.runs > 0 ? closed.latency_us : null,
    runs: points.filter((p) => !p.error).length,
    failed_runs: points.filter((p) => p.error).length,
    points,
    knee: k.knee,
    ...(k.knee ? {} : { knee_missing: k.missing }),
    client_kept_schedule_to_knee: k.knee ? upTo.every((p) => p.client_kept_schedule === true) : null,
  };
}

function warningsOf(r: LatencyCurveResult): string[] {
  const out: string[] = [];
  const late = r.points.filter((p) => p.client_kept_schedule === false);
  if (late.length > 0) {
    const at = late.map((p) => (p.fraction !== null ? `${Math.round(p.fraction * 100)} %` : `${Math.round(p.offered_per_s)}/s`)).join(', ');
    out.push(`${r.name}: the client could not keep its schedule at ${at} (its hiccups p99 above 1 ms): the latencies there are the client's, not the server's`);
  }
  if (r.knee === null) out.push(`${r.name}: no knee: ${r.knee_missing}`);
  return out;
}

export async function runLatencyCurves(spec: LatencySpec, progress: Progress, partial?: PartialSink): Promise<SuiteOutput> {
  const failures: Failure[] = [];
  const points = spec.configs.map((): LatencyPoint[] => []);
  let closed: (EchoResult | undefined)[] = spec.configs.map(() => undefined);
  const run = (config: ServerConfig, txns: number, rate?: number): Promise<EchoSample> =>
    runEcho({
      config,
      workload: { conns: spec.conns, txns, size: spec.size },
      port: spec.port,
      pinning: spec.pinning,
      timeoutMs: spec.timeoutMs,
      fileLimit: spec.fileLimit,
      clients: spec.clients,
      rate,
    });
  const output = (): SuiteOutput => {
    const results = spec.configs.map((c, i) => curveOf(c, spec, closed[i], points[i]));
    return { results, failures: [...failures], warnings: results.flatMap(warningsOf) };
  };

  if (spec.fractions) {
    progress.note(`closed-loop maximum: ${spec.maxRuns} run(s) of ${spec.conns}x${spec.maxTxns}x${spec.size} per server, interleaved`);
    const outcomes = await measure(
      spec.configs.map((config) => ({ name: configName(config), run: () => run(config, spec.maxTxns) })),
      { warmup: 0, runs: spec.maxRuns },
      progress,
    );
    closed = spec.configs.map((c, i) =>
      aggregateEcho({ name: configName(c), server: c.server, backend: c.backend, tls: c.tls, workload: { conns: spec.conns, txns: spec.maxTxns, size: spec.size } }, outcomes[i]),
    );
    failures.push(...outcomes.flatMap((o) => o.failures));
    for (const [i, c] of closed.entries()) {
      if (c && c.runs > 0) progress.note(`${c.name}: closed-loop maximum ${Math.round(c.txn_per_s.median)} txn/s (median of ${c.runs})`);
      else progress.note(`${configName(spec.configs[i])}: no closed-loop maximum (every run failed): its curve is skipped`);
    }
  }

  const levels = spec.fractions ?? spec.rates ?? [];
  progress.start(levels.length * spec.configs.length);
  for (const [level, value] of levels.entries()) {
    for (const [i, config] of spec.configs.entries()) {
      const name = configName(config);
      const fraction = spec.fractions ? value : null;
      const max = closed[i]?.runs ? (closed[i] as EchoResult).txn_per_s.median : Number.NaN;
      const offered = spec.fractions ? value * max : value;
      const label = fraction !== null ? `${Math.round(fraction * 100)} %` : `${value}/s`;
      progress.step(`${name} at ${label}${fraction !== null ? ` = ${Math.round(offered)}/s` : ''}`);
      if (!Number.isFinite(offered)) continue; // no maximum: said above
      const fail = (error: string, tail: string[] = []): void => {
        points[i].push({ fraction, offered_per_s: offered, error });
        failures.push({ config: name, run: level + 1, warmup: false, error: `at ${label}: ${error}`, stderr_tail: tail });
      };
      if (offered / spec.conns > MAX_RATE_PER_CONN) {
        fail(`${Math.round(offered / spec.conns)}/s per connection is above the client's limit of ${MAX_RATE_PER_CONN}/s: use more --conns`);
        continue;
      }
      try {
        const s = await run(config, txnsFor(offered, spec.conns, spec.durationS), offered);
        points[i].push(pointOf(fraction, offered, s));
      } catch (err) {
        fail(errorMessage(err), (err as { stderrTail?: string[] }).stderrTail ?? []);
      }
      partial?.(output());
    }
  }
  progress.done();
  return output();
}
