// The echo servers the suite can drive, and how each is started. All speak
// the protocol of docs/programs.md and print the same ready line.
import { existsSync } from 'node:fs';
import { NativeMissingError } from '../errors.js';
import { BUILD_HINT, paths } from '../paths.js';
import { commandFor, type CustomServer } from './custom.js';

export const SERVER_KINDS = ['coro', 'epoll', 'node'] as const;
/**
 * 'go' (native/peers/go_echo) is built on demand with a Go toolchain, so only
 * `compare` offers it; it is not one of the SERVER_KINDS of echo and profiles.
 */
export type ServerKind = (typeof SERVER_KINDS)[number] | 'go';

/** What a result's `backend` says for the peers, which have no pluggable backend. */
export const PEER_BACKEND: Record<Exclude<ServerKind, 'coro'>, string> = {
  epoll: 'epoll',
  node: 'libuv',
  go: 'netpoll',
};

/** The built-in kinds plus servers the suite did not write: a command it spawns, or an address already serving. */
export type ConfigKind = ServerKind | 'cmd' | 'target';

export interface ServerConfig {
  server: ConfigKind;
  /** Event backend of the coro server; the peers' fixed mechanism otherwise. */
  backend: string;
  tls: boolean;
  /** --server-cmd / --target: what to run or where it runs. */
  custom?: CustomServer;
  /**
   * Worker processes (--workers; absent: 1): `-w N` of echo_server, the
   * epoll and Node peers, GOMAXPROCS of the Go peer, {workers} of a
   * --server-cmd.
   */
  workers?: number;
}

export function configName(c: ServerConfig): string {
  const w = (c.workers ?? 1) > 1 ? ` w${c.workers}` : '';
  if (c.custom) return `${c.custom.name}${c.server === 'cmd' ? w : ''}`;
  return `${baseName(c)}${w}`;
}

function baseName(c: ServerConfig): string {
  const base = c.server === 'coro' ? `coro/${c.backend}` : c.server;
  return c.tls ? `${base}+tls` : base;
}

/** The program file a server kind needs (to check before running anything). */
export function serverProgram(kind: ServerKind): string {
  return { coro: paths.echoServer, epoll: paths.epollEcho, node: paths.nodeEcho, go: paths.goEcho }[kind];
}

export function requireProgram(file: string, what: string): void {
  if (existsSync(file)) return;
  if (file.endsWith('.mjs')) throw new NativeMissingError(`${what} is missing (looked for ${file})`);
  throw new NativeMissingError(`${what} not built: ${BUILD_HINT} (looked for ${file})`);
}

/** argv of a server listening on `port` (0 = ephemeral) on 127.0.0.1. */
export function serverArgv(c: ServerConfig, port: number): string[] {
  const w = c.workers ?? 1;
  // -w only when asked: one worker runs exactly the program as it always ran.
  const common = ['-a', '127.0.0.1', '-P', String(port), ...(w > 1 && c.server !== 'go' ? ['-w', String(w)] : [])];
  switch (c.server) {
    case 'coro':
      return [paths.echoServer, ...common, '-b', c.backend, ...(c.tls ? ['-t'] : [])];
    case 'epoll':
      return [paths.epollEcho, ...common];
    case 'node':
      return [process.execPath, paths.nodeEcho, ...common];
    case 'go':
      return [paths.goEcho, ...common];
    case 'cmd':
      return ['sh', '-c', commandFor(c.custom as CustomServer, port).replaceAll('{workers}', String(w))];
    case 'target':
      throw new Error(`${configName(c)} is a running server: nothing to start`);
  }
}

/**
 * Environment of a server process: the Go peer's GOMAXPROCS is its number
 * of workers when one is asked (else Go's default: the CPUs it may use).
 */
export function serverEnv(c: ServerConfig): NodeJS.ProcessEnv | undefined {
  return c.server === 'go' && c.workers !== undefined ? { ...process.env, GOMAXPROCS: String(c.workers) } : undefined;
}
