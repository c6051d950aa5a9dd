// Counting system calls with `strace -f -c`: how many calls a process (and
// its threads) made, whatever the time they took.
import { readFileSync } from 'node:fs';

export function straceWrapper(strace: string, outFile: string): string[] {
  return [strace, '-f', '-c', '-o', outFile];
}

export interface SyscallCounts {
  /** Calls of every kind, summed. */
  total: number;
  bySyscall: Record<string, number>;
}

/**
 * Parses the `-c` summary table. Its rows are
 *   % time  seconds  usecs/call  calls  [errors]  syscall
 * (errors is blank when there were none), between two dashed lines; the
 * "total" row after the second one is not trusted (its middle columns are
 * blank in some strace versions): the rows are summed instead.
 */
export function parseStraceSummary(text: string): SyscallCounts {
  const lines = text.split('\n');
  const dashes = lines.map((l, i) => (/^-{3,}/.test(l.trim()) ? i : -1)).filter((i) => i >= 0);
  if (dashes.length < 2 || !/calls/.test(lines[dashes[0] - 1] ?? '')) throw new Error('strace -c wrote no summary table');
  const bySyscall: Record<string, number> = {};
  let total = 0;
  for (const line of lines.slice(dashes[0] + 1, dashes[1])) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const calls = Number(f[3]);
    if (!Number.isInteger(calls)) throw new Error(`strace -c: cannot read the calls column of "${line.trim()}"`);
    bySyscall[f[f.length - 1]] = (bySyscall[f[f.length - 1]] ?? 0) + calls;
    total += calls;
  }
  return { total, bySyscall };
}

export function readStraceSummary(outFile: string): SyscallCounts {
  let text: string;
  try {
    text = readFileSync(outFile, 'utf8');
  } catch (err) {
    throw new Error(`strace wrote no summary file ${outFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseStraceSummary(text);
}
