// End-to-end: the built CLI on tiny workloads, with ephemeral ports, checking
// numbers that cannot flake and that nothing is left running.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseBlockLine, parseRusageLine } from '../cli/rusage/parse.js';
import { CLI, cliMissing, echoMissing, libraryMissing, processesWithMarker, runCli, type CliRun } from './helpers.js';

const noCli = cliMissing();
if (noCli) t.fail(noCli);

const noEcho = echoMissing();
const noLib = libraryMissing();

function oneErrorLine(t: Test, r: CliRun, re: RegExp): void {
  t.equal(r.code, 2, `exit status 2 (stderr: ${r.stderr.trim()})`);
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line on stderr');
  t.match(lines[0], /^error: /);
  t.match(lines[0], re);
  t.equal(r.stdout, '', 'nothing on stdout');
}

function noLeftovers(t: Test, r: CliRun): void {
  t.same(processesWithMarker(r.marker), [], 'no process left behind');
}

t.test('echo --json: consistent numbers', { skip: noEcho }, async (t) => {
  const r = await runCli(['echo', '--conns', '4', '--txns', '10', '--size', '16', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.equal(doc.schema, 'coro-bench/results@1');
  t.equal(doc.results.length, 1);
  const res = doc.results[0];
  t.match(res, { type: 'echo', server: 'coro', workload: { conns: 4, txns: 10, size: 16 }, mismatches: 0, errors: 0, runs: 1 });
  t.equal(typeof res.backend, 'string');
  t.equal(res.transactions.median, 40, 'transactions = conns x txns');
  t.equal(res.samples[0].bytes_moved, 40 * 16 * 2, 'bytes moved = transactions x size x 2');
  t.ok(res.txn_per_s.median > 0 && res.txn_per_s.min <= res.txn_per_s.median && res.txn_per_s.median <= res.txn_per_s.max);
  t.ok(res.server_cpu_us_per_txn.median > 0, 'server CPU per transaction > 0');
  t.ok(res.server_rusage.utime_us.median + res.server_rusage.stime_us.median > 0, 'server CPU > 0');
  t.ok(res.client_rusage.utime_us.median + res.client_rusage.stime_us.median > 0, 'client CPU > 0');
  t.ok(res.latency_us.p50.median <= res.latency_us.p99.median && res.latency_us.p99.median <= res.latency_us.max.median, 'percentiles ordered');
  t.ok(res.server_rusage.maxrss_kib.median > 0);
  t.equal(doc.failures.length, 0);
  t.match(doc.environment, { cpus: Number, node: process.version });
  noLeftovers(t, r);
});

t.test('echo --raw prints exactly the three coro++ lines', { skip: noEcho }, async (t) => {
  const r = await runCli(['echo', '--conns', '4', '--txns', '10', '--size', '16', '--raw']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.equal(lines.length, 4, 'three lines and a final newline');
  t.equal(lines[3], '');
  t.match(lines[0], /^server bench: \d+ \d{6}\|\d+ \d{6}\|\d+ \d{6}\|maxrss:\d+ .* nivcsw:\d+$/);
  t.match(lines[1], /^client bench: \d+ \d{6}\|\d+ \d{6}\|\d+ \d{6}\|maxrss:\d+ .* nivcsw:\d+$/);
  t.match(lines[2], /^read_block: \d+  write_block: \d+$/);
  t.doesNotThrow(() => parseRusageLine(lines[0]));
  t.doesNotThrow(() => parseRusageLine(lines[1]));
  t.doesNotThrow(() => parseBlockLine(lines[2]));
  noLeftovers(t, r);
});

t.test('echo tables, export, and a failing run that times out', { skip: noEcho }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-bench-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const csv = join(dir, 'r.csv');
  const r = await runCli(['echo', '--conns', '4', '--txns', '10', '--size', '16', '--runs', '2', '--warmup', '0', '--export', csv]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Throughput/);
  t.match(r.stdout, /Latency per transaction/);
  t.notMatch(r.stdout, /\x1b\[/, 'no colour codes when not a TTY');
  t.match(readFileSync(csv, 'utf8'), /^name,type,server,backend/);
  t.same(readdirSync(dir), ['r.csv']);

  const slow = await runCli(['echo', '--conns', '50', '--txns', '100000000', '--size', '16', '--runs', '1', '--warmup', '0', '--timeout', '1', '--json']);
  t.equal(slow.code, 1, 'exit 1 when a measured run failed');
  const doc = JSON.parse(slow.stdout);
  t.equal(doc.failures.length, 1);
  t.match(doc.failures[0].error, /did not finish within 1 s/);
  t.equal(doc.results[0].failed_runs, 1);
  noLeftovers(t, slow);
});

t.test('Ctrl-C kills every child and exits 130', { skip: noEcho }, async (t) => {
  let cliPid = 0;
  let marker = '';
  const done = runCli(['echo', '--conns', '20', '--txns', '100000000', '--size', '16', '--runs', '1', '--warmup', '0'], {
    onSpawn: (pid, m) => {
      cliPid = pid;
      marker = m;
    },
  });
  // Wait until the server and the client are both running (by name: a
  // count of marked processes can include a short-lived helper).
  const names = (): string[] =>
    processesWithMarker(marker).map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
      } catch {
        return '';
      }
    });
  const running = (): boolean => ['echo_server', 'echo_client'].every((n) => names().includes(n));
  const t0 = Date.now();
  while (!running() && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
  t.ok(running(), `server and client were running (${names().join(', ')})`);
  process.kill(cliPid, 'SIGINT');
  const r = await done;
  t.equal(r.code, 130);
  t.match(r.stderr, /interrupted/);
  await new Promise((res) => setTimeout(res, 200));
  noLeftovers(t, r);
});

t.test('switch over FFI', { skip: noLib }, async (t) => {
  const r = await runCli(['switch', '--depth', '0,1024', '--iters', '20000', '--runs', '2', '--warmup', '0', '--json']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.equal(doc.results.length, 2);
  const [d0, d1k] = doc.results;
  t.match(d1k, { type: 'switch', depth_bytes: 1024, coroutines: 2, runs: 2 });
  for (const d of [d0, d1k]) {
    t.ok(d.ns_per_switch.median > 0, 'ns per switch > 0');
    t.ok(d.bound_ns.median > 0, 'bound > 0');
    t.ok(d.ratio_to_bound.median > 0, 'ratio > 0');
    t.ok(Math.abs(d.bound_ns.median - (d.regswitch_ns.median + d.memcpy_ns.median)) / d.bound_ns.median < 0.5, 'bound is regswitch + memcpy');
  }
  t.ok(d1k.bytes_copied_per_switch.median >= 1024, 'a 1 KiB live stack copies at least 1 KiB per switch');
  t.ok(d1k.bytes_copied_per_switch.median > d0.bytes_copied_per_switch.median, 'deeper stack, more bytes copied');
  const text = await runCli(['switch', '--depth', '128', '--iters', '10000', '--runs', '1', '--warmup', '0']);
  t.equal(text.code, 0);
  t.match(text.stdout, /ratio to bound/);
});

t.test('info', { skip: noLib }, async (t) => {
  const r = await runCli(['info']);
  t.equal(r.code, 0, r.stderr);
  for (const k of ['version', 'architecture', 'backends', 'shared stack', 'TLS library', 'build flags', 'open files', 'library']) {
    t.match(r.stdout, new RegExp(`^${k}\\s`, 'm'), `shows ${k}`);
  }
  const j = await runCli(['info', '--json']);
  const info = JSON.parse(j.stdout);
  t.ok(info.backends.length > 0, 'at least one backend');
  t.match(info.coro_version, /^\d+\.\d+\.\d+$/);
  t.ok(info.default_stack_bytes > 0);
  t.same(info.tested_architectures.map((a: { arch: string }) => a.arch), ['x86_64', 'i386', 'aarch64'], 'says where each arch is tested');
  t.match(r.stdout, /^tested aarch64\s+under qemu-aarch64/m);
});

t.test('run readme (small overrides) and run --list', { skip: noEcho }, async (t) => {
  const r = await runCli(['run', 'readme', '--conns', '4', '--txns', '10', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.match(doc, { command: 'run', profile: 'readme' });
  t.match(doc.results[0], { type: 'echo', workload: { conns: 4, txns: 10, size: 100 }, mismatches: 0 });
  t.equal(doc.results[0].transactions.median, 40);
  noLeftovers(t, r);
});

t.test('run --list', async (t) => {
  const r = await runCli(['run', '--list']);
  t.equal(r.code, 0);
  for (const p of ['readme', 'c1k', 'big', 'idle10k', 'smtp', 'tls', 'switch']) t.match(r.stdout, new RegExp(`^${p}\\s+\\S`, 'm'));
});

t.test('bad input: one error line, exit 2', async (t) => {
  oneErrorLine(t, await runCli(['echo', '--conns', '0']), /--conns must be between 1/);
  oneErrorLine(t, await runCli(['echo', '--size', '2']), /--size must be between 3/);
  oneErrorLine(t, await runCli(['echo', '--runs', 'many']), /--runs must be an integer/);
  oneErrorLine(t, await runCli(['echo', '--warmup', '-1']), /--warmup must be between 0/);
  oneErrorLine(t, await runCli(['echo', '--server', 'iis']), /unknown --server "iis" \(valid: coro, epoll, node, all\)/);
  oneErrorLine(t, await runCli(['echo', '--bogus']), /unknown option '--bogus'/);
  oneErrorLine(t, await runCli(['frobnicate']), /unknown command 'frobnicate'/);
  oneErrorLine(t, await runCli(['run', 'nope']), /unknown profile "nope" \(valid: .*readme/);
  oneErrorLine(t, await runCli(['report', '/nonexistent.json']), /cannot read \/nonexistent.json/);
  oneErrorLine(t, await runCli(['info'], { env: { CORO_BENCH_NATIVE_BUILD: '/nonexistent-build' } }), /native library not built: run `npm install`/);
  oneErrorLine(t, await runCli(['switch'], { env: { CORO_BENCH_NATIVE_BUILD: '/nonexistent-build' } }), /native library not built/);
  oneErrorLine(t, await runCli(['echo'], { env: { CORO_BENCH_NATIVE_BUILD: '/nonexistent-build' } }), /not built/);
  if (!noLib) {
    oneErrorLine(t, await runCli(['echo', '--backend', 'nope']), /unknown backend "nope" \(valid: .+, all\)/);
  }
  if (!noEcho) {
    const dir = mkdtempSync(join(tmpdir(), 'coro-bench-bad-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    oneErrorLine(t, await runCli(['echo', '--export', join(dir, 'r.txt')]), /unknown extension ".txt"/);
    t.same(readdirSync(dir), [], 'nothing written for a bad export');
    const srv = createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    t.teardown(() => srv.close());
    const port = (srv.address() as AddressInfo).port;
    oneErrorLine(t, await runCli(['echo', '--port', String(port), '--runs', '1', '--warmup', '0']), new RegExp(`port ${port} is in use`));
  }
});

t.test('--help on every command has examples', async (t) => {
  for (const c of ['echo', 'switch', 'info', 'run', 'report', 'check', 'compare', 'soak']) {
    const r = await runCli([c, '--help']);
    t.equal(r.code, 0, `${c} --help exits 0`);
    t.match(r.stdout, /Examples:\n[\s\S]*^\s+coro-bench /m, `${c} --help shows examples`);
  }
});

t.test('a reader that closes the pipe early (| head -1): no stack trace, exit 0', async (t) => {
  const child = spawn(process.execPath, [CLI, 'compare', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Take the first chunk, then go away like head does.
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0, `exit 0 (stderr: ${stderr.trim()})`);
  t.notMatch(stderr, /EPIPE|at .*\.js:\d+/, 'no error or stack trace on stderr');
});
