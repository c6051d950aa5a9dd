// The switch microbenchmark suite over FFI: per depth and run, one
// coro_bench_switch call, then the bound measured right after it in the same
// run: a bare register switch (coro_bench_regswitch) plus a memcpy of the
// bytes the copying switch moved per switch (coro_bench_memcpy).
import { measure, type Job, type JobOutcome } from '../measure/runner.js';
import type { Progress } from '../measure/progress.js';
import { benchMemcpy, benchRegswitch, benchSwitch } from '../native/coro.js';
import { aggregateSwitch } from '../results/aggregate.js';
import type { SwitchResult, SwitchSample } from '../results/types.js';
import { statWarnings } from '../stats/warnings.js';
import type { PartialSink, SuiteOutput } from './suite.js';

export interface SwitchSuiteSpec {
  coroutines: number;
  depths: number[];
  iterations: number;
  runs: number;
  warmup: number;
}

export function switchSample(coroutines: number, depth: number, iterations: number): SwitchSample {
  const sw = benchSwitch(coroutines, depth, iterations);
  const reg = benchRegswitch(iterations);
  const bytes = Math.max(0, Math.round(sw.bytes_copied_per_switch));
  const mc = benchMemcpy(bytes, iterations);
  const bound = reg.ns_per_switch + mc.ns_per_copy;
  return {
    ns_per_switch: sw.ns_per_switch,
    bytes_copied_per_switch: sw.bytes_copied_per_switch,
    slice_bytes: sw.slice_bytes,
    regswitch_ns: reg.ns_per_switch,
    memcpy_bytes: bytes,
    memcpy_ns: mc.ns_per_copy,
    bound_ns: bound,
    ratio_to_bound: bound > 0 ? sw.ns_per_switch / bound : Number.NaN,
  };
}

const nameOf = (depth: number): string => `switch/${depth}B`;

function toOutput(spec: SwitchSuiteSpec, outcomes: JobOutcome<SwitchSample>[]): SuiteOutput {
  const results: SwitchResult[] = spec.depths.map((d, i) =>
    aggregateSwitch({ name: nameOf(d), coroutines: spec.coroutines, depth_bytes: d, iterations: spec.iterations }, outcomes[i]),
  );
  return {
    results,
    failures: outcomes.flatMap((o) => o.failures),
    warnings: results.flatMap((r) => statWarnings(r.name, 'ns/switch', r.ns_per_switch)),
  };
}

export async function runSwitchSuite(spec: SwitchSuiteSpec, progress: Progress, partial?: PartialSink): Promise<SuiteOutput> {
  const jobs: Job<SwitchSample>[] = spec.depths.map((depth) => ({
    name: nameOf(depth),
    run: async () => switchSample(spec.coroutines, depth, spec.iterations),
  }));
  const outcomes = await measure(jobs, { warmup: spec.warmup, runs: spec.runs }, progress, (o) => partial?.(toOutput(spec, o)));
  return toOutput(spec, outcomes);
}
