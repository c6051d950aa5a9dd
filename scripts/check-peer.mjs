#!/usr/bin/env node
// check-peer.mjs - checks that an echo server speaks the protocol of
// docs/programs.md, byte for byte, and gives a rough transactions/s figure.
//
//   node scripts/check-peer.mjs <port> [conns] [lines] [--host H] [--no-shutdown]
//
// conns connections (default 100) each do `lines` transactions (default 100):
// write one CRLF line, read back exactly its bytes, compare. Then, each on
// fresh connections: pipelined lines in one write, a line dribbled over many
// writes, odd bytes (bare CR/LF, NUL, 0xff, '!' lines that are not
// commands), !bench, !bench json, !quit, half-close, a client reset, a long
// line under the 64 KiB limit and one over it, and finally !shutdown (the
// server must close and stop accepting). --no-shutdown skips the last step.
//
// Prints one line per check ("ok ..." / "FAIL ...") and a summary on stdout.
// Exit status: 0 when everything matched, 1 on any failure, 2 for bad usage.
// The transactions/s figure is client-bound (one Node process, sequential
// round trips per connection): a sanity number, not a benchmark.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const STEP_TIMEOUT_MS = 30_000;
const LINE_LIMIT_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n');

const BENCH_RE =
  /^-?\d+ \d{1,6}\|-?\d+ \d{1,6}\|-?\d+ \d{1,6}\|maxrss:-?\d+ ixrss:-?\d+ idrss:-?\d+ isrss:-?\d+ minflt:-?\d+ majflt:-?\d+ nswap:-?\d+ inblock:-?\d+ oublock:-?\d+ msgsnd:-?\d+ msgrcv:-?\d+ nsignals:-?\d+ nvcsw:-?\d+ nivcsw:-?\d+\r\n$/;
const JSON_KEYS = [
  'wall_us', 'utime_us', 'stime_us', 'maxrss_kib', 'ixrss', 'idrss', 'isrss', 'minflt',
  'majflt', 'nswap', 'inblock', 'oublock', 'msgsnd', 'msgrcv', 'nsignals', 'nvcsw', 'nivcsw',
  'read_block', 'write_block',
];

function usage(msg) {
  if (msg) process.stderr.write(`check-peer: ${msg}\n`);
  process.stderr.write(
    'usage: node scripts/check-peer.mjs <port> [conns] [lines] [--host H] [--no-shutdown]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', shutdown: true };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-shutdown') opts.shutdown = false;
    else if (a === '--host') {
      if (i + 1 >= argv.length) usage('--host needs a value');
      opts.host = argv[++i];
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length < 1 || pos.length > 3) usage();
  const num = (s, name, min, max) => {
    if (!/^\d+$/.test(s)) usage(`${name} must be a number`);
    const n = Number(s);
    if (n < min || n > max) usage(`${name} must be in ${min}..${max}`);
    return n;
  };
  opts.port = num(pos[0], 'port', 1, 65535);
  opts.conns = pos[1] === undefined ? 100 : num(pos[1], 'conns', 1, 100_000);
  opts.lines = pos[2] === undefined ? 100 : num(pos[2], 'lines', 1, 10_000_000);
  return opts;
}

