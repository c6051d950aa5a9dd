// The native tests again, built with AddressSanitizer + UndefinedBehaviorSanitizer
// (issue 6: CI keeps the stack-copying core provably clean). The script builds
// native/build-asan, runs each test program in its own process under a timeout,
// and fails when one fails or when there are none.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../cli/paths.js';

const script = join(ROOT, 'scripts', 'test-asan.sh');

t.test('native tests under ASan+UBSan', { timeout: 900_000 }, async (t) => {
  const run = spawnSync('bash', [script], { encoding: 'utf8', timeout: 880_000 });
  const output = `${run.stdout}\n${run.stderr}`.split('\n').slice(-60).join('\n');
  t.equal(run.status, 0, 'scripts/test-asan.sh exits 0', run.status === 0 ? {} : { diagnostic: true, output });
  t.match(run.stdout, /asan: [1-9]\d* passed, 0 failed/, 'at least one test ran and none failed');
});
