// Servers the suite did not write (issue 11): --server-cmd (a Python asyncio
// echo server written for the test, knowing no `!` command) and --target (a
// server the test started), mixed with built-in ones; figures from /proc or
// missing with the reason, never zeros; bad input; a server dying mid-run.
// Ephemeral ports; nothing is left running.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT } from '../cli/paths.js';
import { commandProgram, freePort, parseServerCmd, parseTarget } from '../cli/workload/custom.js';
import { findOnPath } from '../cli/workload/tools.js';
import { treeUsage } from '../cli/workload/proc-tree.js';
import { startServer } from './fault-helpers.js';
import { cliMissing, echoMissing, processesWithMarker, runCli, type CliRun } from './helpers.js';

const PY = join(ROOT, 'test', 'fixtures', 'asyncio-echo.py');
const python = findOnPath('python3');
const noEcho = echoMissing() ?? cliMissing();
if (!python) t.fail('python3 is missing: the --server-cmd tests need it (scripts/install-measure-tools.sh installs it)');
const pyCmd = (name: string, prefix = ''): string => `${name}=${prefix}python3 ${PY} {port}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
function docOf(t: Test, r: CliRun): { results: Loose[]; warnings: string[]; failures: Loose[]; environment: { pinning: string } } {
  try {
    return JSON.parse(r.stdout);
  } catch {
    t.fail(`no JSON document (exit ${r.code}): ${r.stderr.slice(-800)}`);
    return { results: [], warnings: [], failures: [], environment: { pinning: '' } };
  }
}

t.test('parsing --server-cmd and --target', async (t) => {
  t.same(parseServerCmd('mine=./x -p {port}'.replace('./x', process.execPath)), { name: 'mine', command: `${process.execPath} -p {port}` });
  t.equal(commandProgram('FOO=1 exec env ./srv -p {port}'), './srv');
  t.throws(() => parseServerCmd('mine'), /--server-cmd must be NAME=COMMAND/);
  t.throws(() => parseServerCmd('mine=node server.js'), /the command has no \{port\}/);
  t.throws(() => parseServerCmd('mine=/no/such/server {port}'), /program "\/no\/such\/server" not found/);
  t.throws(() => parseServerCmd('mine=no-such-program-xyz {port}'), /program "no-such-program-xyz" not found on PATH/);
  t.throws(() => parseServerCmd('my server=node {port}'), /name "my server" may hold only/);
  t.same(parseTarget('127.0.0.1:9001'), { name: '127.0.0.1:9001', host: '127.0.0.1', port: 9001 });
  t.same(parseTarget('v6=[::1]:7'), { name: 'v6', host: '::1', port: 7 });
  t.throws(() => parseTarget('localhost'), /--target must be \[NAME=\]HOST:PORT/);
  t.throws(() => parseTarget('h:0'), /port must be between 1 and 65535/);
});

t.test('the /proc tree of a process counts its children', async (t) => {
  const u = treeUsage(process.pid);
  t.ok(u && u.processes >= 1 && u.rss_kib > 0 && u.utime_us + u.stime_us > 0, 'this process has CPU and memory');
  t.equal(treeUsage(2 ** 22 + 12345), undefined, 'no such process: nothing, not zeros');
});

t.test('--server-cmd with a Python asyncio server, next to coro, one table', { skip: noEcho || !python }, async (t) => {
  const r = await runCli(['echo', '--server', 'coro', '--server-cmd', pyCmd('py'), '--conns', '20', '--txns', '50', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-500)})`);
  const doc = docOf(t, r);
  t.equal(doc.results.length, 2, 'both configurations');
  t.match(doc.results[0].name, /^coro\//);
  const py = doc.results.find((x) => x.name === 'py');
  t.equal(py.transactions.median, 1000, 'all transactions');
  t.equal(py.mismatches, 0);
  t.match(py.server_figures, /^\/proc \(process tree; the server does not know !bench/, 'figures from /proc, saying why');
  t.ok(py.server_cpu_us_per_txn.median > 0, 'it used CPU, measured from /proc');
  t.ok(py.server_peak_rss_kib.median > 1000, 'the tree has an RSS');
  t.ok(doc.warnings.some((w) => /py: server figures from \/proc/.test(w)), 'a warning says where the figures come from');
  t.same(processesWithMarker(r.marker), [], 'the server that knows no !shutdown was stopped with a signal');
});

