// The idle-connection suite: bytes of server RSS per idle connection.
import { measure, type Job, type JobOutcome } from '../measure/runner.js';
import type { Progress } from '../measure/progress.js';
import { aggregateIdle } from '../results/aggregate.js';
import type { IdleResult, IdleSample } from '../results/types.js';
import { statWarnings } from '../stats/warnings.js';
import { runIdle } from '../workload/idle.js';
import type { Pinning } from '../workload/launch.js';
import { configName, type ServerConfig } from '../workload/servers.js';
import type { PartialSink, SuiteOutput } from './suite.js';

export interface IdleSuiteSpec {
  configs: ServerConfig[];
  conns: number;
  idleSeconds: number;
  runs: number;
  warmup: number;
  port: number;
  pinning: Pinning;
  timeoutMs: number;
  fileLimit: number;
}

/** The client needs a valid transaction shape; idle connections do one small echo each, then wait. */
export const IDLE_TXNS = 1;
export const IDLE_SIZE = 16;

function toOutput(spec: IdleSuiteSpec, outcomes: JobOutcome<IdleSample>[]): SuiteOutput {
  const results: IdleResult[] = spec.configs.map((c, i) =>
    aggregateIdle(
      {
        name: `${configName(c)} idle`,
        server: c.server,
        backend: c.backend,
        tls: c.tls,
        workload: { conns: spec.conns, txns: IDLE_TXNS, size: IDLE_SIZE },
        idle_s: spec.idleSeconds,
      },
      outcomes[i],
    ),
  );
  return {
    results,
    failures: outcomes.flatMap((o) => o.failures),
    warnings: results.flatMap((r) => statWarnings(r.name, 'bytes/idle conn', r.bytes_per_idle_conn)),
  };
}

export async function runIdleSuite(spec: IdleSuiteSpec, progress: Progress, partial?: PartialSink): Promise<SuiteOutput> {
  const jobs: Job<IdleSample>[] = spec.configs.map((config) => ({
    name: `${configName(config)} idle`,
    run: () =>
      runIdle({
        config,
        workload: { conns: spec.conns, txns: IDLE_TXNS, size: IDLE_SIZE },
        idleSeconds: spec.idleSeconds,
        port: spec.port,
        pinning: spec.pinning,
        timeoutMs: spec.timeoutMs,
        fileLimit: spec.fileLimit,
      }),
  }));
  const outcomes = await measure(jobs, { warmup: spec.warmup, runs: spec.runs }, progress, (o) => partial?.(toOutput(spec, o)));
  return toOutput(spec, outcomes);
}
