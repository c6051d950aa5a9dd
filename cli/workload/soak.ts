// The soak: one coro echo server under a long mixed load, watched from
// /proc. About `conns` connections are open at once:
//
//   idle     (the rest)  opened at the start and held; two thirds send one
//                        verified line every 20-60 s (and 5 % of those pings
//                        close and reopen the connection), one third never
//                        send a byte.
//   slow     (2 %)       trickle 48-byte lines one byte every 100 ms, each
//                        echo verified; reconnect every 5 lines.
//   abusive  (1 %)       workers looping over: RST mid-line, connect and
//                        vanish, a line over the 64 KiB limit (must get
//                        `-ERR line too long`), half-close (every line must
//                        still be echoed), stop reading while sending 512 KiB
//                        then RST, random binary lines (verified), garbage
//                        then RST, idle 1-5 s then leave.
//   normal   (3 %)       two loops of native echo_client processes
//                        (150 conns x 50 txns, sizes 16 B to 4 KiB), every
//                        byte verified by the client (its mismatches count).
//
// Every second the server's RSS (VmRSS) and open fds are sampled. When the
// time is up the loads stop, every connection is closed, the server's fd
// count must return to what it was before the soak, and a `!shutdown` must
// make it exit 0. What counts as a failure is decided by the caller from the
// figures returned here (cli/engine/soak.ts).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { paths } from '../paths.js';
import type { SoakCounts, SoakPoint } from '../results/types.js';
import { Proc } from './process.js';
import { startServer, stopServer } from './echo.js';

export interface SoakOptions {
  backend: string;
  /** Connections open at once (the target of the mix). */
  conns: number;
  durationS: number;
  /** Samples before this are not used for the stability figures. */
  warmupS: number;
  /** 0 = ephemeral. */
  port: number;
  /** Open-files limit for the server (and echo_client). */
  fileLimit: number | undefined;
  /** Where progress lines go (about every 15 s). */
  note?: (line: string) => void;
}

export interface SoakMix {
  idle: number;
  /** Of the idle ones, those that never send anything. */
  silent: number;
  slow: number;
  abusive: number;
  normalLoops: number;
  normalConns: number;
  normalTxns: number;
}

export function soakMix(conns: number): SoakMix {
  const normalLoops = 2;
  const normalConns = Math.max(1, Math.min(150, Math.floor(conns * 0.015)));
  const slow = Math.max(1, Math.floor(conns * 0.02));
  const abusive = Math.max(1, Math.floor(conns * 0.01));
  const idle = Math.max(1, conns - slow - abusive - normalLoops * normalConns);
  return { idle, silent: Math.floor(idle / 3), slow, abusive, normalLoops, normalConns, normalTxns: 50 };
}

export const ABUSES = ['reset_mid_line', 'vanish', 'long_line', 'half_close', 'stop_reading', 'binary_line', 'garbage', 'idle_leave'] as const;
export type Abuse = (typeof ABUSES)[number];

export interface SoakFigures extends SoakCounts {
  mix: SoakMix;
  peak_client_open: number;
  abuses: Record<Abuse, number>;
  server_exit_code: number | null;
  samples: SoakPoint[];
}

const HOST = '127.0.0.1';
const ECHO_TIMEOUT_MS = 15_000;
const ERR_TOO_LONG = Buffer.from('-ERR line too long\r\n');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));

/** A socket with a receive buffer, so a test can wait for exactly n bytes. */
class Conn {
  private buf: Buffer[] = [];
  private have = 0;
  private waiter: { want: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  closed = false;
  ended = false;
  error: string | undefined;
  /** Bytes received so far. */
  received = 0;

  constructor(readonly s: Socket) {
    s.on('data', (d: Buffer) => {
      this.buf.push(d);
      this.have += d.length;
      this.received += d.length;
      this.check();
    });
    s.on('end', () => (this.ended = true));
    s.on('error', (e: NodeJS.ErrnoException) => (this.error ??= e.code ?? e.message));
    s.on('close', () => {
      this.closed = true;
      this.check();
    });
  }

  private check(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.have >= w.want) {
      const all = Buffer.concat(this.buf);
      this.buf = all.length > w.want ? [all.subarray(w.want)] : [];
      this.have = all.length - w.want;
      this.waiter = undefined;
      w.resolve(all.subarray(0, w.want));
    } else if (this.closed) {
      this.waiter = undefined;
      w.reject(new Error(`closed (${this.error ?? (this.ended ? 'FIN' : 'destroyed')}) after ${this.have} of ${w.want} bytes`));
    }
  }

