// Differences between where the baseline was measured and where the check
// runs. Instruction counts depend on the compiler, libc and CPU features;
// timed ratios on the CPU. A difference is worth a warning, not a failure.
import type { Environment } from '../results/types.js';

const FIELDS: { key: keyof Environment; why: string }[] = [
  { key: 'cpu_model', why: 'timed ratios and memcpy instruction counts depend on the CPU' },
  { key: 'build_flags', why: 'instruction counts depend on the build' },
  { key: 'coro_version', why: 'a different library version' },
  { key: 'os', why: 'syscall counts can depend on the kernel' },
  { key: 'arch', why: 'a different architecture' },
];

export function environmentWarnings(base: Environment, cur: Environment): string[] {
  const out: string[] = [];
  for (const { key, why } of FIELDS) {
    if (base[key] !== cur[key]) {
      out.push(`baseline ${key} was ${JSON.stringify(base[key])}, now ${JSON.stringify(cur[key])} (${why})`);
    }
  }
  return out;
}
