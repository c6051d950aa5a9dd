// Fault injection against the demo echo server, on every backend of the
// build: clients that vanish, reset, half-close, send an endless line,
// trickle, stop reading; accept under EMFILE; a session that dies of an
// error; a coroutine that overflows the shared stack; TLS clients that send
// garbage or drop mid-handshake.
//
// After each fault a normal client (native echo_client, every byte
// verified) must be served, and the server must hold exactly the fds it
// held before (its sessions for the fault's connections closed), and its RSS
// must not grow beyond RSS_SLACK_KIB while the fault is repeated.
//
// How the RSS check works and why it has a tolerance: each fault is run
// once first (a warm-up: the first occurrence may legitimately grow the
// heap's high-water mark, e.g. a 64 KiB line buffer, and touch new pages of
// the shared stack, which stay resident), then RSS is read, the fault is
// repeated REPS times, and RSS is read again. RSS counts pages, not bytes:
// glibc's malloc keeps freed memory for reuse and returns it to the kernel
// only in large steps, and page-granular noise (a few 4 KiB pages of stack,
// stdio, the kernel's accounting of file pages) moves it by tens of KiB
// without any leak. RSS_SLACK_KIB (256 KiB) is above that noise and below
// what the smallest leak we guard against would cost over the repetitions:
// each fault is repeated so that leaking one line buffer (64 KiB) or one
// session with its stream per occurrence exceeds it. A leaked session also
// shows up exactly in the fd count.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t, { type Test } from 'tap';
import { paths } from '../cli/paths.js';
import { installReaper, LineTail } from '../cli/workload/process.js';
import {
  assertServed,
  benchJson,
  collect,
  cpuMs,
  fdCount,
  readBytes,
  serverBackends,
  settled,
  sleep,
  Sockets,
  startServer,
  resting,
  waitFor,
  write,
  HOST,
  type Server,
} from './fault-helpers.js';
import { echoMissing } from './helpers.js';

// Whatever happens to this file's process, the servers it started go too.
installReaper();

const RSS_SLACK_KIB = 256;
const noEcho = echoMissing();
const backends = noEcho ? [] : serverBackends();
if (!noEcho) t.ok(backends.length > 0, `echo_server --list-backends names the backends (${backends.join(', ')})`);

const ERR_TOO_LONG = '-ERR line too long\r\n';

/** One kind of fault: `run` injects one occurrence of it. */
interface Fault {
  name: string;
  /** Repetitions after the warm-up occurrence (see the header on RSS). */
  reps: number;
  run: (t: Test, srv: Server, socks: Sockets) => Promise<void>;
}

/**
 * Runs a fault once, checks the server serves a normal client and is back to
 * `baseFds`, repeats it `reps` times, and checks again, RSS included.
 */
async function injectAndCheck(t: Test, srv: Server, baseFds: number, fault: Fault, clientArgs: string[] = []): Promise<void> {
  const socks = new Sockets(t);
  await fault.run(t, srv, socks);
  socks.destroyAll();
  await assertServed(t, srv.port, 'after the first fault', 4, 20, 64, clientArgs);
  const before = await settled(srv.pid, baseFds);
  t.equal(before.fds, baseFds, `fds back to ${baseFds} after the first fault`);
  for (let i = 0; i < fault.reps; i++) {
    await fault.run(t, srv, socks);
    socks.destroyAll();
  }
  await assertServed(t, srv.port, `after ${fault.reps} more`, 4, 20, 64, clientArgs);
  const after = await settled(srv.pid, baseFds);
  t.equal(after.fds, baseFds, `no fd leak: ${after.fds} open fds, as before the fault`);
  const growth = after.rssKib - before.rssKib;
  t.ok(growth <= RSS_SLACK_KIB, `no memory growth: RSS ${before.rssKib} -> ${after.rssKib} KiB over ${fault.reps} repetitions (at most +${RSS_SLACK_KIB})`);
}

/** Server's `!bench json` block counts, asked on a fresh connection. */
async function benchBlocks(port: number, socks: Sockets): Promise<{ read_block: number; write_block: number }> {
  const b = await benchJson(port, socks);
  return { read_block: b.read_block as number, write_block: b.write_block as number };
}

/** Lines "fault-<tag>-<i> <padding>\r\n" of `size` bytes each. */
function lines(tag: string, count: number, size: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const head = `fault-${tag}-${i} `;
    parts.push(head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '\r\n');
  }
  return Buffer.from(parts.join(''), 'latin1');
}

