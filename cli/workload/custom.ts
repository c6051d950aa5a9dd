// Servers the suite did not write: `--server-cmd 'NAME=COMMAND ... {port}'`
// (spawned like the built-in ones, in its own process group) and
// `--target [NAME=]HOST:PORT` (already running; nothing is spawned). Both
// need only speak line echo; `!bench json` and `!shutdown` are used when
// they answer them.
import { accessSync, constants } from 'node:fs';
import { connect, createServer, isIP, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { Proc } from './process.js';
import { findOnPath } from './tools.js';

export interface CustomServer {
  /** The name shown in tables (NAME of NAME=COMMAND, or the address). */
  name: string;
  /** --server-cmd: a shell command with {port}. */
  command?: string;
  /** --target: where it listens. */
  host?: string;
  port?: number;
  /** --ready: the line that says a spawned server is ready (else: it accepts a connection). */
  ready?: RegExp;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+:/-]*$/;

/** The program a shell command runs first (after VAR=value words and `exec`/`env`). */
export function commandProgram(command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  let i = 0;
  while (i < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]) || words[i] === 'exec' || words[i] === 'env')) i++;
  return words[i]?.replace(/^['"]|['"]$/g, '');
}

/** `NAME=COMMAND`: checked for a name, a {port} and a program that exists. */
export function parseServerCmd(raw: string): CustomServer {
  const eq = raw.indexOf('=');
  const name = eq > 0 ? raw.slice(0, eq).trim() : '';
  const command = eq > 0 ? raw.slice(eq + 1).trim() : '';
  if (!name || !command) throw new UsageError(`--server-cmd must be NAME=COMMAND (e.g. mine='./my_echo -p {port}'), got "${raw}"`);
  if (!NAME.test(name)) throw new UsageError(`--server-cmd: name "${name}" may hold only letters, digits and _.+:/-`);
  if (!command.includes('{port}')) throw new UsageError(`--server-cmd ${name}: the command has no {port} (where the port to listen on goes)`);
  const program = commandProgram(command);
  if (!program) throw new UsageError(`--server-cmd ${name}: no program in "${command}"`);
  const found = program.includes('/') ? executable(program) : findOnPath(program) !== undefined || SHELL_WORDS.has(program);
  if (!found) throw new UsageError(`--server-cmd ${name}: program "${program}" not found${program.includes('/') ? ' (or not executable)' : ' on PATH'}`);
  return { name, command };
}

/** Shell words a command may start with that are not files. */
const SHELL_WORDS = new Set(['cd', '(', '{', 'ulimit', 'nice']);

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `[NAME=]HOST:PORT` (an IPv6 host in brackets). */
export function parseTarget(raw: string): CustomServer {
  const eq = raw.indexOf('=');
  const name = eq > 0 ? raw.slice(0, eq).trim() : undefined;
  const addr = (eq > 0 ? raw.slice(eq + 1) : raw).trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(addr);
  if (!m) throw new UsageError(`--target must be [NAME=]HOST:PORT (e.g. 127.0.0.1:9001 or [::1]:9001), got "${raw}"`);
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) throw new UsageError(`--target ${addr}: port must be between 1 and 65535`);
  if (m[1] && isIP(host) !== 6) throw new UsageError(`--target ${addr}: "${host}" in brackets is not an IPv6 address`);
  if (name !== undefined && !NAME.test(name)) throw new UsageError(`--target: name "${name}" may hold only letters, digits and _.+:/-`);
  return { name: name ?? addr, host, port };
}

/** The command with its port filled in. */
export function commandFor(c: CustomServer, port: number): string {
  return (c.command as string).replaceAll('{port}', String(port));
}

/** A port free now on 127.0.0.1 (the kernel's pick), for a command that cannot be told "0". */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection at host:port now. */
export function accepts(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Waits until a spawned custom server is ready: it printed a line matching
 * `ready` (stdout or stderr) when given, else it accepts a connection.
 * Rejects when it exits first or the time is up.
 */
export async function waitCustomReady(proc: Proc, host: string, port: number, ready: RegExp | undefined, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exit) throw new Error(`${proc.label} ${proc.describeExit()} before it was ready${tailNote(proc)}`);
    if (ready) {
      if (ready.test(proc.stdout) || proc.stderrTail.get().some((l) => ready.test(l))) return;
    } else if (await accepts(host, port, 500)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${proc.label} was not ready within ${timeoutMs / 1000} s (${ready ? `no line matched --ready ${ready.source}` : `nothing accepted connections on port ${port}`})`);
}

function tailNote(proc: Proc): string {
  const last = proc.stderrTail.get().slice(-1)[0];
  return last ? `: ${last}` : '';
}

/**
 * Checks a --target before any run: it accepts a connection and echoes a
 * line. Throws a UsageError naming what it does instead.
 */
export async function checkTarget(c: CustomServer, timeoutMs = 3000): Promise<void> {
  const host = c.host as string;
  const port = c.port as number;
  const probe = `coro-bench-probe-${randomBytes(6).toString('hex')}`;
  const outcome = await new Promise<string | undefined>((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const done = (why: string | undefined): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(buf ? 'does not echo (its answer differs from the line sent)' : `does not echo (no answer within ${timeoutMs / 1000} s)`), timeoutMs);
    s.setEncoding('latin1');
    s.once('connect', () => s.write(`${probe}\r\n`));
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) done(buf === `${probe}\r\n` ? undefined : 'does not echo (its answer differs from the line sent)');
    });
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refuses connections' : `cannot be reached: ${err.message}`));
    s.once('close', () => done(buf ? 'does not echo (closed after a partial answer)' : 'does not echo (closed the connection)'));
  });
  if (outcome) throw new UsageError(`--target ${c.name}: ${host}:${port} ${outcome}`);
}