t.test('--server-cmd --ready and --clients 2', { skip: noEcho || !python }, async (t) => {
  const r = await runCli(['echo', '--server-cmd', pyCmd('py'), '--ready', 'listening on \\d+', '--clients', '2', '--conns', '10', '--txns', '50', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-500)})`);
  const res = docOf(t, r).results[0];
  t.equal(res.name, 'py', 'only the custom server runs when --server is not given');
  t.equal(res.transactions.median, 500);
  t.equal(res.samples[0].clients, 2);
  t.same(processesWithMarker(r.marker), []);
});

t.test('--target: a running coro server (figures from !bench json, left running) and one without !bench', { skip: noEcho || !python }, async (t) => {
  const coro = await startServer(t, []);
  // asyncio-echo.py takes its port as argument (the -P 0 startServer adds is ignored).
  const port = await freePort();
  const pyProc = await startServer(t, [PY, String(port)], { program: 'python3', ready: /listening on (\d+)/ });
  const r = await runCli(['echo', '--target', `mine=127.0.0.1:${coro.port}`, '--target', `127.0.0.1:${pyProc.port}`, '--conns', '10', '--txns', '20', '--runs', '2', '--warmup', '0', '--json']);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-500)})`);
  const doc = docOf(t, r);
  const mine = doc.results.find((x) => x.name === 'mine');
  t.equal(mine.transactions.median, 200);
  t.equal(mine.server_figures, undefined, 'figures from the server itself');
  const reads = mine.samples[1].server_rusage.read_block;
  // 200 transactions plus a few reads of EOF and of the !bench connection; both runs' together would be over 400.
  t.ok(reads >= 200 && reads < 300, `the second run counts its own reads (${reads}), not the first run's too`);
  t.equal(coro.proc.exit, undefined, 'the target is still running: nothing stopped it');
  const bare = doc.results.find((x) => x.name === `127.0.0.1:${pyProc.port}`);
  t.equal(bare.transactions.median, 200);
  t.equal(bare.server_cpu_us_per_txn.n, 0, 'no server CPU figure');
  t.equal(bare.server_cpu_us_per_txn.median, null, 'shown as missing (null in JSON), not 0');
  t.match(bare.server_figures, /^missing: the server does not know !bench/);
  t.match(doc.environment.pinning, /^server: a --target \(not pinned by coro-bench\), client on CPU \d/, 'no "server on CPU 0" for servers running elsewhere');
  t.ok(doc.warnings.some((w) => /server figures missing/.test(w)), 'a warning gives the reason');
  const text = await runCli(['echo', '--target', `127.0.0.1:${pyProc.port}`, '--conns', '4', '--txns', '10', '--runs', '1', '--warmup', '0']);
  t.match(text.stdout, /│ 127\.0\.0\.1:\d+ +│ - +│ - +│ - +│/, 'the CPU table shows "-" for the server');
});

t.test('bad --server-cmd / --target / --ready: one error line, exit 2, nothing running', { skip: cliMissing() }, async (t) => {
  const silent = createServer((s) => s.on('data', () => s.write('nope\r\n')));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => silent.close());
  const closed = await freePort();
  const cases: [string[], RegExp][] = [
    [['--server-cmd', 'x=python3 server.py'], /the command has no \{port\}/],
    [['--server-cmd', 'x=/nonexistent/server {port}'], /program "\/nonexistent\/server" not found/],
    [['--target', `127.0.0.1:${closed}`], /refuses connections/],
    [['--target', `127.0.0.1:${(silent.address() as AddressInfo).port}`], /does not echo/],
    [['--server-cmd', pyCmd('x'), '--ready', '('], /--ready is not a regular expression/],
    [['--ready', 'x'], /--ready applies to --server-cmd/],
    [['--server-cmd', pyCmd('x'), '--server-cmd', pyCmd('x')], /two configurations are named "x"/],
    [['--server-cmd', pyCmd('x'), '--tls'], /--tls is for the coro server/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['echo', ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, /^error: /);
    t.match(r.stderr.trim(), re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.same(processesWithMarker(r.marker), [], 'nothing left running');
  }
});

t.test('a custom server dying mid-run fails that run; the others are still reported and exported', { skip: noEcho || !python }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-bench-custom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'r.json');
  const r = await runCli([
    'echo', '--server', 'coro', '--server-cmd', pyCmd('dies', 'timeout 0.3 '), '--conns', '4', '--txns', '6000', '--runs', '1', '--warmup', '0', '--export', out,
  ]);
  t.equal(r.code, 1, 'exit 1: a run failed');
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  const coro = doc.results.find((x: { name: string }) => x.name.startsWith('coro/'));
  t.equal(coro.runs, 1, 'the coro run is there');
  t.equal(coro.transactions.median, 24_000);
  const dies = doc.results.find((x: { name: string }) => x.name === 'dies');
  t.equal(dies.failed_runs, 1, 'the dying server\'s run failed');
  t.match(doc.failures[0].error, /dies server (exit status|killed)|before it was ready|dies server .* during the run|failed connection/);
  t.match(r.stdout, /Failed runs/);
  t.same(processesWithMarker(r.marker), []);
});

t.test('run PROFILE takes --server-cmd and --target too: added to every echo workload', { skip: noEcho || !python }, async (t) => {
  const target = await startServer(t, []);
  const r = await runCli([
    'run', 'readme', '--server-cmd', pyCmd('py'), '--target', `up=127.0.0.1:${target.port}`, '--conns', '4', '--txns', '10', '--runs', '1', '--warmup', '0', '--json',
  ]);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-400)})`);
  const doc = docOf(t, r);
  t.same(doc.results.map((x) => x.name.replace(/^coro\/\w+/, 'coro')), ['coro', 'py', 'up']);
  t.ok(doc.results.every((x) => x.transactions.median === 40), 'every server did all 40 transactions');
  t.match(doc.environment.pinning, /^server on CPU \d.*; --target servers are not pinned by coro-bench$/, 'the profile\'s own server is pinned, the target is not');
  const bad = await runCli(['run', 'readme', '--server-cmd', 'nope=./no-such-program {port}']);
  t.equal(bad.code, 2, 'a --server-cmd whose program does not exist: exit 2');
  t.match(bad.stderr, /^error: /);
  t.same(processesWithMarker(r.marker), []);
});

t.test('compare takes --server-cmd and --clients too', { skip: noEcho || !python }, async (t) => {
  const r = await runCli(['compare', '--server', 'epoll', '--server-cmd', pyCmd('py'), '--clients', '2', '--conns', '10', '--txns', '20', '--no-switch', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-400)})`);
  const doc = docOf(t, r);
  t.same(doc.results.map((x) => x.name), ['epoll', 'py']);
  t.ok(doc.results.every((x) => x.transactions.median === 200 && x.samples[0].clients === 2), 'both ran with two clients');
  t.same(processesWithMarker(r.marker), []);
});
