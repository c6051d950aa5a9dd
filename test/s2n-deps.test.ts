// scripts/s2n-deps.sh (run by `npm run test:s2n`) where s2n-tls is absent or
// wrongly given: one line saying what to install or which variable to set,
// and exit status 2, as on a user's fresh clone without ../shared/deps.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../cli/paths.js';

function runDeps(script: string, env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const base = { ...process.env };
  delete base.S2N_PREFIX;
  delete base.S2N_SOURCE;
  const r = spawnSync('bash', [script], { env: { ...base, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('a clone without ../shared/deps: exit 2 and one line naming S2N_PREFIX and S2N_SOURCE', async (t) => {
  // The scripts alone in a fresh folder: nothing beside it, like a user's clone.
  const dir = mkdtempSync(join(tmpdir(), 'coro-s2n-deps-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clone = join(dir, 'clone');
  mkdirSync(clone);
  cpSync(join(ROOT, 'scripts'), join(clone, 'scripts'), { recursive: true });
  const r = runDeps(join(clone, 'scripts', 's2n-deps.sh'), {});
  t.equal(r.code, 2, 'exits 2');
  t.equal(r.stdout, '', 'prints no prefix');
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${r.stderr.trim()}`);
  t.match(lines[0], /S2N_PREFIX=.*S2N_SOURCE=.*\.\.\/shared\/deps is absent/, 'says which variable to set and why');
});

t.test('S2N_SOURCE or S2N_PREFIX pointing nowhere: exit 2 and one line', async (t) => {
  const script = join(ROOT, 'scripts', 's2n-deps.sh');
  const a = runDeps(script, { S2N_SOURCE: '/nonexistent/s2n-tls.tar.gz' });
  t.equal(a.code, 2, 'S2N_SOURCE: exits 2');
  t.match(a.stderr.trim(), /^s2n-deps: S2N_SOURCE=\/nonexistent\/s2n-tls\.tar\.gz does not exist$/, 'S2N_SOURCE: one line');
  const b = runDeps(script, { S2N_PREFIX: tmpdir() });
  t.equal(b.code, 2, 'S2N_PREFIX: exits 2');
  t.match(b.stderr.trim(), /^s2n-deps: S2N_PREFIX=.* has no include\/s2n\.h and lib\/libs2n\.a/, 'S2N_PREFIX: one line');
});
