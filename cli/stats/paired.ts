// Paired statistics of interleaved runs. The echo engine runs every
// configuration once per round (A, B, A, B, ...), so run k of A and run k of
// B saw the same moment of the machine: the same colleagues' builds, the same
// frequency, the same cache pressure. Their ratio cancels that shared drift.
// Two independent samples (median(A) / median(B), each side resampled on its
// own) throw the pairing away and with it most of the precision on a shared
// machine. So a ratio between configurations is the median of the per-pair
// ratios, and its interval a percentile bootstrap over pairs (a resample
// draws whole pairs). docs/gate.md shows on a recorded run how much narrower
// that interval is.
import { bootstrapMedian, type Interval } from '../gate/bootstrap.js';
import { seededRandom, seedFor } from '../gate/rng.js';
import type { EchoResult, Failure } from '../results/types.js';
import { median } from './summary.js';

export interface PairedRatio {
  /** Median of num[k] / den[k] over the pairs. */
  ratio: number;
  /** Bootstrap interval over pairs; undefined with fewer than 2 pairs. */
  interval?: Interval;
  pairs: number;
}

export interface PairedOptions {
  /** Mixed into the gate's fixed seed: the same samples give the same interval. */
  seedLabel: string;
  resamples?: number;
  level?: number;
}

/** Median of per-pair ratios and its bootstrap interval; num and den are aligned pair by pair. */
export function pairedRatio(num: readonly number[], den: readonly number[], o: PairedOptions): PairedRatio {
  if (num.length !== den.length) throw new RangeError(`pairs need as many numerators as denominators (${num.length} vs ${den.length})`);
  const ratios = num.map((x, k) => x / den[k]);
  const out: PairedRatio = { ratio: median(ratios), pairs: ratios.length };
  if (ratios.length < 2) return out;
  out.interval = bootstrapMedian(ratios, { resamples: o.resamples, level: o.level, random: seededRandom(seedFor(o.seedLabel)) });
  return out;
}

/**
 * The 1-based run number of each sample of a configuration: samples are
 * kept in run order, and a failed run leaves its number out.
 */
export function sampleRuns(result: Pick<EchoResult, 'name' | 'samples' | 'failed_runs'>, failures: readonly Failure[]): number[] {
  const failed = new Set(failures.filter((f) => !f.warmup && f.config === result.name).map((f) => f.run));
  const out: number[] = [];
  for (let run = 1; out.length < result.samples.length; run++) if (!failed.has(run)) out.push(run);
  return out;
}

/**
 * Paired txn/s ratio of `r` against `ref` from the same interleaved suite:
 * only the rounds in which both runs completed count. Without the failure
 * list, a configuration with failed runs cannot be paired (undefined).
 */
export function pairedTxnRatio(r: EchoResult, ref: EchoResult, failures: readonly Failure[] | undefined, seedLabel: string): PairedRatio | undefined {
  if ((r.failed_runs > 0 || ref.failed_runs > 0) && failures === undefined) return undefined;
  const fs = failures ?? [];
  const refByRun = new Map(sampleRuns(ref, fs).map((run, i) => [run, ref.samples[i].txn_per_s]));
  const num: number[] = [];
  const den: number[] = [];
  sampleRuns(r, fs).forEach((run, i) => {
    const d = refByRun.get(run);
    if (d !== undefined) {
      num.push(r.samples[i].txn_per_s);
      den.push(d);
    }
  });
  if (num.length === 0) return undefined;
  return pairedRatio(num, den, { seedLabel });
}
