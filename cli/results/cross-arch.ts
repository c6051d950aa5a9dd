// Which architectures the core's switch is tested on, and where (for
// `coro-bench info`): x86_64 natively by `npm test`; i386 and aarch64 by
// scripts/test-cross-arch.sh, natively when the kernel executes them, else
// under qemu-user. The last outcome of that script on this clone is read from
// the file it writes, native/build-<arch>/cross-arch.json; docs/cross-arch.md
// has the details.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../paths.js';

export interface ArchTesting {
  arch: string;
  /** How every CI run tests it. */
  where: string;
  /** The last outcome on this clone, or why there is none. */
  last_here: string;
}

/** What scripts/test-cross-arch.sh writes to native/build-<arch>/cross-arch.json. */
interface CrossArchOutcome {
  arch: string;
  runner: string;
  passed: number;
  failed: number;
  skipped: { test: string; reason: string }[];
  switch_smoke: string;
  finished_at: string;
}

const SCRIPT = 'scripts/test-cross-arch.sh';
// Both CI entry points run both (the GitHub workflow on a hosted x86_64 runner).
const EVERY_CI_RUN = 'every CI run: .ci/run and the GitHub workflow';

/** The last outcome of the cross-arch script for arch, in one line. */
export function lastCrossArchRun(arch: string, root: string = ROOT): string {
  const file = join(root, 'native', `build-${arch}`, 'cross-arch.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return `- (not run on this clone: bash ${SCRIPT} ${arch})`;
  }
  try {
    const o = JSON.parse(text) as CrossArchOutcome;
    if (typeof o.passed !== 'number' || typeof o.failed !== 'number' || !Array.isArray(o.skipped)) throw new Error('fields missing');
    const skipped = o.skipped.length ? ` (${o.skipped.map((s) => s.test).join(', ')})` : '';
    return `${o.passed} passed, ${o.failed} failed, ${o.skipped.length} skipped${skipped} ${o.runner}; switch smoke check ${o.switch_smoke}; ${o.finished_at}`;
  } catch (err) {
    return `- (${file} unreadable: ${(err as Error).message})`;
  }
}

export function archTesting(root: string = ROOT): ArchTesting[] {
  return [
    { arch: 'x86_64', where: `natively, all tests (npm test; ${EVERY_CI_RUN})`, last_here: '- (npm test keeps no record)' },
    {
      arch: 'i386',
      where: `natively if the kernel executes i386 binaries, else under qemu-i386; tests without TLS (${SCRIPT}; ${EVERY_CI_RUN})`,
      last_here: lastCrossArchRun('i386', root),
    },
    {
      arch: 'aarch64',
      where: `under qemu-aarch64 on x86_64; tests without TLS (${SCRIPT}; ${EVERY_CI_RUN})`,
      last_here: lastCrossArchRun('aarch64', root),
    },
  ];
}
