// Counting instructions with `valgrind --tool=callgrind`: a figure that does
// not depend on the machine's load or speed (perf counters are not available
// in these VMs). The count of a whole process includes its start-up, so the
// gate always runs two sizes of the same work and divides the difference.
import { readFileSync } from 'node:fs';

/** Words put before a program's argv to run it under callgrind, writing its profile to outFile. */
export function callgrindWrapper(valgrind: string, outFile: string): string[] {
  return [valgrind, '--tool=callgrind', '--quiet', `--callgrind-out-file=${outFile}`];
}

/** Total instructions executed, from a callgrind output file ("summary:" or "totals:" line). */
export function parseCallgrindTotal(text: string, what = 'callgrind output'): number {
  const m = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (!m) throw new Error(`${what} has no "summary:" or "totals:" line`);
  return Number(m[1]);
}

export function readCallgrindTotal(outFile: string): number {
  let text: string;
  try {
    text = readFileSync(outFile, 'utf8');
  } catch (err) {
    throw new Error(`callgrind wrote no output file ${outFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseCallgrindTotal(text, outFile);
}
