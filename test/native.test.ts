// Runs every native test program (native/build/tests/*), each in its own
// process group under a timeout, one subtest per program. Fails when there
// are none: an empty folder means the native build is missing or broken.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { paths } from '../cli/paths.js';
import { Proc } from '../cli/workload/process.js';

const TIMEOUT_MS = 60_000;

function testPrograms(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => {
      const p = join(dir, n);
      try {
        accessSync(p, constants.X_OK);
        return statSync(p).isFile();
      } catch {
        return false;
      }
    })
    .sort();
}

const programs = testPrograms(paths.nativeTests);

t.ok(programs.length > 0, `native test programs found in ${paths.nativeTests} (build them with \`make -C native\`)`);

for (const name of programs) {
  t.test(`native: ${name}`, { timeout: TIMEOUT_MS + 10_000 }, async (t) => {
    const proc = new Proc(name, join(paths.nativeTests, name), []);
    const exit = await proc.wait(TIMEOUT_MS);
    if (!exit) await proc.reap();
    const output = `stdout:\n${proc.stdout.split('\n').slice(-40).join('\n')}\nstderr (last lines):\n${proc.stderrTail.get().join('\n')}`;
    t.ok(exit, `finished within ${TIMEOUT_MS / 1000} s`, exit ? {} : { diagnostic: true, output });
    t.equal(exit?.code ?? null, 0, `${name} exits 0 (${proc.describeExit()})`, exit?.code === 0 ? {} : { diagnostic: true, output });
  });
}