// ---- faults against a plain server ------------------------------------------

const plainFaults: Fault[] = [
  {
    name: 'clients that connect and vanish (FIN, RST, mid-line FIN)',
    reps: 4,
    run: async (_t, srv, socks) => {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        const s = await socks.connect(srv.port);
        const out = collect(s);
        if (i % 3 === 0) s.end();
        else if (i % 3 === 1) s.resetAndDestroy();
        else s.end('a line that never ends');
        all.push(out);
      }
      await Promise.all(all);
    },
  },
  {
    name: 'reset mid-line and reset while the server writes',
    reps: 4,
    run: async (t, srv, socks) => {
      for (let i = 0; i < 20; i++) {
        const s = await socks.connect(srv.port);
        await write(s, `partial line ${i} without its end`);
        s.resetAndDestroy();
      }
      // 1 MiB of lines not read: the server is writing their echoes when
      // the RST comes.
      const s = await socks.connect(srv.port);
      s.pause();
      s.write(lines('rst', 1024, 1024));
      await sleep(50);
      s.resetAndDestroy();
      t.pass('resets sent');
    },
  },
  {
    name: 'half-close: end() then read the echo',
    reps: 8,
    run: async (t, srv, socks) => {
      const s = await socks.connect(srv.port);
      const out = collect(s);
      const sent = lines('half', 50, 100);
      s.end(sent);
      const r = await out;
      t.ok(r.data.equals(sent), `every line echoed after our FIN (${r.data.length} of ${sent.length} bytes)`);
      t.ok(r.ended && !r.error, `then the server closed cleanly (${r.error ?? 'FIN'})`);

      const p = await socks.connect(srv.port);
      const pout = collect(p);
      p.end('half a line, then FIN');
      const pr = await pout;
      t.ok(pr.data.length === 0 && pr.ended, 'a line cut by FIN is not echoed; the server closes');
    },
  },
  {
    name: '10 MB without a newline',
    reps: 6,
    run: async (t, srv, socks) => {
      // A client that reads while it writes: 10 MB offered in 64 KiB
      // writes, one per millisecond, stopping (FIN) as soon as the reply
      // arrives. (Without the pause the kernel's buffers take over 1 MiB
      // before any reply could arrive, the server's bounded drain ends, and
      // its close turns into a RST that Node reports as EPIPE, discarding
      // the reply it had received: the blind sender below.)
      const s = await socks.connect(srv.port);
      const out = collect(s, 10_000);
      let answered = false;
      s.once('data', () => (answered = true));
      const chunk = Buffer.alloc(64 * 1024, 'y');
      let sent = 0;
      try {
        while (!answered && sent < 10 * 1024 * 1024) {
          await write(s, chunk);
          sent += chunk.length;
          await sleep(1);
        }
      } catch {
        // A reset is judged from the outcome below.
      }
      s.end();
      const r = await out;
      t.equal(r.data.toString('latin1'), ERR_TOO_LONG, `answered ${JSON.stringify(ERR_TOO_LONG)} and nothing else (after ${sent >> 10} KiB)`);
      t.ok(r.ended && !r.error, `then closed cleanly (${r.error ?? 'FIN'})`);

      // A client that writes all 10 MB blindly: the server drains at most
      // 1 MiB for at most 1 s after its reply, then closes with our input
      // unread, which the kernel turns into a RST: we only require that the
      // session ends and the server stays healthy.
      const b = await socks.connect(srv.port);
      const bout = collect(b, 10_000);
      b.write(Buffer.alloc(10 * 1024 * 1024, 'z'));
      const br = await bout;
      t.ok(br.ended || br.error === 'ECONNRESET' || br.error === 'EPIPE', `a blind 10 MB sender is cut off (${br.error ?? 'FIN'})`);
    },
  },
  {
    name: 'trickle: one byte per write',
    reps: 2,
    run: async (t, srv, socks) => {
      const ss = await Promise.all([0, 1, 2, 3].map(() => socks.connect(srv.port)));
      const texts = ss.map((_, i) => `trickled line ${i} across many tiny segments\r\n`);
      const echoes = ss.map((s, i) => readBytes(s, texts[i].length, 10_000));
      for (let b = 0; b < texts[0].length; b++) {
        await Promise.all(ss.map((s, i) => write(s, texts[i].slice(b, b + 1))));
        await sleep(1);
      }
      const got = await Promise.all(echoes);
      got.forEach((g, i) => t.equal(g.toString('latin1'), texts[i], `trickled line ${i} echoed whole`));
    },
  },
  {
    name: 'a peer that stops reading while the server writes',
    reps: 2,
    run: async (t, srv, socks) => {
      const before = await benchBlocks(srv.port, socks);
      const stuck = await socks.connect(srv.port);
      stuck.pause(); // never read: the echoes fill both socket buffers
      stuck.write(lines('stuck', 16 * 1024, 1024)); // 16 MiB
      let wb = before.write_block;
      for (let i = 0; i < 100 && wb === before.write_block; i++) {
        await sleep(20);
        wb = (await benchBlocks(srv.port, socks)).write_block;
      }
      t.ok(wb > before.write_block, `the stuck session's echo blocked in write (write_block ${before.write_block} -> ${wb})`);
      // Meanwhile the others are served, promptly.
      const started = Date.now();
      await assertServed(t, srv.port, 'while one peer does not read', 8, 50, 100);
      const ms = Date.now() - started;
      t.ok(ms < 5_000, `served in ${ms} ms while the stuck session waits`);
      stuck.destroy();
    },
  },
];

