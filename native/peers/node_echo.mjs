#!/usr/bin/env node
// node_echo.mjs - the Node.js `net` echo server: what a TypeScript user
// would write instead of the coroutine echo_server. It is a baseline, so it
// stays idiomatic (one 'data' handler per socket that splits lines and
// writes the echo), and speaks the protocol of docs/programs.md:
//
//   node native/peers/node_echo.mjs [-P PORT] [-a ADDR] [-R] [-w N]
//
// -w N: N worker processes through the `cluster` module (the primary
// accepts and hands connections round-robin to the workers); `!bench` then
// reports the sum over the workers and the primary, `!shutdown` stops all.
//
// CRLF lines echoed byte for byte, `!quit`, `!shutdown` (loopback peers
// only unless -R), `!bench` (the coro++ rusage line, from
// process.resourceUsage() and process.hrtime), `!bench json`, and the
// 64 KiB line limit (`-ERR line too long`, then close).
//
// Two choices keep the comparison with peers/epoll_echo fair: consecutive
// ordinary lines of one chunk are echoed with one write of that span of the
// chunk (as the C loop does), and sockets use TCP_NODELAY. Backpressure is
// the usual pause-on-false/resume-on-drain.
import cluster from 'node:cluster';
import net from 'node:net';

const LINE_MAX_BYTES = 64 * 1024; // longest line, CRLF included
// A session we end (!quit, an over-long line) discards the peer's input
// until its FIN, as the C servers do, but for at most this long and this
// much: then it is destroyed.
const DRAIN_MS = 1000;
const DRAIN_MAX_BYTES = 1024 * 1024;
const CRLF = Buffer.from('\r\n');
const BANG = 0x21; // '!'
const ERR_TOO_LONG = '-ERR line too long\r\n';
const ERR_REMOTE_SHUTDOWN = '-ERR !shutdown is accepted from loopback only\r\n';

function usage(msg) {
  if (msg) process.stderr.write(`node_echo: ${msg}\n`);
  process.stderr.write(
    'usage: node native/peers/node_echo.mjs [-P PORT] [-a ADDR] [-R] [-w N]\n' +
    '  -w N      N worker processes (cluster module); !bench sums them\n' +
    '  -P PORT   TCP port, 0 for an ephemeral one (default 9001)\n' +
    '  -a ADDR   address to bind (default 127.0.0.1)\n' +
    '  -R        accept !shutdown from any peer, not only loopback\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 9001, host: '127.0.0.1', allowRemoteShutdown: false, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '-P') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) > 65535) usage(`bad port '${v}'`);
      opts.port = Number(v);
    } else if (a === '-a') {
      opts.host = value();
    } else if (a === '-R') {
      opts.allowRemoteShutdown = true;
    } else if (a === '-w') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 256) usage(`-w wants a number of workers 1..256, not '${v}'`);
      opts.workers = Number(v);
    } else {
      usage(`unknown argument '${a}'`);
    }
  }
  return opts;
}

// ---- rusage in the coro++ format (see coro_rusage_* in native/include/coro.h)

// The coro_rusage_t fields from process.resourceUsage(); Node has every one.
function rusageNow() {
  const r = process.resourceUsage();
  return {
    wall_us: process.hrtime.bigint() / 1000n,
    utime_us: BigInt(r.userCPUTime),
    stime_us: BigInt(r.systemCPUTime),
    maxrss_kib: BigInt(r.maxRSS),
    ixrss: BigInt(r.sharedMemorySize),
    idrss: BigInt(r.unsharedDataSize),
    isrss: BigInt(r.unsharedStackSize),
    minflt: BigInt(r.minorPageFault),
    majflt: BigInt(r.majorPageFault),
    nswap: BigInt(r.swappedOut),
    inblock: BigInt(r.fsRead),
    oublock: BigInt(r.fsWrite),
    msgsnd: BigInt(r.ipcSent),
    msgrcv: BigInt(r.ipcReceived),
    nsignals: BigInt(r.signalsCount),
    nvcsw: BigInt(r.voluntaryContextSwitches),
    nivcsw: BigInt(r.involuntaryContextSwitches),
  };
}

// after - before, field by field; maxrss is a high-water mark, so `after`.
function rusageDiff(before, after) {
  const d = {};
  for (const k of Object.keys(after)) d[k] = k === 'maxrss_kib' ? after[k] : after[k] - before[k];
  return d;
}

// "S UUUUUU" as coro++ prints a timeval ("%ld %06ld").
function secUsec(us) {
  const neg = us < 0n;
  const mag = neg ? -us : us;
  return `${neg ? '-' : ''}${mag / 1000000n} ${String(mag % 1000000n).padStart(6, '0')}`;
}

