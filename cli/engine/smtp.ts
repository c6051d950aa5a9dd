// The SMTP suite: smtp_client against smtp_server per backend.
import { measure, type Job, type JobOutcome } from '../measure/runner.js';
import type { Progress } from '../measure/progress.js';
import { aggregateSmtp } from '../results/aggregate.js';
import type { SmtpResult, SmtpSample, Workload } from '../results/types.js';
import { statWarnings } from '../stats/warnings.js';
import type { Pinning } from '../workload/launch.js';
import { runSmtp } from '../workload/smtp.js';
import type { PartialSink, SuiteOutput } from './suite.js';

export interface SmtpSuiteSpec {
  backends: string[];
  workload: Workload;
  runs: number;
  warmup: number;
  port: number;
  pinning: Pinning;
  timeoutMs: number;
}

const nameOf = (backend: string): string => `smtp/${backend}`;

function toOutput(spec: SmtpSuiteSpec, outcomes: JobOutcome<SmtpSample>[]): SuiteOutput {
  const results: SmtpResult[] = spec.backends.map((b, i) =>
    aggregateSmtp({ name: nameOf(b), server: 'smtp', backend: b, tls: false, workload: spec.workload }, outcomes[i]),
  );
  return {
    results,
    failures: outcomes.flatMap((o) => o.failures),
    warnings: results.flatMap((r) => statWarnings(r.name, 'msg/s', r.msg_per_s)),
  };
}

export async function runSmtpSuite(spec: SmtpSuiteSpec, progress: Progress, partial?: PartialSink): Promise<SuiteOutput> {
  const jobs: Job<SmtpSample>[] = spec.backends.map((backend) => ({
    name: nameOf(backend),
    run: () => runSmtp({ backend, workload: spec.workload, port: spec.port, pinning: spec.pinning, timeoutMs: spec.timeoutMs }),
  }));
  const outcomes = await measure(jobs, { warmup: spec.warmup, runs: spec.runs }, progress, (o) => partial?.(toOutput(spec, o)));
  return toOutput(spec, outcomes);
}