  /** Exactly `want` bytes, or a rejection on close or after timeoutMs. */
  read(want: number, timeoutMs = ECHO_TIMEOUT_MS): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no ${want}-byte echo within ${timeoutMs} ms (got ${this.have})`));
      }, timeoutMs);
      timer.unref(); // a wait abandoned at the end of the soak must not hold the process
      this.waiter = {
        want,
        resolve: (b) => (clearTimeout(timer), resolve(b)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.check();
    });
  }

  /** Everything received until the socket closes (or timeoutMs). */
  async rest(timeoutMs = ECHO_TIMEOUT_MS): Promise<Buffer> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < until) await sleep(10);
    if (!this.closed) this.s.destroy();
    return Buffer.concat(this.buf);
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.s.destroyed) return reject(new Error(`write on a closed socket (${this.error ?? 'closed'})`));
      this.s.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssKib(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks (USER_HZ, 100 on Linux).
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function settle(pid: number, fds: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  let n = fdCount(pid);
  while (n > fds && Date.now() < until) {
    await sleep(50);
    n = fdCount(pid);
  }
  return n;
}

/** A line of exactly `size` bytes (CRLF included) that is not a command. */
function line(tag: string, size: number): Buffer {
  const head = `${tag} `;
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '\r\n', 'latin1');
}

class SoakRun {
  private stopping = false;
  private wakeAll: (() => void)[] = [];
  private readonly open = new Set<Conn>();
  readonly f: Omit<SoakFigures, 'fds_before' | 'rss_before_kib' | 'fds_after' | 'rss_after_kib' | 'server_cpu_s' | 'server_exit' | 'server_exit_code' | 'samples'> & {
    samples: SoakPoint[];
  };

  constructor(
    private readonly port: number,
    readonly mix: SoakMix,
  ) {
    this.f = {
      mix,
      connections_opened: 0,
      peak_client_open: 0,
      transactions: 0,
      mismatches: 0,
      errors: 0,
      error_examples: [],
      normal_runs: 0,
      normal_transactions: 0,
      idle_pings: 0,
      slow_lines: 0,
      abuses: Object.fromEntries(ABUSES.map((a) => [a, 0])) as Record<Abuse, number>,
      samples: [],
    };
  }

  get clientOpen(): number {
    return this.open.size;
  }

  error(what: string): void {
    if (this.stopping) return; // connections cut by our own shutdown are not errors
    this.f.errors += 1;
    if (this.f.error_examples.length < 10) this.f.error_examples.push(what);
  }

  /** Compares an echo; counts a transaction or a mismatch. */
  verify(sent: Buffer, got: Buffer, what: string): boolean {
    if (got.equals(sent)) {
      this.f.transactions += 1;
      return true;
    }
    this.f.mismatches += 1;
    if (this.f.error_examples.length < 10) this.f.error_examples.push(`${what}: echo mismatch (${got.length} bytes back for ${sent.length})`);
    return false;
  }

  connect(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port: this.port, host: HOST, noDelay: true });
      const c = new Conn(s);
      this.f.connections_opened += 1;
      this.open.add(c);
      this.f.peak_client_open = Math.max(this.f.peak_client_open, this.open.size);
      s.on('close', () => this.open.delete(c));
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(c);
      });
    });
  }

  async echo(c: Conn, data: Buffer, what: string): Promise<boolean> {
    try {
      const back = c.read(data.length);
      await c.write(data);
      return this.verify(data, await back, what);
    } catch (err) {
      this.error(`${what}: ${(err as Error).message}`);
      return false;
    }
  }

  // ---- idle ------------------------------------------------------------------

  async idle(): Promise<void> {
    const { idle, silent } = this.mix;
    const conns: { c: Conn | undefined; silent: boolean; next: number; busy: boolean; id: number }[] = [];
    const now = Date.now();
    // Open them in batches, so the accept queue never overflows.
    for (let i = 0; i < idle && !this.stopping; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, idle - i) }, async (_, k) => {
          const id = i + k;
          const entry = { c: undefined as Conn | undefined, silent: id < silent, next: now + rand(20_000, 60_000), busy: true, id };
          conns.push(entry);
          try {
            entry.c = await this.connect();
            if (!entry.silent) await this.echo(entry.c, line(`idle-${id}-open`, 32), `idle ${id}`);
          } catch (err) {
            this.error(`idle ${id}: connect: ${(err as Error).message}`);
          }
          entry.busy = false;
        }),
      );
    }
    // Pings: every 250 ms, the ones that are due.
    let seq = 0;
    while (!this.stopping) {
      await sleep(250);
      const t = Date.now();
      for (const e of conns) {
        if (e.busy || e.silent || e.next > t || this.stopping) continue;
        e.busy = true;
        e.next = t + rand(20_000, 60_000);
        void (async () => {
          try {
            if (!e.c || e.c.closed) {
              if (e.c && !this.stopping) this.error(`idle ${e.id}: the server closed an idle connection (${e.c.error ?? 'FIN'})`);
              e.c = await this.connect();
            }
            if (await this.echo(e.c, line(`idle-${e.id}-ping-${seq++}`, rand(8, 200)), `idle ${e.id}`)) this.f.idle_pings += 1;
            if (Math.random() < 0.05) {
              e.c.s.end();
              e.c = await this.connect();
            }
          } catch (err) {
            this.error(`idle ${e.id}: ${(err as Error).message}`);
          } finally {
            e.busy = false;
          }
        })();
      }
    }
  }

  // ---- slow ------------------------------------------------------------------

  async slow(id: number): Promise<void> {
    let n = 0;
    while (!this.stopping) {
      let c: Conn;
      try {
        c = await this.connect();
      } catch (err) {
        this.error(`slow ${id}: connect: ${(err as Error).message}`);
        await sleep(1000);
        continue;
      }
      for (let k = 0; k < 5 && !this.stopping; k++) {
        const l = line(`slow-${id}-${n++}`, 48);
        const back = c.read(l.length, 30_000);
        back.catch(() => {});
        try {
          for (let b = 0; b < l.length && !this.stopping; b++) {
            await c.write(l.subarray(b, b + 1));
            await sleep(100);
          }
          if (this.stopping) break;
          if (this.verify(l, await back, `slow ${id}`)) this.f.slow_lines += 1;
        } catch (err) {
          this.error(`slow ${id}: ${(err as Error).message}`);
          break;
        }
      }
      c.s.end();
    }
  }

  // ---- abusive ---------------------------------------------------------------

  async abusive(id: number): Promise<void> {
    while (!this.stopping) {
      const kind = ABUSES[rand(0, ABUSES.length - 1)];
      try {
        await this.abuse(kind, id);
        this.f.abuses[kind] += 1;
      } catch (err) {
        this.error(`abusive ${id} ${kind}: ${(err as Error).message}`);
      }
      await this.nap(rand(20, 200));
    }
  }

  private async abuse(kind: Abuse, id: number): Promise<void> {
    const c = await this.connect();
    switch (kind) {
      case 'reset_mid_line':
        await c.write(`abusive ${id}: a line cut by a reset`);
        await sleep(rand(0, 100));
        c.s.resetAndDestroy();
        return;
      case 'vanish':
        c.s.end();
        return;
      case 'long_line': {
        // 70 KiB without a newline, paced, stopping once answered.
        const chunk = Buffer.alloc(8 * 1024, 'L');
        for (let sent = 0; sent < 70 * 1024 && !c.closed && c.received === 0; sent += chunk.length) {
          await c.write(chunk).catch(() => {});
          await sleep(1);
        }
        const got = await c.read(ERR_TOO_LONG.length).catch((e: Error) => e);
        c.s.end();
        if (got instanceof Error) throw new Error(`no "-ERR line too long": ${got.message}`);
        this.verify(ERR_TOO_LONG, got, `abusive ${id} long line`);
        return;
      }
      case 'half_close': {
        const ls = Buffer.concat(Array.from({ length: 20 }, (_, i) => line(`half-${id}-${i}`, rand(10, 300))));
        c.s.end(ls);
        const got = await c.rest();
        if (this.verify(ls, got, `abusive ${id} half-close`) && !c.ended) this.error(`abusive ${id} half-close: no FIN from the server (${c.error})`);
        return;
      }
      case 'stop_reading':
        c.s.pause();
        c.s.write(Buffer.concat(Array.from({ length: 512 }, (_, i) => line(`stuck-${id}-${i}`, 1024))));
        await sleep(200);
        c.s.resetAndDestroy();
        return;
      case 'binary_line': {
        // Random bytes without LF (and not starting with '!'), then CRLF.
        const body = Buffer.from(randomBytes(rand(1, 2000)).map((b) => (b === 0x0a ? 0x0b : b)));
        if (body[0] === 0x21) body[0] = 0x22;
        const l = Buffer.concat([body, Buffer.from('\r\n')]);
        await this.echo(c, l, `abusive ${id} binary line`);
        c.s.end();
        return;
      }
      case 'garbage':
        await c.write(Buffer.from(randomBytes(rand(1, 1000)).map((b) => (b === 0x0a ? 0x0b : b))));
        c.s.resetAndDestroy();
        return;
      case 'idle_leave':
        await this.nap(rand(1000, 5000));
        c.s.end();
        return;
    }
  }

  // ---- normal ----------------------------------------------------------------

  async normal(loop: number): Promise<void> {
    const sizes = [16, 100, 1000, 4096];
    let i = loop;
    while (!this.stopping) {
      const size = sizes[i++ % sizes.length];
      const { normalConns, normalTxns } = this.mix;
      const p = new Proc('echo_client', paths.echoClient, [
        '--json', '--no-shutdown', HOST, String(this.port), String(normalConns), String(normalTxns), String(size),
      ]);
      const exit = (await p.wait(120_000)) ?? (await p.reap());
      this.f.normal_runs += 1;
      this.f.connections_opened += normalConns;
      let r: { transactions?: number; mismatches?: number; errors?: number } = {};
      try {
        r = JSON.parse(p.stdout);
      } catch {
        // Judged below.
      }
      this.f.normal_transactions += r.transactions ?? 0;
      this.f.transactions += r.transactions ?? 0;
      this.f.mismatches += r.mismatches ?? 0;
      if (exit.code !== 0 || (r.errors ?? 1) > 0) {
        this.error(`echo_client ${normalConns}x${normalTxns}x${size}: ${p.describeExit()}, ${r.errors ?? '?'} failed connections: ${p.stderrTail.get().slice(-2).join(' / ')}`);
      }
    }
  }

  stop(): void {
    this.stopping = true;
    this.wakeAll.splice(0).forEach((w) => w());
  }

  /** Sleeps ms, or less when the soak stops meanwhile. */
  nap(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.wakeAll = this.wakeAll.filter((w) => w !== done);
        resolve();
      }, ms);
      this.wakeAll.push(done);
    });
  }

  /** Ends every connection this process holds and waits until they are closed. */
  async closeAll(): Promise<void> {
    for (const c of this.open) c.s.end();
    const until = Date.now() + 5_000;
    while (this.open.size > 0 && Date.now() < until) await sleep(50);
    for (const c of this.open) c.s.destroy();
  }
}

/** Asks the server to stop (`!shutdown`, accepted from loopback) and waits for it. */
async function shutdown(port: number, server: Proc): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = connect({ port, host: HOST }, () => s.write('!shutdown\r\n'));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.resume();
  });
  await server.wait(10_000);
}

export async function runSoak(o: SoakOptions): Promise<SoakFigures> {
  const { proc: server, port } = await startServer({ server: 'coro', backend: o.backend, tls: false }, o.port, {}, o.fileLimit);
  const pid = server.pid as number;
  const run = new SoakRun(port, soakMix(o.conns));
  let sampler: NodeJS.Timeout | undefined;
  try {
    await sleep(200);
    const fdsBefore = fdCount(pid);
    const rssBefore = rssKib(pid);
    const t0 = Date.now();
    sampler = setInterval(() => {
      try {
        run.f.samples.push({ t_s: Math.round((Date.now() - t0) / 100) / 10, rss_kib: rssKib(pid), fds: fdCount(pid), client_open: run.clientOpen });
      } catch {
        // The server is gone: the checks after the run say so.
      }
      const last = run.f.samples[run.f.samples.length - 1];
      if (last && run.f.samples.length % 15 === 0) {
        o.note?.(
          `soak ${Math.round(last.t_s)}/${o.durationS} s: ${last.client_open.toLocaleString('en-US')} connections held here, ` +
            `server RSS ${last.rss_kib.toLocaleString('en-US')} KiB, ${last.fds.toLocaleString('en-US')} fds; ` +
            `${run.f.transactions.toLocaleString('en-US')} verified echoes, ${run.f.connections_opened.toLocaleString('en-US')} connections opened, ` +
            `${run.f.mismatches} mismatches, ${run.f.errors} errors`,
        );
      }
    }, 1000);
    const loads: Promise<void>[] = [run.idle()];
    for (let i = 0; i < run.mix.slow; i++) loads.push(run.slow(i));
    for (let i = 0; i < run.mix.abusive; i++) loads.push(run.abusive(i));
    for (let i = 0; i < run.mix.normalLoops; i++) loads.push(run.normal(i));
    const until = t0 + o.durationS * 1000;
    while (Date.now() < until && server.exit === undefined) await sleep(200);
    clearInterval(sampler);
    sampler = undefined;
    run.stop();
    await Promise.all(loads);
    await run.closeAll();
    const alive = server.exit === undefined;
    const fdsAfter = alive ? await settle(pid, fdsBefore, 10_000) : -1;
    const rssAfter = alive ? rssKib(pid) : 0;
    const cpu = alive ? cpuSeconds(pid) : 0;
    if (alive) await shutdown(port, server);
    return {
      ...run.f,
      fds_before: fdsBefore,
      rss_before_kib: rssBefore,
      fds_after: fdsAfter,
      rss_after_kib: rssAfter,
      server_cpu_s: cpu,
      server_exit: server.describeExit(),
      server_exit_code: server.exit?.code ?? null,
      samples: run.f.samples,
    };
  } finally {
    if (sampler) clearInterval(sampler);
    run.stop();
    await run.closeAll();
    await stopServer(server);
  }
}
