// Load from several hosts over ssh (issue 12). The pieces (ssh command line,
// failure words, overlap, options, echo_client's start barrier) everywhere;
// then, where root, ip and sshd are there (scripts/install-host-tools.sh),
// three network-namespace hosts made by scripts/netns-hosts.sh: the README
// workload from two client hosts against a server in the third, each way a
// host can fail, and one host's sshd killed in the middle of a run. Traffic
// goes only to 10.77.0.x addresses inside the namespaces this test made;
// everything is torn down (namespaces, bridge, processes, keys) even when a
// check fails.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseEchoOptions, type RawEchoOptions } from '../cli/commands/echo.js';
import { paths, ROOT } from '../cli/paths.js';
import type { EchoResult, ResultsDoc } from '../cli/results/types.js';
import { overlapWarnings } from '../cli/workload/echo-remote.js';
import { describeRemoteFailure, overlapOf, shellQuote, sshArgs } from '../cli/workload/remote.js';
import { startServer } from './fault-helpers.js';
import { cliMissing, echoMissing, runCli, type CliRun } from './helpers.js';

const NETNS = join(ROOT, 'scripts', 'netns-hosts.sh');
const noEcho = echoMissing() ?? cliMissing();

const base: RawEchoOptions = { conns: '100', txns: '100', size: '100', server: 'coro', runs: '1', warmup: '0', port: '0', timeout: '60' };

t.test('options: --client-hosts needs --bind, refuses what cannot work', async (t) => {
  const o = parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: '10.0.0.2, root@10.0.0.3', sshOption: ['Port=2222'], clients: '2' });
  t.same(o.clientHosts, ['10.0.0.2', 'root@10.0.0.3']);
  t.same(o.sshOptions, ['Port=2222']);
  t.equal(o.bind, '10.0.0.1');
  t.throws(() => parseEchoOptions({ ...base, clientHosts: '10.0.0.2' }), /--client-hosts needs --bind ADDR/);
  t.throws(() => parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: '-oProxyCommand=x' }), /not a host name/);
  t.throws(() => parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: 'a,a' }), /names a twice/);
  t.throws(() => parseEchoOptions({ ...base, bind: 'somewhere' }), /--bind wants an IP address/);
  t.throws(() => parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: 'a', remoteClient: 'build/echo_client' }), /absolute path/);
  t.throws(() => parseEchoOptions({ ...base, sshOption: ['Port=22'] }), /--ssh-option goes with --client-hosts/);
  t.throws(() => parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: 'a', sshOption: ['-F x'] }), /Keyword=value/);
  t.throws(() => parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: 'a', raw: true }), /--raw/);
  t.throws(() => parseEchoOptions({ ...base, bind: '10.0.0.1', clientHosts: 'a,b', clients: '60' }), /--clients 120 is more than the 100/);
});

t.test('ssh command line: the user\'s -o first (ssh keeps the first value), BatchMode, exec of a quoted argv', async (t) => {
  const args = sshArgs({ options: ['ConnectTimeout=3'], clientPath: '/x' }, 'h', ['/opt/my bench/echo_client', '--json', "it's"]);
  t.same(args.slice(0, 3), ['-T', '-o', 'ConnectTimeout=3']);
  t.ok(args.includes('BatchMode=yes'));
  t.same(args.slice(-3), ['h', '--', `exec '/opt/my bench/echo_client' --json 'it'\\''s'`]);
  t.equal(shellQuote('10.0.0.1'), '10.0.0.1');
});

