// Security of the demo servers (echo_server, smtp_server and the peers
// epoll_echo and node_echo.mjs):
//  - they listen on 127.0.0.1 unless told otherwise;
//  - `!shutdown` (SMTP: SHUTDOWN) is refused from a peer that is not
//    loopback, unless the server was started with -R. A second loopback
//    address (127.0.0.2) or binding 0.0.0.0 cannot show that: the peer is
//    still loopback. So the server runs in its own network namespace
//    (`unshare -n`) where 192.0.2.1 (TEST-NET-1) is a local address, and the
//    client (test/fixtures/line-client.mjs, via nsenter) connects from it.
//    That needs root (CAP_SYS_ADMIN); without it the test is skipped and
//    says so;
//  - the SMTP spool never writes outside its folder, whatever the client
//    sends, and never follows a symlink planted in it.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { paths, ROOT } from '../cli/paths.js';
import { installReaper } from '../cli/workload/process.js';
import { sleep, Sockets, startServer, type Server } from './fault-helpers.js';
import { echoMissing } from './helpers.js';

installReaper();

const LINE_CLIENT = join(ROOT, 'test', 'fixtures', 'line-client.mjs');
const SMTP_READY = /smtp_server starting on port (\d+)/;
const REMOTE = '192.0.2.1';

interface ServerKind {
  name: string;
  argv: string[];
  ready?: RegExp;
  /** What it answers a refused shutdown with. */
  refused: RegExp;
  smtp: boolean;
}

const servers: ServerKind[] = [
  { name: 'echo_server', argv: [paths.echoServer], refused: /^-ERR /, smtp: false },
  { name: 'epoll_echo', argv: [paths.epollEcho], refused: /^-ERR /, smtp: false },
  { name: 'node_echo.mjs', argv: [process.execPath, paths.nodeEcho], refused: /^-ERR /, smtp: false },
  { name: 'smtp_server', argv: [paths.smtpServer], ready: SMTP_READY, refused: /^550 /, smtp: true },
];

const missing = echoMissing() ?? servers.map((s) => s.argv[s.argv.length - 1]).find((p) => !existsSync(p));
if (missing) t.fail(`not built: ${missing}`);

/** Address and port of every listening TCP socket on `port` (/proc/net/tcp and tcp6). */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A = LISTEN
      const [addr, p] = f[1].split(':');
      if (parseInt(p, 16) !== port) continue;
      if (addr.length === 8) {
        // IPv4, little-endian hex.
        out.push(`${[6, 4, 2, 0].map((i) => parseInt(addr.slice(i, i + 2), 16)).join('.')}`);
      } else {
        out.push(`ipv6:${addr}`);
      }
    }
  }
  return out;
}

t.test('every server listens on 127.0.0.1 by default', { skip: missing }, async (t) => {
  for (const s of servers) {
    const srv = await startServer(t, s.argv.slice(1), { program: s.argv[0], ready: s.ready });
    t.same(listeners(srv.port), ['127.0.0.1'], `${s.name}: only 127.0.0.1:${srv.port}`);
  }
});

// ---- !shutdown from a peer that is not loopback --------------------------

function netnsReason(): string | undefined {
  try {
    execFileSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && ip addr add ${REMOTE}/32 dev lo`], { stdio: 'ignore' });
    execFileSync('nsenter', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'needs root (CAP_SYS_ADMIN) for a network namespace (unshare -n, ip, nsenter); run the tests as root to cover it';
  }
}
const noNetns = missing ?? netnsReason();

/** Starts a server inside a new network namespace where REMOTE is a local address; listens on every address there. */
function startIsolated(t: Test, s: ServerKind, extra: string[]): Promise<Server> {
  const script = `ip link set lo up && ip addr add ${REMOTE}/32 dev lo && exec "$@"`;
  return startServer(t, ['-n', 'sh', '-c', script, 'sh', ...s.argv, '-a', '0.0.0.0', ...extra], { program: 'unshare', ready: s.ready });
}

interface Talk {
  local: string;
  greeting: string | null;
  replies: (string | null)[];
}

/** Runs the line client inside the server's namespace. */
function talk(srv: Server, host: string, s: ServerKind, lines: string[]): Promise<Talk> {
  return new Promise((resolve, reject) => {
    execFile(
      'nsenter',
      [`--net=/proc/${srv.pid}/ns/net`, process.execPath, LINE_CLIENT, host, String(srv.port), s.smtp ? '1' : '0', ...lines],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`line client: ${err.message} ${stderr}`));
        else resolve(JSON.parse(stdout) as Talk);
      },
    );
  });
}

for (const s of servers) {
  t.test(`${s.name}: shutdown refused from a non-loopback peer unless -R`, { skip: noNetns }, async (t) => {
    const shutdown = s.smtp ? 'SHUTDOWN' : '!shutdown';
    const probe = s.smtp ? 'NOOP' : 'still here';
    const hello = s.smtp ? ['HELO test'] : [];

    const srv = await startIsolated(t, s, []);
    const remote = await talk(srv, REMOTE, s, [...hello, shutdown, probe]);
    t.equal(remote.local, REMOTE, `the client's address is ${REMOTE}, not loopback`);
    const [refusal, after] = remote.replies.slice(hello.length);
    t.match(refusal, s.refused, `refused: ${JSON.stringify(refusal)}`);
    t.match(after, s.smtp ? /^250 / : /^still here$/, 'and the session goes on');
    await sleep(200);
    t.equal(srv.proc.exit, undefined, 'the server keeps running');

    // The same server obeys a loopback peer: the check is the peer's address.
    const local = await talk(srv, '127.0.0.1', s, [...hello, shutdown]);
    t.equal(local.local, '127.0.0.1');
    const exit = await srv.proc.wait(10_000);
    t.equal(exit?.code, 0, `a loopback peer stops it (${srv.proc.describeExit()})`);

    const open = await startIsolated(t, s, ['-R']);
    const allowed = await talk(open, REMOTE, s, [...hello, shutdown]);
    t.equal(allowed.local, REMOTE);
    if (s.smtp) t.match(allowed.replies[hello.length], /^221 /, 'with -R: 221');
    const exitR = await open.proc.wait(10_000);
    t.equal(exitR?.code, 0, `with -R a non-loopback peer stops it (${open.proc.describeExit()})`);
  });
}

