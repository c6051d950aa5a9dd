// The CLI against another native build folder (--build): `info --build`
// names that build's TLS library, `echo --tls --build` runs the workload on
// its server, `compare --tls` puts two builds in one table, and a folder
// without programs is one clear error. In `npm test` the build is
// native/build (OpenSSL); `npm run test:s2n` runs this file with
// CORO_BENCH_NATIVE_BUILD=native/build-s2n and CORO_BENCH_EXPECT_TLS=s2n-tls,
// comparing it with native/build.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildLabel, paths, ROOT } from '../cli/paths.js';
import { cliMissing, echoMissing, runCli } from './helpers.js';

const expectTls = process.env.CORO_BENCH_EXPECT_TLS ?? 'OpenSSL';
const missing = cliMissing() ?? echoMissing();
const defaultBuild = join(ROOT, 'native', 'build');

if (missing) {
  t.fail(`cannot test the CLI: ${missing}`);
} else {
  t.test(`info --build ${paths.build} names its TLS library`, async (t) => {
    const r = await runCli(['info', '--json', '--build', paths.build]);
    t.equal(r.code, 0, `exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
    const info = JSON.parse(r.stdout) as { tls_library: string; library: string };
    t.ok(info.tls_library.startsWith(expectTls), `TLS library "${info.tls_library}" starts with "${expectTls}"`);
    t.equal(info.library, join(paths.build, 'libcoro.so'), 'the library of that folder was loaded');
  });

  t.test(`echo --tls --build ${paths.build} runs the workload on that build's server`, async (t) => {
    const r = await runCli(['echo', '--tls', '--build', paths.build, '--backend', 'epoll', '--conns', '4', '--txns', '50', '--runs', '1', '--warmup', '0', '--json']);
    t.equal(r.code, 0, `exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
    const doc = JSON.parse(r.stdout) as { results: { name: string; type: string; tls: boolean; mismatches?: { max: number } }[] };
    const names = doc.results.map((x) => x.name);
    t.same(names, [`coro/epoll+tls@${buildLabel(paths.build)}`], 'one configuration, named after the build folder');
    t.equal(doc.results[0]?.tls, true, 'with TLS');
  });

  t.test('--build of a folder without programs is one clear error', async (t) => {
    for (const cmd of [['echo'], ['compare', '--tls'], ['info']]) {
      const r = await runCli([...cmd, '--build', join(ROOT, 'docs')]);
      t.equal(r.code, 2, `${cmd.join(' ')} exits 2`);
      t.match(r.stderr, /^error: --build .*docs: no (echo_server|libcoro\.so) there/, 'one error line naming the folder');
      t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  // Two builds side by side: native/build and the build under test when they
  // differ (test:s2n: OpenSSL against s2n), else the default build alone.
  const builds = [...new Set([defaultBuild, paths.build])].filter((b) => existsSync(join(b, 'echo_server')));
  t.test(`compare --tls --build ${builds.map(buildLabel).join(' --build ')} shows them in one table`, async (t) => {
    const args = ['compare', '--tls', '--backend', 'epoll', '--no-switch', '--conns', '4', '--txns', '50', '--runs', '1', '--warmup', '0'];
    const r = await runCli([...args, ...builds.flatMap((b) => ['--build', b])]);
    t.equal(r.code, 0, `exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
    for (const b of builds) {
      t.match(r.stdout, `coro/epoll+tls@${buildLabel(b)}`, `the table has a row for ${buildLabel(b)}`);
      t.match(r.stderr, new RegExp(`^${buildLabel(b)}: \\S+`, 'm'), `stderr names ${buildLabel(b)}'s TLS library`);
    }
    t.notMatch(r.stdout, /^│ (node|epoll|go) /m, 'no peer without TLS in the table');
  });
}