// A socket with a byte queue and awaitable reads.
class Client {
  static connect(host, port) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => { sock.removeListener('error', reject); resolve(new Client(sock)); });
      sock.once('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    sock.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.ended = false;   // the server's FIN arrived
    this.error = null;
    this.waiter = null;
    sock.on('data', (d) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.wake(); });
    sock.on('end', () => { this.ended = true; this.wake(); });
    sock.on('error', (e) => { this.error = e; this.wake(); });
    sock.on('close', () => { this.ended = true; this.wake(); });
  }

  wake() {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }

  write(data) {
    return new Promise((resolve, reject) =>
      this.sock.write(data, (err) => (err ? reject(err) : resolve())));
  }

  // Waits until pred() holds; fails on EOF/error first or after the timeout.
  async until(pred, what) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!pred()) {
      if (this.error) throw new Error(`${what}: ${this.error.code ?? this.error.message}`);
      if (this.ended) throw new Error(`${what}: connection closed (had ${this.buf.length} bytes)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: timed out (had ${this.buf.length} bytes)`);
      const t = setTimeout(() => this.wake(), left);
      await new Promise((r) => { this.waiter = r; });
      clearTimeout(t);
    }
  }

  take(n) {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async read(n, what = `read ${n} bytes`) {
    await this.until(() => this.buf.length >= n, what);
    return this.take(n);
  }

  async readLine(what = 'read a line') {
    let at = -1;
    await this.until(() => (at = this.buf.indexOf(CRLF)) >= 0, what);
    return this.take(at + 2);
  }

  // Waits for the server to close; any byte still arriving is an error.
  async expectEnd(what) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!this.ended) {
      if (this.error) throw new Error(`${what}: ${this.error.code ?? this.error.message}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: the server did not close`);
      const t = setTimeout(() => this.wake(), left);
      await new Promise((r) => { this.waiter = r; });
      clearTimeout(t);
    }
    if (this.buf.length) throw new Error(`${what}: ${this.buf.length} unexpected bytes before EOF`);
  }

  destroy() {
    this.sock.destroy();
  }
}

// Deterministic line payloads: every byte value except that no CR is ever
// followed by LF before the final CRLF, and no line starts with '!'.
function makePayloads() {
  const sizes = [3, 10, 64, 100, 100, 128, 512, 1000, 1460, 4096];
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
  return sizes.map((size) => {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size - 2; i++) {
      let v = rnd() & 0xff;
      if (i === 0 && v === 0x21) v = 0x41; // '!' would make it a command candidate
      if (v === 0x0a && i > 0 && b[i - 1] === 0x0d) v = 0x0b;
      b[i] = v;
    }
    if (size > 2 && b[size - 3] === 0x0d) b[size - 3] = 0x0c; // keep the CRLF the first one
    b[size - 2] = 0x0d;
    b[size - 1] = 0x0a;
    return b;
  });
}

// The load: every connection does `lines` sequential transactions, driven
// by callbacks (no promise per transaction) so the client costs little.
function runLoad(host, port, conns, lines) {
  const payloads = makePayloads();
  return new Promise((resolve) => {
    const stats = { transactions: 0, mismatches: 0, errors: 0, bytes: 0 };
    let open = conns;
    const start = process.hrtime.bigint();
    const finish = () => {
      if (--open > 0) return;
      stats.wall_s = Number(process.hrtime.bigint() - start) / 1e9;
      resolve(stats);
    };
    for (let c = 0; c < conns; c++) {
      const sock = net.connect({ host, port });
      sock.setNoDelay(true);
      let i = 0;
      let want = null;
      let got = [];
      let gotLen = 0;
      let done = false;
      const end = (failed) => {
        if (done) return;
        done = true;
        if (failed) stats.errors++;
        sock.destroy();
        finish();
      };
      const next = () => {
        if (i === lines) {
          sock.end('!quit\r\n');
          return;
        }
        want = payloads[(c + i) % payloads.length];
        got = [];
        gotLen = 0;
        sock.write(want);
        stats.bytes += want.length;
      };
      sock.on('connect', next);
      sock.on('data', (d) => {
        if (want === null || i === lines) {
          stats.mismatches++; // bytes nobody asked for
          return;
        }
        got.push(d);
        gotLen += d.length;
        stats.bytes += d.length;
        if (gotLen < want.length) return;
        const echo = got.length === 1 ? got[0] : Buffer.concat(got);
        stats.transactions++;
        if (gotLen !== want.length || !echo.equals(want)) stats.mismatches++;
        i++;
        next();
      });
      sock.on('end', () => end(i < lines));
      sock.on('error', () => end(true));
      sock.setTimeout(STEP_TIMEOUT_MS, () => end(true));
    }
  });
}

let failures = 0;
function report(ok, what, detail = '') {
  if (!ok) failures++;
  process.stdout.write(`${ok ? 'ok' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}\n`);
}

async function check(what, fn) {
  try {
    const detail = await fn();
    report(true, what, detail ?? '');
  } catch (e) {
    report(false, what, e.message);
  }
}