t.test('failure words name what went wrong', async (t) => {
  const f = (code: number | null, err: string, started = false): string =>
    describeRemoteFailure({ code, signal: null }, err.split('\n'), '/bin/echo_client', started);
  t.match(f(255, 'ssh: connect to host 10.77.0.9 port 22: Connection refused'), /^cannot be reached over ssh: ssh: connect/);
  t.match(f(255, 'root@10.77.0.1: Permission denied (publickey).'), /^ssh refused the login/);
  t.match(f(255, 'No ED25519 host key is known for 10.77.0.1 and you have requested strict checking.\nHost key verification failed.'), /^ssh does not trust the host's key/);
  t.match(f(127, 'sh: 1: exec: /bin/echo_client: not found'), /^no runnable echo_client at \/bin\/echo_client/);
  t.match(f(255, 'Connection to 10.77.0.1 closed by remote host.', true), /^ssh connection lost during the run/);
  t.match(f(1, 'echo_client: boom'), /exit status 1: echo_client: boom/);
  t.match(describeRemoteFailure(undefined, [], '/x', false), /did not answer in time/);
});

t.test('overlap: common time over total time, and the start spread', async (t) => {
  t.same(overlapOf([{ start_ns: 0, end_ns: 100 }, { start_ns: 0, end_ns: 100 }]), { overlap_percent: 100, start_spread_us: 0, end_spread_us: 0 });
  t.same(overlapOf([{ start_ns: 0, end_ns: 100_000 }, { start_ns: 20_000, end_ns: 120_000 }]), { overlap_percent: 66.7, start_spread_us: 20, end_spread_us: 20 });
  t.equal(overlapOf([{ start_ns: 0, end_ns: 10 }, { start_ns: 20, end_ns: 30 }]).overlap_percent, 0, 'disjoint runs: 0, never negative');
});

t.test('a poor overlap is one warning per result, a good one none', async (t) => {
  const withOverlap = (xs: number[]): EchoResult =>
    ({ name: 'coro/epoll', samples: xs.map((overlap_percent) => ({ client_hosts: { overlap_percent } })) }) as unknown as EchoResult;
  t.same(overlapWarnings([withOverlap([99, 97, 60])]), [], 'median 97 %: no warning');
  const w = overlapWarnings([withOverlap([70, 85, 99])]);
  t.equal(w.length, 1);
  t.match(w[0], /^coro\/epoll: the client hosts overlapped 85\.0 % of the measured span \(median\)/);
  t.same(overlapWarnings([{ name: 'x', samples: [{}] } as unknown as EchoResult]), [], 'local clients: nothing to say');
});

/** Runs echo_client --barrier against a local server, feeding `input` lines with pauses; returns its exit and output. */
function barrierClient(port: number, steps: { after_ms: number; line?: string; close?: boolean }[], txns = 100): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(paths.echoClient, ['--json', '--no-bench', '--barrier', '127.0.0.1', String(port), '4', String(txns), '100'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.stdin.on('error', () => undefined);
    const kill = setTimeout(() => c.kill('SIGKILL'), 30_000);
    let at = 0;
    for (const s of steps) {
      at += s.after_ms;
      setTimeout(() => (s.close ? c.stdin.end() : c.stdin.write(`${s.line}\n`)), at);
    }
    c.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('echo_client --barrier: ready, sync, go; exits as soon as stdin closes', { skip: echoMissing() }, async (t) => {
  const server = await startServer(t, []);
  const ok = await barrierClient(server.port, [{ after_ms: 300, line: 'sync' }, { after_ms: 100, line: 'go' }]);
  const lines = ok.stdout.trim().split('\n');
  t.equal(ok.code, 0, ok.stderr);
  t.match(lines[0], /^ready 4 \d+$/, 'all 4 connections open before anything starts');
  t.match(lines[1], /^sync \d+$/);
  t.match(lines[2], /^go \d+$/);
  const report = JSON.parse(lines[3]) as { transactions: number; start_ns: number; mismatches: number };
  t.equal(report.transactions, 400);
  t.equal(report.mismatches, 0);
  t.equal(report.start_ns, Number(lines[2].split(' ')[1]), 'the measured interval starts at "go"');
  t.ok(Number(lines[2].split(' ')[1]) - Number(lines[0].split(' ')[2]) >= 90e6, 'no transaction before "go" (~100 ms after ready)');

  const early = await barrierClient(server.port, [{ after_ms: 200, close: true }]);
  t.equal(early.code, 3, 'stdin closed before go: exit 3');
  t.match(early.stderr, /stdin closed before "go"/);
  t.notMatch(early.stdout, /transactions/, 'no report: nothing ran');

  const mid = await barrierClient(server.port, [{ after_ms: 200, line: 'go' }, { after_ms: 200, close: true }], 10_000_000);
  t.equal(mid.code, 3, 'stdin closed during the run: exit 3 at once, not after 40 million transactions');
  t.match(mid.stderr, /stdin closed during the run/);
});

// ---------------------------------------------------------------------------
// Namespace hosts.

function hostsMissing(): string | undefined {
  if (noEcho) return noEcho;
  try {
    execFileSync('bash', [NETNS, 'check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return undefined;
  } catch (err) {
    const why = String((err as { stdout?: string }).stdout ?? '').trim() || (err as Error).message;
    return `namespace test hosts: ${why}`;
  }
}

const missing = hostsMissing();
// On CI, as root, the install script provides sshd, ssh and ip: a skip for
// their absence would hide a broken set-up. A kernel or container that
// refuses network namespaces is still only said, in one line.
const mustRun = process.env.CI === 'true' && process.getuid?.() === 0 && !/cannot create network namespaces/.test(missing ?? '');
if (missing && !mustRun) {
  t.comment(`skipping the namespace-hosts tests: ${missing}`);
}

t.test('namespace hosts', { skip: missing && !mustRun ? missing : false }, async (t) => {
  if (missing) {
    t.fail(`CI=true as root, but ${missing}`);
    return;
  }
  const name = `cbh${process.pid % 100000}`;
  const dir = mkdtempSync(join(tmpdir(), 'coro-bench-hosts-'));
  const down = (): void => {
    execFileSync('bash', [NETNS, 'down', name, dir], { stdio: 'ignore' });
  };
  t.teardown(down);
  // A kill of this test (a timeout) still tears down.
  const onSignal = (): void => {
    down();
    process.exit(1);
  };
  process.once('SIGTERM', onSignal);
  t.teardown(() => process.removeListener('SIGTERM', onSignal));
  execFileSync('bash', [NETNS, 'up', name, '3', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const env = readFileSync(join(dir, 'env'), 'utf8');
  const sshOpts = /SSH_OPTS=\((.*)\)/.exec(env)?.[1].split(' ') ?? [];
  const stranger = /STRANGER_KEY=(\S+)/.exec(env)?.[1] ?? '';
  const [h1, h2, srv] = ['10.77.0.1', '10.77.0.2', '10.77.0.3'];
  const sshArgsOf = (opts: string[]): string[] => opts.flatMap((o) => ['--ssh-option', o]);

  /** coro-bench in the server's namespace. */
  const cli = (args: string[], during?: (pid: number) => void): Promise<CliRun> => runCli(args, { prefix: ['ip', 'netns', 'exec', `${name}-3`], onSpawn: during });
  /** Processes in namespace i whose name matches. */
  const inNs = (i: number, comm: RegExp): number[] =>
    execFileSync('ip', ['netns', 'pids', `${name}-${i}`], { encoding: 'utf8' })
      .split('\n')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return comm.test(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
        } catch {
          return false;
        }
      })
      .map(Number);
  const clientsLeft = async (): Promise<number[]> => {
    // A remote client ends when its stdin closes: give that a moment (far
    // less than what is left of the killed run, so a client that ran on
    // would be caught).
    for (let i = 0; i < 10; i++) {
      const left = [1, 2, 3].flatMap((n) => inNs(n, /^echo_(client|server)$/));
      if (left.length === 0) return [];
      await new Promise((r) => setTimeout(r, 100));
    }
    return [1, 2, 3].flatMap((n) => inNs(n, /^echo_(client|server)$/));
  };
  const common = ['--bind', srv, ...sshArgsOf(sshOpts), '--timeout', '60'];

  await t.test('README workload from two client hosts: exact merged count, zero mismatches, per-host figures', async (t) => {
    const r = await cli(['echo', '--conns', '100', '--txns', '100', '--size', '100', '--runs', '2', '--warmup', '0', '--json', '--client-hosts', `${h1},${h2}`, ...common]);
    t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.trim().split('\n').slice(-2).join(' | ')})`);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    const res = doc.results[0] as EchoResult;
    t.equal(doc.failures.length, 0);
    t.equal(res.samples.length, 2);
    for (const s of res.samples) {
      t.equal(s.transactions, 10_000, 'merged: exactly 100 x 100');
      t.equal(s.mismatches, 0);
      t.equal(s.errors, 0);
      const ch = s.client_hosts;
      if (!ch) {
        t.fail('no client_hosts figures');
        continue;
      }
      t.same(ch.hosts.map((h) => [h.host, h.conns, h.transactions]), [[h1, 50, 5000], [h2, 50, 5000]], 'each host: its share, all of it done');
      t.ok(ch.overlap_percent > 0 && ch.overlap_percent <= 100, `overlap ${ch.overlap_percent} % in (0, 100]`);
      // One kernel, one CLOCK_MONOTONIC: the true offset is 0, so the
      // estimate must lie within its own bound.
      for (const h of ch.hosts) t.ok(Math.abs(h.clock_offset_us) <= h.clock_uncertainty_us + 1, `${h.host}: offset ${h.clock_offset_us} us within ±${h.clock_uncertainty_us} us`);
    }
    t.match(doc.environment.pinning, /clients on 10\.77\.0\.1, 10\.77\.0\.2/);
    t.same(await clientsLeft(), [], 'no client or server left in any namespace');
  });

  await t.test('--target: a server already running in the third namespace, loaded from two hosts', async (t) => {
    const server = spawn('ip', ['netns', 'exec', `${name}-3`, paths.echoServer, '-a', srv, '-P', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.teardown(() => {
      server.kill('SIGKILL');
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /starting on port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.on('close', () => reject(new Error(`echo_server ended: ${out}`)));
    });
    const r = await cli(['echo', '--conns', '100', '--txns', '100', '--size', '100', '--runs', '1', '--warmup', '0', '--json', '--target', `ns3=${srv}:${port}`, '--client-hosts', `${h1},${h2}`, ...sshArgsOf(sshOpts)]);
    t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.trim().split('\n').slice(-2).join(' | ')})`);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    const res = doc.results[0] as EchoResult;
    t.equal(res.name, 'ns3');
    t.equal(res.samples[0]?.transactions, 10_000);
    t.equal(res.samples[0]?.mismatches, 0);
    t.ok(res.samples[0]?.server_rusage && res.samples[0].server_rusage.utime_us + res.samples[0].server_rusage.stime_us > 0, 'the target\'s own figures for the run (!bench json before and after)');
    t.equal(server.exitCode, null, 'a --target is never stopped');
  });

  await t.test('a host that cannot take part: one error line naming it, nothing run', async (t) => {
    const cases: [string, string[], RegExp][] = [
      // Port 1 of a test host: nothing listens there.
      ['unreachable', ['--client-hosts', `${h1},${h2}`, '--ssh-option', 'Port=1', ...common], /^error: client host 10\.77\.0\.1: cannot be reached over ssh: .*port 1: Connection refused/],
      // IdentityFile adds up in ssh: the stranger key replaces the client key.
      ['key refused', ['--client-hosts', `${h1},${h2}`, '--bind', srv, ...sshArgsOf(sshOpts.map((o) => (o.startsWith('IdentityFile=') ? `IdentityFile=${stranger}` : o)))], /^error: client host 10\.77\.0\.1: ssh refused the login \(key not accepted\): .*Permission denied/],
      ['no client binary', ['--client-hosts', `${h1},${h2}`, '--remote-client', '/nonexistent/echo_client', ...common], /^error: client host 10\.77\.0\.1: no runnable echo_client at \/nonexistent\/echo_client there/],
    ];
    for (const [what, args, want] of cases) {
      const r = await cli(['echo', '--conns', '10', '--txns', '10', '--runs', '1', '--warmup', '0', ...args]);
      t.equal(r.code, 2, `${what}: exit 2`);
      const lines = r.stderr.trim().split('\n');
      t.equal(lines.length, 1, `${what}: one line (${JSON.stringify(r.stderr)})`);
      t.match(lines[0], want, what);
      t.equal(r.stdout, '', `${what}: no results`);
    }
    t.same(await clientsLeft(), [], 'nothing left running');
  });

  await t.test('one host\'s sshd killed mid-run: the run fails naming it, no orphan, the earlier run kept', async (t) => {
    let firstPid: number | undefined;
    let killed = false;
    let poll: NodeJS.Timeout | undefined;
    const r = await cli(
      ['echo', '--conns', '20', '--txns', '4000', '--size', '100', '--runs', '2', '--warmup', '0', '--json', '--client-hosts', `${h1},${h2}`, ...common],
      () => {
        // The second run's client on host 1 is a new process: kill host 1's
        // sshd (the listener and its sessions) shortly after it appears.
        poll = setInterval(() => {
          const cs = inNs(1, /^echo_client$/);
          if (firstPid === undefined && cs.length > 0) firstPid = cs[0];
          if (!killed && cs.some((p) => p !== firstPid)) {
            killed = true;
            setTimeout(() => {
              for (const p of inNs(1, /^sshd/)) process.kill(p, 'SIGKILL');
            }, 300);
          }
        }, 20);
      },
    );
    clearInterval(poll);
    t.ok(killed, 'the second run was caught running');
    t.equal(r.code, 1, 'the command fails');
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    const res = doc.results[0] as EchoResult;
    t.equal(res.samples.length, 1, 'the first run is kept');
    t.equal(res.samples[0]?.transactions, 80_000, 'with its exact count');
    t.equal(doc.failures.length, 1);
    t.match(doc.failures[0]?.error, /^client host 10\.77\.0\.1: ssh connection lost during the run/, 'the failure names the host');
    const lines = r.stderr.split('\n').filter((l) => l.includes('10.77.0.1') && /failed/.test(l));
    t.equal(lines.length, 1, `one error line naming the host: ${JSON.stringify(lines)}`);
    t.same(await clientsLeft(), [], 'no orphan client on any host (nor a server)');
  });
});

t.test('the hosts test leaves no namespace of its own behind', { skip: missing }, async (t) => {
  const mine = `cbh${process.pid % 100000}-`;
  const left = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(mine)) : [];
  t.same(left, []);
});
