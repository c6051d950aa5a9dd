// The echo suite: every configuration x (warmup + runs), interleaved, then
// one aggregated result per configuration.
import { measure, type Job, type JobOutcome } from '../measure/runner.js';
import type { Progress } from '../measure/progress.js';
import { aggregateEcho, echoWarnings } from '../results/aggregate.js';
import type { EchoResult, EchoSample, Workload } from '../results/types.js';
import { runEcho } from '../workload/echo.js';
import type { Pinning } from '../workload/launch.js';
import { overlapWarnings, type RemoteClients } from '../workload/echo-remote.js';
import { configName, type ServerConfig } from '../workload/servers.js';
import type { PartialSink, SuiteOutput } from './suite.js';

export interface EchoSuiteSpec {
  configs: ServerConfig[];
  workload: Workload;
  runs: number;
  warmup: number;
  port: number;
  pinning: Pinning;
  timeoutMs: number;
  fileLimit?: number;
  /** echo_client processes per run (default 1; per host with `remote`). */
  clients?: number;
  /** Address the server binds (--bind). */
  bind?: string;
  /** Clients on other hosts over ssh (--client-hosts). */
  remote?: RemoteClients;
  /** Open loop: transactions a second over all connections (echo_client --rate). */
  rate?: number;
}

function toOutput(spec: EchoSuiteSpec, outcomes: JobOutcome<EchoSample>[]): SuiteOutput {
  const results: EchoResult[] = spec.configs.map((c, i) =>
    aggregateEcho({ name: configName(c), server: c.server, backend: c.backend, tls: c.tls, workload: spec.workload }, outcomes[i]),
  );
  return {
    results,
    failures: outcomes.flatMap((o) => o.failures),
    warnings: [...results.flatMap(echoWarnings), ...overlapWarnings(results)],
  };
}

export async function runEchoSuite(spec: EchoSuiteSpec, progress: Progress, partial?: PartialSink): Promise<SuiteOutput> {
  const jobs: Job<EchoSample>[] = spec.configs.map((config) => ({
    name: configName(config),
    run: () =>
      runEcho({
        config,
        workload: spec.workload,
        port: spec.port,
        pinning: spec.pinning,
        timeoutMs: spec.timeoutMs,
        fileLimit: spec.fileLimit,
        clients: spec.clients,
        bind: spec.bind,
        remote: spec.remote,
        rate: spec.rate,
      }),
  }));
  const outcomes = await measure(jobs, { warmup: spec.warmup, runs: spec.runs }, progress, (o) => partial?.(toOutput(spec, o)));
  return toOutput(spec, outcomes);
}