// ---- the SMTP spool --------------------------------------------------------

/** Sends SMTP commands one at a time; returns one reply line per command (DATA bodies included as one step). */
async function smtp(socks: Sockets, port: number, steps: string[]): Promise<string[]> {
  const s = await socks.connect(port);
  let buf = '';
  s.setEncoding('latin1');
  const waiters: (() => void)[] = [];
  s.on('data', (d: string) => {
    buf += d;
    waiters.splice(0).forEach((w) => w());
  });
  const line = async (): Promise<string> => {
    for (let i = 0; i < 500; i++) {
      const at = buf.indexOf('\r\n');
      if (at >= 0) {
        const l = buf.slice(0, at);
        buf = buf.slice(at + 2);
        if (/^\d{3}-/.test(l)) continue; // a multi-line reply: keep its last line
        return l;
      }
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 20);
      });
    }
    throw new Error('no SMTP reply');
  };
  const replies = [await line()];
  for (const step of steps) {
    s.write(step.endsWith('\r\n') ? step : `${step}\r\n`);
    replies.push(await line());
  }
  s.end();
  return replies;
}

t.test('smtp_server: the spool never writes outside its folder', { skip: missing }, async (t) => {
  const top = mkdtempSync(join(tmpdir(), 'coro-spool-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const spool = join(top, 'spool');
  const outside = join(top, 'outside');
  mkdirSync(spool);
  mkdirSync(outside);
  const srv = await startServer(t, ['-d', spool], { program: paths.smtpServer, ready: SMTP_READY });
  const pid = srv.pid;

  // Symlinks under the names the first messages would get, pointing out.
  const planted = new Map<string, string>();
  for (let n = 1; n <= 3; n++) planted.set(`${n}-${pid}.tmp`, join(outside, `tmp-${n}`));
  planted.set(`4-${pid}.eml`, join(outside, 'eml-4')); // the final name of the first message
  for (const [name, target] of planted) symlinkSync(target, join(spool, name));

  const socks = new Sockets(t);
  // Dot-stuffed as a client must: "..." arrives as "../", ".." as ".".
  const body = ['Subject: ../../../etc/passwd', '', '.../../outside/tmp-1', '/etc/shadow', '..leading dot', '.'].join('\r\n');
  const replies = await smtp(socks, srv.port, [
    'HELO ../../host',
    `MAIL FROM:<../../../../${outside}/from>`,
    `RCPT TO:<${outside}/rcpt>`,
    'DATA',
    `${body}\r\n`,
    'MAIL FROM:<a@b>',
    'RCPT TO:<../../c@d>',
    'DATA',
    `${body}\r\n`,
    'QUIT',
  ]);
  t.match(replies, [/^220 /, /^250 /, /^250 /, /^250 /, /^354 /, /^451 /, /^250 /, /^250 /, /^354 /, /^250 .*queued as 5-/, /^221 /], `replies: ${replies.join(' | ')}`);

  t.same(readdirSync(outside), [], 'nothing was created outside the spool (no symlink followed)');
  t.same(readdirSync(top).sort(), ['outside', 'spool'], 'nothing beside it either');
  const entries = readdirSync(spool).sort();
  const files = entries.filter((n) => !planted.has(n));
  t.same(files, [`5-${pid}.eml`], 'one stored message, under a name the server made; no .tmp left');
  for (const n of planted.keys()) t.ok(lstatSync(join(spool, n)).isSymbolicLink(), `${n} is still the planted symlink`);
  t.ok(lstatSync(join(spool, files[0])).isFile(), 'the message is a regular file');
  t.equal(
    readFileSync(join(spool, files[0]), 'latin1'),
    'Subject: ../../../etc/passwd\r\n\r\n../../outside/tmp-1\r\n/etc/shadow\r\n.leading dot\r\n',
    'holding the body after unstuffing',
  );
});
