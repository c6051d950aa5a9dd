// `coro-bench scale`: one echo workload at 1, 2, 4, ... server workers, each
// against as many client processes, for every server configuration. The
// runs are interleaved like every other suite (config x workers, round after
// round); then one row per (config, workers) with the scaling efficiency
// txn/s(N) / (N x txn/s(1)).
import { measure, type Job } from '../measure/runner.js';
import type { Progress } from '../measure/progress.js';
import { aggregateEcho, echoWarnings } from '../results/aggregate.js';
import type { EchoResult, EchoSample, ScaleRow, Workload } from '../results/types.js';
import { runEcho } from '../workload/echo.js';
import { formatCpus, type Pinning } from '../workload/launch.js';
import { configName, type ServerConfig } from '../workload/servers.js';
import type { SuiteOutput } from './suite.js';

export interface ScalePoint {
  workers: number;
  clients: number;
  pinning: Pinning;
}

/** 1, 2, 4, ... up to max, and max itself. */
export function powersUpTo(max: number): number[] {
  const out: number[] = [];
  for (let n = 1; n < max; n *= 2) out.push(n);
  out.push(max);
  return [...new Set(out)];
}

/**
 * Where each point runs: the server on the first N of `serverCpus`, the
 * clients on the CPUs of the machine not given to those workers (`cpus` in
 * all), or, when none are left, on the server's: the warnings say so.
 */
export function planPoints(
  workerCounts: number[],
  serverCpus: number[],
  clientCpus: number[] | undefined,
  cpus: number,
  clients: number | undefined,
  conns: number,
  pinned: boolean,
): { points: ScalePoint[]; warnings: string[] } {
  const warnings: string[] = [];
  const points = workerCounts.map((workers) => {
    const n = Math.min(clients ?? workers, conns);
    if (!pinned) return { workers, clients: n, pinning: {} };
    const server = serverCpus.slice(0, Math.min(workers, serverCpus.length));
    const rest = clientCpus ?? [...Array(cpus).keys()].filter((c) => !server.includes(c));
    const forClients = rest.length > 0 ? rest : server;
    return { workers, clients: n, pinning: { server: server[0], client: forClients[0], serverCpus: server, clientCpus: forClients } };
  });
  const maxWorkers = Math.max(...workerCounts);
  if (pinned && maxWorkers > serverCpus.length) {
    warnings.push(`${maxWorkers} workers on ${serverCpus.length} server CPU(s) ${formatCpus(serverCpus)}: workers share CPUs, so scaling cannot show beyond ${serverCpus.length}`);
  }
  const shared = points.filter((p) => p.pinning.clientCpus && p.pinning.serverCpus && p.pinning.clientCpus.some((c) => p.pinning.serverCpus?.includes(c)));
  if (shared.length > 0) {
    warnings.push(
      `too few CPUs to keep server and clients apart at ${shared.map((p) => p.workers).join(', ')} worker(s): they share CPUs ${formatCpus(shared[0].pinning.serverCpus ?? [])}, so those figures mix both sides`,
    );
  }
  return { points, warnings };
}

export interface ScaleSpec {
  configs: ServerConfig[];
  points: ScalePoint[];
  workload: Workload;
  runs: number;
  warmup: number;
  port: number;
  timeoutMs: number;
  fileLimit?: number;
}

export interface ScaleOutput extends SuiteOutput {
  rows: ScaleRow[];
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** The scaling rows of measured results (pure: what the table and chart show). */
export function scaleRows(spec: { configs: ServerConfig[]; points: ScalePoint[] }, results: EchoResult[]): ScaleRow[] {
  const rows: ScaleRow[] = [];
  for (const c of spec.configs) {
    const base = configName(c);
    let one: number | null = null;
    for (const p of spec.points) {
      const name = configName({ ...c, workers: p.workers });
      const r = results.find((x) => x.name === name);
      const rate = r && r.runs > 0 ? finiteOrNull(r.txn_per_s.median) : null;
      if (p.workers === 1) one = rate;
      rows.push({
        config: base,
        result: name,
        workers: p.workers,
        clients: p.clients,
        server_cpus: p.pinning.serverCpus ? formatCpus(p.pinning.serverCpus) : '-',
        client_cpus: p.pinning.clientCpus ? formatCpus(p.pinning.clientCpus) : '-',
        txn_per_s: rate,
        server_cpu_us_per_txn: r && r.runs > 0 ? finiteOrNull(r.server_cpu_us_per_txn.median) : null,
        efficiency: rate !== null && one !== null && one > 0 ? rate / (p.workers * one) : null,
      });
    }
  }
  return rows;
}

export async function runScaleSuite(spec: ScaleSpec, progress: Progress, partial?: (o: ScaleOutput) => void): Promise<ScaleOutput> {
  const pairs = spec.configs.flatMap((config) => spec.points.map((point) => ({ config: { ...config, workers: point.workers }, point })));
  const jobs: Job<EchoSample>[] = pairs.map(({ config, point }) => ({
    name: configName(config),
    run: () =>
      runEcho({
        config,
        workload: spec.workload,
        port: spec.port,
        pinning: point.pinning,
        timeoutMs: spec.timeoutMs,
        fileLimit: spec.fileLimit,
        clients: point.clients,
      }),
  }));
  const toOutput = (outcomes: Awaited<ReturnType<typeof measure<EchoSample>>>): ScaleOutput => {
    const results = pairs.map(({ config }, i) =>
      aggregateEcho({ name: configName(config), server: config.server, backend: config.backend, tls: config.tls, workload: spec.workload }, outcomes[i]),
    );
    return {
      results,
      failures: outcomes.flatMap((o) => o.failures),
      warnings: results.flatMap(echoWarnings),
      rows: scaleRows(spec, results),
    };
  };
  const outcomes = await measure(jobs, { warmup: spec.warmup, runs: spec.runs }, progress, (o) => partial?.(toOutput(o)));
  return toOutput(outcomes);
}