function formatBench(d) {
  return `${secUsec(d.wall_us)}|${secUsec(d.utime_us)}|${secUsec(d.stime_us)}|` +
    `maxrss:${d.maxrss_kib} ixrss:${d.ixrss} idrss:${d.idrss} isrss:${d.isrss} ` +
    `minflt:${d.minflt} majflt:${d.majflt} nswap:${d.nswap} inblock:${d.inblock} ` +
    `oublock:${d.oublock} msgsnd:${d.msgsnd} msgrcv:${d.msgrcv} nsignals:${d.nsignals} ` +
    `nvcsw:${d.nvcsw} nivcsw:${d.nivcsw}`;
}

function formatBenchJson(d) {
  // Keys in coro_rusage_format_json order, then the two peer keys (Node
  // has no notion of a blocked read or write).
  const fields = Object.entries(d).map(([k, v]) => `"${k}":${v}`);
  return `{${fields.join(',')},"read_block":0,"write_block":0}`;
}

// ---- the server ------------------------------------------------------------

function isLoopback(addr) {
  if (addr === undefined) return false;
  if (addr === '::1') return true;
  const v4 = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return v4.startsWith('127.');
}

const opts = parseArgs(process.argv.slice(2));
const start = rusageNow();
const clustered = opts.workers > 1;
if (clustered && cluster.isPrimary) {
  runPrimary();
} else {
  runServer();
}

// ---- -w N: the primary -------------------------------------------------------

// Forks the workers, prints one ready line when all listen, answers their
// !bench requests with the sum of every process's figures (the primary
// accepts the connections, so its CPU is the server's too), and stops them
// all on one's !shutdown or on SIGINT/SIGTERM.
function runPrimary() {
  let listening = 0;
  let stopping = false;
  let nextId = 1;
  const asks = new Map(); // id -> { from, json, left, sum }
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.send({ type: 'exit' });
    setTimeout(() => process.exit(0), 2000).unref();
  };
  for (let i = 0; i < opts.workers; i++) cluster.fork();
  cluster.on('listening', (_w, addr) => {
    if (++listening === opts.workers) process.stdout.write(`echo_server starting on port ${addr.port}\n`);
  });
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    stopAll();
  });
  cluster.on('message', (w, msg) => {
    if (msg.type === 'shutdown') stopAll();
    if (msg.type === 'bench') {
      const id = nextId++;
      const workers = Object.values(cluster.workers);
      asks.set(id, { from: w, reqId: msg.reqId, json: msg.json, left: workers.length, sum: rusageDiff(start, rusageNow()), rss: [] });
      asks.get(id).rss.push(asks.get(id).sum.maxrss_kib);
      for (const x of workers) x.send({ type: 'usage', id });
    }
    if (msg.type === 'usage') {
      const a = asks.get(msg.id);
      if (!a) return;
      for (const [k, v] of Object.entries(msg.usage)) {
        const n = BigInt(v);
        if (k === 'maxrss_kib') a.rss.push(n);
        a.sum[k] = k === 'wall_us' || k === 'maxrss_kib' ? (n > a.sum[k] ? n : a.sum[k]) : a.sum[k] + n;
      }
      if (--a.left > 0) return;
      asks.delete(msg.id);
      const total = a.rss.reduce((x, y) => x + y, 0n);
      const text = a.json
        ? `${formatBenchJson(a.sum).slice(0, -1)},"workers":${opts.workers},"maxrss_total_kib":${total}}`
        : formatBench(a.sum);
      a.from.send({ type: 'bench', reqId: a.reqId, text });
    }
  });
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
}

