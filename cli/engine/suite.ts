// What every engine suite hands back: results, failed runs, warnings.
import type { Failure, Result } from '../results/types.js';

export interface SuiteOutput {
  results: Result[];
  failures: Failure[];
  warnings: string[];
}

export function mergeOutputs(outs: SuiteOutput[]): SuiteOutput {
  return {
    results: outs.flatMap((o) => o.results),
    failures: outs.flatMap((o) => o.failures),
    warnings: outs.flatMap((o) => o.warnings),
  };
}

/** Called with the results so far after every run (for saving partial results on Ctrl-C). */
export type PartialSink = (partial: SuiteOutput) => void;
