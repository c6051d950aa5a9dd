// Security of the demo servers (echo_server, smtp_server and the peers
// epoll_echo and node_echo.mjs):
//  - they listen on 127.0.0.1 unless told otherwise;
//  - `!shutdown` (SMTP: SHUTDOWN) is refused from a peer that is not
//    loopback, unless the server was started with -R. A second loopback
//    address (127.0.0.2) or binding 0.0.0.0 cannot show that: the peer is
//    still loopback. So the server runs in its own network namespace where
//    192.0.2.1 (TEST-NET-1) is a local address, and the client
//    (test/fixtures/line-client.mjs, via nsenter) connects from it. The
//    namespace is an unprivileged user + network namespace (`unshare -rn`)
//    wherever the kernel allows one, so no root is needed; as root, the
//    same runs once more as an unprivileged user (setpriv) to prove it.
//    Where the kernel forbids unprivileged user namespaces, root falls back
//    to a plain `unshare -n`, and anyone else skips, saying so in one line;
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

/**
 * How the test makes its namespaces: `unshare` flags, and whether nsenter
 * must enter the user namespace too (to hold CAP_SYS_ADMIN over the network
 * namespace without root). `asUser` runs both sides as another user.
 */
interface Netns {
  unshare: string[];
  enterUser: boolean;
  asUser: string[];
}

const SETUP = `ip link set lo up && ip addr add ${REMOTE}/32 dev lo`;

/** The first line of a failed command's stderr. */
function firstLine(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message: string };
  return (String(e.stderr ?? '').trim() || e.message).split('\n')[0];
}

/** `unshare ... sh -c SETUP` as the given user: undefined if it works, else why not. */
function tryNetns(asUser: string[], flags: string[]): string | undefined {
  try {
    const [cmd, ...args] = [...asUser, 'unshare', ...flags, 'sh', '-c', SETUP];
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    return undefined;
  } catch (err) {
    return firstLine(err);
  }
}

const isRoot = process.getuid?.() === 0;

/** Why nobody cannot run echo_server and the line client, or undefined. */
function nobodyCannotRun(): string | undefined {
  const need = [paths.echoServer, process.execPath, LINE_CLIENT];
  try {
    const [cmd, ...args] = [...NOBODY, 'sh', '-c', 'test -x "$1" && test -x "$2" && test -r "$3"', 'sh', ...need];
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch {
    return `it cannot reach ${need.join(', ')}`;
  }
}
/** An unprivileged user (nobody) for root to run the same check as. */
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

function netnsModes(): { modes: [string, Netns][]; reason?: string } {
  try {
    execFileSync('nsenter', ['--version'], { stdio: 'ignore' });
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return { modes: [], reason: 'nsenter (util-linux) or ip (iproute2) is not installed' };
  }
  const userns = tryNetns([], ['-rn']);
  if (userns === undefined) {
    const modes: [string, Netns][] = [['unshare -rn', { unshare: ['-rn'], enterUser: true, asUser: [] }]];
    // As root, prove that no privilege is needed: the same as nobody, when
    // nobody can reach the programs (a checkout under /root cannot).
    if (isRoot) {
      const why = tryNetns(NOBODY, ['-rn']) ?? nobodyCannotRun();
      if (why === undefined) modes.push(['unshare -rn as nobody', { unshare: ['-rn'], enterUser: true, asUser: NOBODY }]);
      else t.comment(`the run as an unprivileged user (nobody) is left out: ${why}`);
    }
    return { modes };
  }
  if (isRoot && tryNetns([], ['-n']) === undefined) {
    t.comment(`the kernel refuses an unprivileged user namespace (unshare -rn: ${userns}); as root, using unshare -n`);
    return { modes: [['unshare -n', { unshare: ['-n'], enterUser: false, asUser: [] }]] };
  }
  return {
    modes: [],
    reason: `no network namespace allowed here: unshare -rn says "${userns}" (unprivileged user namespaces disabled?) and unshare -n needs root`,
  };
}
const netns = missing ? { modes: [], reason: missing } : netnsModes();

/** Starts a server inside a new network namespace where REMOTE is a local address; listens on every address there. */
function startIsolated(t: Test, s: ServerKind, extra: string[], ns: Netns): Promise<Server> {
  const [program, ...pre] = [...ns.asUser, 'unshare'];
  return startServer(t, [...pre, ...ns.unshare, 'sh', '-c', `${SETUP} && exec "$@"`, 'sh', ...s.argv, '-a', '0.0.0.0', ...extra], {
    program,
    ready: s.ready,
  });
}

interface Talk {
  local: string;
  greeting: string | null;
  replies: (string | null)[];
}

/** Runs the line client inside the server's namespace. */
function talk(srv: Server, host: string, s: ServerKind, lines: string[], ns: Netns): Promise<Talk> {
  const [program, ...pre] = [...ns.asUser, 'nsenter'];
  // --preserve-credentials: after unshare -r, setgroups(2) is denied in the
  // namespace, and the uid we have is already the one mapped to its root.
  const enter = [
    ...(ns.enterUser ? [`--user=/proc/${srv.pid}/ns/user`, '--preserve-credentials'] : []),
    `--net=/proc/${srv.pid}/ns/net`,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      program,
      [...pre, ...enter, process.execPath, LINE_CLIENT, host, String(srv.port), s.smtp ? '1' : '0', ...lines],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`line client: ${err.message} ${stderr}`));
        else resolve(JSON.parse(stdout) as Talk);
      },
    );
  });
}


