// The measurement engine: warmup runs, then measured runs interleaved across
// configurations (A B A B, so machine drift hits every configuration alike).
// A failed run is recorded with its reason and the failing program's last
// stderr lines; the others go on. Knows nothing about what a run does.
import type { Failure } from '../results/types.js';
import { errorMessage } from '../errors.js';
import type { Progress } from './progress.js';

export interface Job<S> {
  /** Configuration name shown in progress and failures. */
  name: string;
  run: () => Promise<S>;
}

export interface JobOutcome<S> {
  name: string;
  samples: S[];
  failures: Failure[];
  /** Mismatches/errors reported by failed runs (they still count in results). */
  failedMismatches: number;
  failedErrors: number;
}

export interface RunPlan {
  warmup: number;
  runs: number;
}

/** Shape of the errors workloads throw for a failed run (RunFailure). */
interface FailureLike {
  stderrTail?: string[];
  mismatches?: number;
  errors?: number;
}

export async function measure<S>(
  jobs: Job<S>[],
  plan: RunPlan,
  progress: Progress,
  onUpdate?: (outcomes: JobOutcome<S>[]) => void,
): Promise<JobOutcome<S>[]> {
  const outcomes: JobOutcome<S>[] = jobs.map((j) => ({
    name: j.name,
    samples: [],
    failures: [],
    failedMismatches: 0,
    failedErrors: 0,
  }));
  const rounds = plan.warmup + plan.runs;
  progress.start(rounds * jobs.length);
  for (let round = 0; round < rounds; round++) {
    const warmup = round < plan.warmup;
    const runNo = warmup ? 0 : round - plan.warmup + 1;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      const out = outcomes[i];
      progress.step(warmup ? `${job.name} (warmup ${round + 1}/${plan.warmup})` : `${job.name} (run ${runNo}/${plan.runs})`);
      try {
        const sample = await job.run();
        if (!warmup) out.samples.push(sample);
      } catch (err) {
        const f = err as FailureLike;
        out.failures.push({
          config: job.name,
          run: runNo,
          warmup,
          error: errorMessage(err),
          stderr_tail: Array.isArray(f.stderrTail) ? f.stderrTail : [],
        });
        if (!warmup) {
          out.failedMismatches += typeof f.mismatches === 'number' ? f.mismatches : 0;
          out.failedErrors += typeof f.errors === 'number' ? f.errors : 0;
        }
        progress.note(`${job.name}: ${warmup ? 'warmup' : `run ${runNo}`} failed: ${errorMessage(err)}`);
      }
      onUpdate?.(outcomes);
    }
  }
  progress.done();
  return outcomes;
}