function same(got, want, what) {
  if (!got.equals(want)) {
    let at = 0;
    while (at < got.length && at < want.length && got[at] === want[at]) at++;
    throw new Error(`${what}: differs at byte ${at} (got ${got.length} bytes, want ${want.length})`);
  }
}

async function main() {
  const { host, port, conns, lines, shutdown } = parseArgs(process.argv.slice(2));
  const connect = () => Client.connect(host, port);

  await check(`load: ${conns} conns x ${lines} lines echoed byte for byte`, async () => {
    const s = await runLoad(host, port, conns, lines);
    const total = conns * lines;
    const rate = Math.round(s.transactions / s.wall_s);
    process.stdout.write(
      `   transactions ${s.transactions}/${total}, mismatches ${s.mismatches}, errors ${s.errors}, ` +
      `${s.wall_s.toFixed(3)} s, ${rate} txn/s (client-bound), ${s.bytes} bytes moved\n`);
    if (s.transactions !== total || s.mismatches || s.errors) throw new Error('load failed');
    return `${rate} txn/s`;
  });

  await check('pipelined: 1000 lines in one write come back in order', async () => {
    const c = await connect();
    const payloads = makePayloads();
    const many = Buffer.concat(Array.from({ length: 1000 }, (_, i) => payloads[i % payloads.length]));
    await c.write(many);
    same(await c.read(many.length), many, 'pipelined echo');
    c.destroy();
  });

  await check('dribbled: one line over 40 writes (CR and LF split) is echoed whole', async () => {
    const c = await connect();
    const line = Buffer.from(`${'dribble '.repeat(20)}end\r\n`);
    const pieces = [];
    for (let at = 0; at < line.length - 2; at += Math.ceil(line.length / 40)) {
      pieces.push(line.subarray(at, Math.min(at + Math.ceil(line.length / 40), line.length - 1)));
    }
    pieces.push(line.subarray(line.length - 1)); // the LF alone, after the CR
    for (const p of pieces) {
      await c.write(p);
      await sleep(2);
    }
    same(await c.read(line.length), line, 'dribbled echo');
    // Commands split across writes are still commands.
    await c.write('!qu');
    await sleep(5);
    await c.write('it\r');
    await sleep(5);
    await c.write('\n');
    await c.expectEnd('!quit split over three writes');
    return `${pieces.length} writes`;
  });

  await check('odd bytes: bare CR, bare LF, NUL, 0xff and "!" non-commands echoed', async () => {
    const c = await connect();
    const lines = [
      Buffer.from('a\nb\rc\r\r\n'),
      Buffer.from([0x00, 0xff, 0x0d, 0x41, 0x0a, 0x0a, 0x0d, 0x0a]),
      Buffer.from('\r\n'),
      Buffer.from('!quitx\r\n'),
      Buffer.from('!bench extra\r\n'),
      Buffer.from('!\r\n'),
      Buffer.from(' !shutdown\r\n'),
      Buffer.from('!QUIT\r\n'),
    ];
    const all = Buffer.concat(lines);
    await c.write(all);
    same(await c.read(all.length), all, 'odd lines');
    c.destroy();
  });

  await check('!bench answers one coro++ rusage line', async () => {
    const c = await connect();
    await c.write('before\r\n!bench\r\nafter\r\n');
    same(await c.readLine(), Buffer.from('before\r\n'), 'line before !bench');
    const line = (await c.readLine('!bench reply')).toString('latin1');
    if (!BENCH_RE.test(line)) throw new Error(`not a coro++ bench line: ${JSON.stringify(line)}`);
    same(await c.readLine(), Buffer.from('after\r\n'), 'line after !bench');
    c.destroy();
    return line.trimEnd();
  });

  await check('!bench json answers one JSON object with the documented keys', async () => {
    const c = await connect();
    await c.write('!bench json\r\n');
    const line = (await c.readLine('!bench json reply')).toString('latin1');
    const obj = JSON.parse(line);
    const keys = Object.keys(obj);
    const missing = JSON_KEYS.filter((k) => !(k in obj));
    const extra = keys.filter((k) => !JSON_KEYS.includes(k));
    if (missing.length || extra.length) {
      throw new Error(`missing [${missing}] extra [${extra}]`);
    }
    for (const k of keys) {
      if (!Number.isInteger(obj[k])) throw new Error(`${k} is not an integer: ${obj[k]}`);
    }
    if (obj.wall_us <= 0 || obj.maxrss_kib <= 0) throw new Error(`implausible: ${line.trimEnd()}`);
    c.destroy();
    return line.trimEnd();
  });

  await check('!quit: earlier echoes arrive, then the server closes', async () => {
    const c = await connect();
    await c.write('hello\r\n!quit\r\nnot echoed\r\n');
    same(await c.read(7), Buffer.from('hello\r\n'), 'echo before !quit');
    await c.expectEnd('close after !quit');
  });

  await check('half-close: lines sent before our FIN are echoed, then the server closes', async () => {
    const c = await connect();
    c.sock.end('one\r\ntwo\r\nunfinished');
    same(await c.read(10), Buffer.from('one\r\ntwo\r\n'), 'echo after half-close');
    await c.expectEnd('close after half-close');
  });

  await check('reset: a client that resets mid-line does not hurt the server', async () => {
    const a = await connect();
    await a.write('partial line without end');
    await sleep(10);
    a.sock.resetAndDestroy();
    const b = await connect();
    await b.write(Buffer.alloc(200_000, 0x41)); // the server may still be reading
    b.sock.resetAndDestroy();
    await sleep(20);
    const c = await connect();
    await c.write('still here\r\n');
    same(await c.read(12), Buffer.from('still here\r\n'), 'echo after resets');
    c.destroy();
  });

  await check('long line under the limit (60,000 bytes, 3 writes) is echoed', async () => {
    const c = await connect();
    const line = Buffer.concat([Buffer.alloc(60_000 - 2, 0x61), CRLF]);
    await c.write(line.subarray(0, 1000));
    await sleep(5);
    await c.write(line.subarray(1000, 50_000));
    await sleep(5);
    await c.write(line.subarray(50_000));
    same(await c.read(line.length), line, 'long line echo');
    c.destroy();
  });

  for (const [what, data] of [
    ['line over the limit without CRLF (70,000 bytes)', Buffer.alloc(70_000, 0x62)],
    ['line over the limit with CRLF (80,000 bytes, one write)',
      Buffer.concat([Buffer.alloc(80_000 - 2, 0x63), CRLF])],
  ]) {
    await check(`${what}: echoes before it, -ERR line too long, close`, async () => {
      const c = await connect();
      await c.write(Buffer.concat([Buffer.from('ok\r\n'), data]));
      same(await c.read(4), Buffer.from('ok\r\n'), 'echo before the long line');
      const err = await c.readLine('error line');
      same(err, Buffer.from('-ERR line too long\r\n'), 'error line');
      await c.expectEnd('close after the error');
    });
  }

  await check('the server still serves after all that', async () => {
    const c = await connect();
    await c.write('alive\r\n');
    same(await c.read(7), Buffer.from('alive\r\n'), 'echo');
    c.destroy();
  });

  if (shutdown) {
    await check('!shutdown: the server closes the session and stops listening', async () => {
      const idle = await connect(); // an idle session must not keep it alive
      const c = await connect();
      await c.write('last\r\n!shutdown\r\n');
      same(await c.read(6), Buffer.from('last\r\n'), 'echo before !shutdown');
      await c.expectEnd('close after !shutdown');
      idle.destroy();
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          const probe = await connect();
          probe.destroy();
        } catch (e) {
          if (e.code === 'ECONNREFUSED') return 'connection refused afterwards';
          throw e;
        }
        if (Date.now() > deadline) throw new Error('still accepting 5 s after !shutdown');
        await sleep(50);
      }
    });
  }

  process.stdout.write(failures ? `${failures} check(s) FAILED\n` : 'all checks passed\n');
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`check-peer: ${e.stack ?? e}\n`);
  process.exit(1);
});
