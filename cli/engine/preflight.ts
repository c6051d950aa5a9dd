// Checks made before anything is spawned, so bad input or a missing build
// fails at once with one clear line (exit 2) instead of after some runs.
import { createServer } from 'node:net';
import { UsageError } from '../errors.js';
import { paths } from '../paths.js';
import { hardFileLimit, softFileLimit } from '../workload/launch.js';
import { requireProgram, serverProgram, type ServerConfig } from '../workload/servers.js';

export function requireEchoPrograms(configs: ServerConfig[]): void {
  requireProgram(paths.echoClient, 'echo_client');
  for (const c of configs) if (c.server !== 'cmd' && c.server !== 'target') requireProgram(serverProgram(c.server), c.server === 'node' ? 'node_echo.mjs' : `${c.server} echo server`);
}

/** Rejects a fixed port that something already listens on. */
export async function requirePortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new UsageError(
          err.code === 'EADDRINUSE'
            ? `port ${port} is in use (pick another --port, or 0 for an ephemeral port)`
            : `cannot use port ${port}: ${err.message}`,
        ),
      );
    });
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

/** Open files each side needs for `conns` connections, with room for stdio, listener, epoll etc. */
export function filesNeeded(conns: number): number {
  return conns + 64;
}

/**
 * The open-files limit to start the programs with: undefined when the current
 * soft limit is enough; the needed value when the hard limit allows it.
 * Throws a UsageError that says why when it cannot be raised.
 */
export function fileLimitFor(conns: number): number | undefined {
  const need = filesNeeded(conns);
  const soft = softFileLimit();
  if (Number.isFinite(soft) && soft >= need) return undefined;
  const hard = hardFileLimit();
  if (!(hard >= need)) {
    throw new UsageError(
      `${conns} connections need ${need} open files per process, but the hard limit is ${hard} ` +
        '(raise it with `ulimit -Hn` as root or in /etc/security/limits.conf)',
    );
  }
  return need;
}