function runServer() {
const sockets = new Set();
let listening = false;

function shutdownServer(requester) {
  if (clustered) process.send({ type: 'shutdown' });
  server.close();
  for (const s of sockets) if (s !== requester) s.destroy();
  // Exit once the requester's last echoes are handed to the kernel; the
  // timer covers a peer that broke the socket meanwhile.
  requester.end(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000);
}

// -w N: a worker asks the primary for everyone's figures (answered in
// 'bench' below); replies come back in order on the socket that asked.
const benchWaiting = new Map();
let benchNext = 1;
function askPrimary(socket, json) {
  const reqId = benchNext++;
  benchWaiting.set(reqId, socket);
  process.send({ type: 'bench', reqId, json });
}
if (clustered) {
  process.on('message', (msg) => {
    if (msg.type === 'usage') {
      const d = rusageDiff(start, rusageNow());
      process.send({ type: 'usage', id: msg.id, usage: Object.fromEntries(Object.entries(d).map(([k, v]) => [k, String(v)])) });
    } else if (msg.type === 'bench') {
      const socket = benchWaiting.get(msg.reqId);
      benchWaiting.delete(msg.reqId);
      if (socket && !socket.destroyed) socket.write(`${msg.text}\r\n`);
    } else if (msg.type === 'exit') {
      server.close();
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
  });
}

// The command lines, CRLF included. Any other line, even one starting with
// '!', is ordinary text to echo.
const COMMANDS = new Set(['!quit\r\n', '!bench\r\n', '!bench json\r\n', '!shutdown\r\n']);
const LONGEST_COMMAND_BYTES = 13;

function runCommand(socket, state, cmd) {
  switch (cmd) {
    case '!quit\r\n':
      endSession(socket, state);
      break;
    case '!bench\r\n':
      if (clustered) askPrimary(socket, false);
      else socket.write(`${formatBench(rusageDiff(start, rusageNow()))}\r\n`);
      break;
    case '!bench json\r\n':
      if (clustered) askPrimary(socket, true);
      else socket.write(`${formatBenchJson(rusageDiff(start, rusageNow()))}\r\n`);
      break;
    case '!shutdown\r\n':
      if (opts.allowRemoteShutdown || isLoopback(socket.remoteAddress)) {
        state.closing = true;
        shutdownServer(socket);
      } else {
        socket.write(ERR_REMOTE_SHUTDOWN);
      }
      break;
  }
}

// Ends a session from our side: the last reply, FIN, then a bounded drain.
function endSession(socket, state, last) {
  state.closing = true;
  state.pending = null;
  socket.end(last);
  const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
  socket.once('close', () => clearTimeout(timer));
}

function tooLong(socket, state) {
  endSession(socket, state, ERR_TOO_LONG);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  // The bytes of an unfinished line, kept only while one is open.
  const state = { pending: null, closing: false, paused: false, drained: 0 };

  // Sends a slice of the chunk; stops reading while Node buffers output.
  const send = (buf) => {
    if (buf.length > 0 && !socket.write(buf) && !state.paused) {
      state.paused = true;
      socket.pause();
      socket.once('drain', () => {
        state.paused = false;
        socket.resume();
      });
    }
  };

  socket.on('data', (chunk) => {
    if (state.closing) {
      // After !quit or an error: discard until the peer's FIN, within bounds.
      state.drained += chunk.length;
      if (state.drained > DRAIN_MAX_BYTES) socket.destroy();
      return;
    }
    let buf = chunk;
    let from = 0; // where to look for the next CRLF
    if (state.pending) {
      // A CR at the end of the pending bytes may meet its LF in this chunk.
      from = state.pending.length - 1;
      buf = Buffer.concat([state.pending, chunk]);
      state.pending = null;
    }
    let line = 0; // start of the current line
    let span = 0; // start of the ordinary lines not yet echoed
    for (;;) {
      const at = buf.indexOf(CRLF, from);
      if (at < 0) break;
      const end = at + 2;
      if (end - line > LINE_MAX_BYTES) {
        send(buf.subarray(span, line));
        tooLong(socket, state);
        return;
      }
      if (buf[line] === BANG && end - line <= LONGEST_COMMAND_BYTES) {
        const cmd = buf.toString('latin1', line, end);
        if (COMMANDS.has(cmd)) {
          send(buf.subarray(span, line)); // the echoes before it go first
          runCommand(socket, state, cmd);
          if (state.closing) return;
          span = end;
        }
      }
      line = from = end;
    }
    send(buf.subarray(span, line));
    if (line < buf.length) {
      if (buf.length - line >= LINE_MAX_BYTES) {
        tooLong(socket, state); // even a CRLF next would exceed the limit
        return;
      }
      // Copy, so that a small tail does not pin the whole chunk.
      state.pending = Buffer.from(buf.subarray(line));
    }
  });

  // Resets and broken pipes end that session only.
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
});

server.on('error', (err) => {
  if (!listening) {
    process.stderr.write(`node_echo: cannot listen on ${opts.host}:${opts.port}: ${err.message}\n`);
    process.exit(1);
  }
  // EMFILE and friends on accept: libuv already backs off; keep serving.
  process.stderr.write(`node_echo: ${err.message}\n`);
});

server.listen(opts.port, opts.host, () => {
  listening = true;
  // With -w N the primary prints the one ready line, once every worker listens.
  if (!clustered) process.stdout.write(`echo_server starting on port ${server.address().port}\n`);
});
}
