// The last outcome of scripts/test-cross-arch.sh as `coro-bench info` shows
// it: read from native/build-<arch>/cross-arch.json, and shown as missing
// ("-" and why) when there is none or it cannot be read, never as passed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { archTesting, lastCrossArchRun } from '../cli/results/cross-arch.js';

const root = mkdtempSync(join(tmpdir(), 'cross-arch-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'native', 'build-i386'), { recursive: true });
mkdirSync(join(root, 'native', 'build-aarch64'), { recursive: true });

t.test('an outcome the script wrote, in one line', async (t) => {
  const outcome = {
    arch: 'i386',
    runner: 'under qemu-i386 7.2.22',
    passed: 25,
    failed: 1,
    skipped: [{ test: 'test_tls', reason: 'the cross builds have no TLS library' }],
    switch_smoke: 'ok',
    build_s: 13,
    tests_s: 8,
    kernel: 'Linux 6.1 x86_64',
    finished_at: '2026-12-06T04:10:27Z',
  };
  writeFileSync(join(root, 'native', 'build-i386', 'cross-arch.json'), `${JSON.stringify(outcome)}\n`);
  t.equal(
    lastCrossArchRun('i386', root),
    '25 passed, 1 failed, 1 skipped (test_tls) under qemu-i386 7.2.22; switch smoke check ok; 2026-12-06T04:10:27Z',
  );
});

t.test('none, or unreadable: shown as missing with the reason', async (t) => {
  t.match(lastCrossArchRun('aarch64', root), /^- \(not run on this clone: bash scripts\/test-cross-arch\.sh aarch64\)$/);
  writeFileSync(join(root, 'native', 'build-aarch64', 'cross-arch.json'), '{"arch":"aarch64"');
  t.match(lastCrossArchRun('aarch64', root), /^- \(.*cross-arch\.json unreadable: /);
  writeFileSync(join(root, 'native', 'build-aarch64', 'cross-arch.json'), '{"arch":"aarch64"}');
  t.match(lastCrossArchRun('aarch64', root), /^- \(.*unreadable: fields missing\)$/);
});

t.test('every architecture with a switch is listed with where it is tested', async (t) => {
  const rows = archTesting(root);
  t.same(rows.map((r) => r.arch), ['x86_64', 'i386', 'aarch64']);
  t.match(rows[1]?.where, /natively if the kernel executes i386 binaries, else under qemu-i386/);
  t.match(rows[2]?.where, /under qemu-aarch64/);
});