/** The non-loopback shutdown checks of one server, in one kind of namespace. */
function shutdownChecks(s: ServerKind, mode: string, ns: Netns): void {
  t.test(`${s.name}: shutdown refused from a non-loopback peer unless -R (${mode})`, async (t) => {
    const shutdown = s.smtp ? 'SHUTDOWN' : '!shutdown';
    const probe = s.smtp ? 'NOOP' : 'still here';
    const hello = s.smtp ? ['HELO test'] : [];

    const srv = await startIsolated(t, s, [], ns);
    const remote = await talk(srv, REMOTE, s, [...hello, shutdown, probe], ns);
    t.equal(remote.local, REMOTE, `the client's address is ${REMOTE}, not loopback`);
    const [refusal, after] = remote.replies.slice(hello.length);
    t.match(refusal, s.refused, `refused: ${JSON.stringify(refusal)}`);
    t.match(after, s.smtp ? /^250 / : /^still here$/, 'and the session goes on');
    await sleep(200);
    t.equal(srv.proc.exit, undefined, 'the server keeps running');

    // The same server obeys a loopback peer: the check is the peer's address.
    const local = await talk(srv, '127.0.0.1', s, [...hello, shutdown], ns);
    t.equal(local.local, '127.0.0.1');
    const exit = await srv.proc.wait(10_000);
    t.equal(exit?.code, 0, `a loopback peer stops it (${srv.proc.describeExit()})`);

    const open = await startIsolated(t, s, ['-R'], ns);
    const allowed = await talk(open, REMOTE, s, [...hello, shutdown], ns);
    t.equal(allowed.local, REMOTE);
    if (s.smtp) t.match(allowed.replies[hello.length], /^221 /, 'with -R: 221');
    const exitR = await open.proc.wait(10_000);
    t.equal(exitR?.code, 0, `with -R a non-loopback peer stops it (${open.proc.describeExit()})`);
  });
}

// Said in one line when they cannot run here.
if (netns.modes.length === 0) t.test('shutdown refused from a non-loopback peer unless -R', { skip: netns.reason }, () => {});
for (const [mode, ns] of netns.modes) {
  for (const s of servers) {
    // As nobody, one server is enough to show the namespaces need no root.
    if (ns.asUser.length === 0 || s.name === 'echo_server') shutdownChecks(s, mode, ns);
  }
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