for (const backend of backends) {
  t.test(`${backend}: faults against a plain server`, async (t) => {
    const srv = await startServer(t, ['-b', backend]);
    await assertServed(t, srv.port, 'warm-up');
    const base = await resting(srv.pid);
    t.comment(`${backend}: ${base.fds} fds, RSS ${base.rssKib} KiB at rest`);
    for (const fault of plainFaults) {
      await t.test(fault.name, (t) => injectAndCheck(t, srv, base.fds, fault));
    }
    t.equal(srv.proc.exit, undefined, 'the server is still running');
  });

  t.test(`${backend}: accept under EMFILE (open-files limit 64)`, async (t) => {
    const LIMIT = 64;
    const srv = await startServer(t, ['-b', backend], { files: LIMIT });
    await assertServed(t, srv.port, 'warm-up', 2, 10, 32);
    const base = await resting(srv.pid);
    const socks = new Sockets(t);
    const held: Socket[] = [];
    for (let i = 0; i < LIMIT + 40; i++) held.push(await socks.connect(srv.port));
    t.ok(await waitFor(() => fdCount(srv.pid) >= LIMIT, 5_000), `the server reached its limit of ${LIMIT} fds (${fdCount(srv.pid)})`);
    t.ok(await waitFor(() => /Too many open files/.test(srv.proc.stderrTail.get().join('\n')), 2_000), 'it says why it cannot accept');
    t.equal(srv.proc.stderrTail.get().filter((l) => /accept:/.test(l)).length, 1, 'once, not once per retry');

    // The backlog still holds connections it cannot accept: it must back
    // off, not spin on the listener.
    const cpu0 = cpuMs(srv.pid);
    await sleep(1000);
    const cpu = cpuMs(srv.pid) - cpu0;
    t.ok(cpu < 300, `no spinning: ${cpu} ms of CPU in 1 s at the fd limit`);

    // Sessions it did accept are served meanwhile.
    const first = held[0];
    const echo = readBytes(first, 12);
    first.write('still here\r\n');
    t.equal((await echo).toString('latin1'), 'still here\r\n', 'an accepted session is served at the limit');

    socks.destroyAll();
    const after = await settled(srv.pid, base.fds, 5_000);
    t.equal(after.fds, base.fds, `every fd released once the clients left (${after.fds})`);
    await assertServed(t, srv.port, 'after the fd limit was hit', 4, 20, 64);
    t.equal(srv.proc.exit, undefined, 'the server is still running');
  });

  t.test(`${backend}: a session that dies of an error (-X !crash)`, async (t) => {
    const srv = await startServer(t, ['-b', backend, '-X']);
    await assertServed(t, srv.port, 'warm-up');
    const base = await resting(srv.pid);
    let crashes = 0;
    const fault: Fault = {
      name: 'crash one session while another is mid-conversation',
      reps: 5,
      run: async (t, s, socks) => {
        const a = await socks.connect(s.port);
        let echo = readBytes(a, 8);
        a.write('before\r\n');
        t.equal((await echo).toString('latin1'), 'before\r\n');
        const b = await socks.connect(s.port);
        const bout = collect(b);
        b.write('!crash\r\n');
        const br = await bout;
        crashes++;
        t.ok(br.data.length === 0 && (br.ended || br.error === 'ECONNRESET'), 'the failing session is closed');
        echo = readBytes(a, 7);
        a.write('after\r\n');
        t.equal((await echo).toString('latin1'), 'after\r\n', 'the other session carries on');
        a.end();
      },
    };
    await injectAndCheck(t, srv, base.fds, fault);
    const died = srv.proc.stderrTail.get().filter((l) => /^coro: coroutine #\d+ died: .*!crash/.test(l));
    t.equal(died.length, crashes, `each failure is reported on stderr (${died[0] ?? 'none'})`);
    t.equal(srv.proc.exit, undefined, 'the server is still running');
  });

  t.test(`${backend}: a coroutine that overflows the shared stack (-X !overflow)`, async (t) => {
    const srv = await startServer(t, ['-b', backend, '-X']);
    const socks = new Sockets(t);
    const bystander = await socks.connect(srv.port);
    const bout = collect(bystander, 10_000);
    const s = await socks.connect(srv.port);
    s.write('!overflow\r\n');
    const exit = await srv.proc.wait(10_000);
    t.ok(exit, 'the process ends');
    t.not(exit?.code, 0, `and does not exit 0 (${srv.proc.describeExit()})`);
    t.equal(exit?.signal, 'SIGABRT', 'it aborts');
    const said = srv.proc.stderrTail.get().join('\n');
    t.match(said, /coro: coroutine #\d+ overflowed the shared stack \(\d+ bytes\)/, 'naming the coroutine and the stack size');
    const br = await bout;
    t.ok(br.ended || br.error !== undefined, 'its clients see the connection end');
  });
}

// ---- TLS ---------------------------------------------------------------------

/** The first flight of a real TLS client (its ClientHello), for replaying. */
async function captureClientHello(t: Test): Promise<Buffer> {
  const server = createServer();
  t.teardown(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  const hello = new Promise<Buffer>((resolve) =>
    server.once('connection', (c) =>
      c.once('data', (d: Buffer) => {
        resolve(d);
        c.destroy();
      }),
    ),
  );
  const client = tlsConnect({ port, host: HOST, rejectUnauthorized: false });
  client.on('error', () => {});
  const d = await hello;
  client.destroy();
  return d;
}

const tlsFaults = (hello: Buffer): Fault[] => [
  {
    name: 'TLS: garbage instead of a handshake, plain text, truncated and dropped handshakes',
    reps: 5,
    run: async (t, srv, socks) => {
      const closedBy = async (send: (s: Socket) => void, what: string): Promise<void> => {
        const s = await socks.connect(srv.port);
        const out = collect(s);
        send(s);
        const r = await out;
        t.ok(r.ended || r.error === 'ECONNRESET', `${what}: the server closes (${r.error ?? 'FIN'})`);
      };
      // Random bytes, except the first two: a random start is now and then a
      // well-formed SSLv2 or TLS record header announcing more bytes than
      // follow, which the server rightly waits for (up to the 10 s handshake
      // bound). Zeros there fail the record's version check at once.
      const garbage = randomBytes(4096);
      garbage[0] = 0;
      garbage[1] = 0;
      await closedBy((s) => s.write(garbage), 'random bytes');
      await closedBy((s) => s.write('GET / HTTP/1.0\r\n\r\n'), 'a plain-text request');
      await closedBy((s) => s.write(Buffer.concat([hello.subarray(0, 5), randomBytes(600)])), 'a record header then garbage');
      // Half a ClientHello, then FIN: the handshake reads EOF.
      await closedBy((s) => s.end(hello.subarray(0, hello.length >> 1)), 'half a ClientHello then FIN');

      // A whole ClientHello; drop (FIN, or RST) once the server's flight
      // arrives, i.e. while it waits for our Finished.
      for (const how of ['end', 'reset'] as const) {
        const s = await socks.connect(srv.port);
        const got = readBytes(s, 1);
        s.write(hello);
        await got;
        if (how === 'end') s.end();
        else s.resetAndDestroy();
      }
      // Connect and vanish before saying anything.
      const v = await socks.connect(srv.port);
      v.resetAndDestroy();
    },
  },
];

for (const backend of backends) {
  t.test(`${backend}: TLS handshake faults (-t)`, async (t) => {
    const srv = await startServer(t, ['-b', backend, '-t']);
    await assertServed(t, srv.port, 'warm-up (TLS)', 4, 20, 64, ['-t']);
    const base = await resting(srv.pid);
    const hello = await captureClientHello(t);
    t.ok(hello[0] === 0x16 && hello.length > 100, `captured a ClientHello record (${hello.length} bytes)`);
    for (const fault of tlsFaults(hello)) {
      await t.test(fault.name, (t) => injectAndCheck(t, srv, base.fds, fault, ['-t']));
    }
    t.equal(srv.proc.exit, undefined, 'the server is still running');
  });
}

// Once, on the default backend: it takes the server's 10 s handshake bound.
t.test('TLS: a client that stalls in the handshake is cut off after 10 s', { skip: noEcho }, async (t) => {
  const srv = await startServer(t, ['-t']);
  const base = await resting(srv.pid);
  const hello = await captureClientHello(t);
  const socks = new Sockets(t);
  const started = Date.now();
  const silent = await socks.connect(srv.port); // says nothing at all
  const silentOut = collect(silent, 20_000);
  const half = await socks.connect(srv.port); // half a ClientHello, then nothing
  const halfOut = collect(half, 20_000);
  half.write(hello.subarray(0, hello.length >> 1));
  const stalled = await socks.connect(srv.port); // a whole ClientHello, never a Finished
  const stalledOut = collect(stalled, 20_000);
  stalled.write(hello);
  for (const [what, out] of [['silent', silentOut], ['half a ClientHello', halfOut], ['no Finished', stalledOut]] as const) {
    const r = await out;
    const ms = Date.now() - started;
    t.ok(r.ended || r.error === 'ECONNRESET', `${what}: closed by the server (${r.error ?? 'FIN'}) after ${ms} ms`);
    t.ok(ms >= 9_000 && ms < 15_000, `${what}: at the 10 s handshake bound (${ms} ms)`);
  }
  t.equal((await settled(srv.pid, base.fds)).fds, base.fds, 'their fds are released');
  await assertServed(t, srv.port, 'after the stalled handshakes (TLS)', 4, 20, 64, ['-t']);
});

t.test('TLS: failed handshakes are logged at most 10 lines a second', { skip: noEcho }, async (t) => {
  const srv = await startServer(t, ['-t']);
  // Every stderr line, with no cap (the process keeps only its last 20).
  const log = new LineTail(Number.MAX_SAFE_INTEGER);
  srv.proc.child.stderr?.on('data', (d: string) => log.push(d));
  const socks = new Sockets(t);
  // Plain text where a ClientHello belongs: each fails its handshake at once,
  // with one report (one line, or one held back).
  const garbage = async (): Promise<void> => {
    const s = await socks.connect(srv.port);
    const out = collect(s, 5_000);
    s.write('not a TLS record\r\n');
    await out;
  };
  const HELD = /^coro tls: (\d+) more error lines were held back \(at most 10 a second\)$/;
  const shown = (): string[] => log.get().filter((l) => l.startsWith('coro tls: ') && !HELD.test(l));
  const held = (): number => log.get().reduce((n, l) => n + Number(HELD.exec(l)?.[1] ?? 0), 0);

  const FAILURES = 30;
  const started = Date.now();
  await Promise.all(Array.from({ length: FAILURES }, garbage));
  const burstMs = Date.now() - started;
  // One more failure in a window of its own (the last window began during
  // the burst, > 1 s before it): shown, after the count held back so far.
  await sleep(1_100);
  await garbage();
  t.ok(await waitFor(() => shown().length + held() >= FAILURES + 1, 3_000), 'every failure was logged or counted');

  // Whatever the burst took on this machine: the server's windows are 1 s
  // long and start at a logged line, so a burst of burstMs spans at most
  // floor(burstMs / 1000) + 1 of them, 10 lines each.
  const burstLines = shown().length - 1;
  const windows = Math.floor(burstMs / 1000) + 1;
  t.ok(burstLines <= 10 * windows, `${burstLines} lines for ${FAILURES} failures in ${burstMs} ms (at most ${10 * windows}: ${windows} window(s) of 10)`);
  t.ok(burstLines >= Math.min(10, FAILURES), `the first 10 failures are logged (${burstLines})`);
  // Nothing is lost: each failure is a line or part of a held-back count.
  t.equal(shown().length + held(), FAILURES + 1, `${shown().length} lines + ${held()} held back = ${FAILURES + 1} failures`);
  if (burstLines < FAILURES) t.ok(held() > 0, 'the held-back count is reported');
  await assertServed(t, srv.port, 'after the failed handshakes (TLS)', 4, 20, 64, ['-t']);
});

// Nothing to test is a failure, not a silent pass.
if (noEcho) t.fail(`${noEcho}; build with \`make -C native\` (${paths.echoServer})`);
