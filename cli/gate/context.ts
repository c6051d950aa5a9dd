// What every gate measurement needs besides its settings.
import type { Progress } from '../measure/progress.js';
import type { Pinning } from '../workload/launch.js';

export interface MeasureContext {
  progress: Progress;
  pinning: Pinning;
  /** Folder for the tools' output files (removed by the caller). */
  tmpDir: string;
  /** valgrind on PATH, or undefined (instruction counts are then skipped). */
  valgrind?: string;
  /** strace on PATH, or undefined (syscall counts are then skipped). */
  strace?: string;
}

/** Per counted run: generous, since valgrind slows a program down 20-50 times. */
export const COUNTED_RUN_TIMEOUT_MS = 300_000;
