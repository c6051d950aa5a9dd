// What `echo --client-hosts` needs before its first run: ssh here, and on
// every host a login and the client binary (one ssh round each, at once),
// so that a host that cannot take part is one error line, not a failed run.
import { execFileSync } from 'node:child_process';
import type { EchoOptions } from '../commands/echo.js';
import { UsageError } from '../errors.js';
import { paths } from '../paths.js';
import type { RemoteClients } from '../workload/echo-remote.js';
import { describePinning, type Pinning } from '../workload/launch.js';
import { preflightHosts } from '../workload/remote.js';

export async function remoteClients(o: EchoOptions): Promise<RemoteClients> {
  try {
    execFileSync('ssh', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new UsageError('--client-hosts needs ssh (the OpenSSH client), which is not installed here');
  }
  const hosts = o.clientHosts as string[];
  const ssh = { options: o.sshOptions, clientPath: o.remoteClient ?? paths.echoClient };
  await preflightHosts(hosts, ssh);
  return { hosts, ssh, ...(o.bind ? { serverHost: o.bind } : {}) };
}

/** The pinning line of a results document whose clients ran elsewhere. */
export function remotePinning(p: Pinning, hosts: string[], perHost: number): string {
  const server = describePinning(p, 1).replace(/, client on CPU \d+$/, '');
  const clients = `${perHost > 1 ? `${perHost} clients each` : 'clients'} on ${hosts.join(', ')} (not pinned by coro-bench)`;
  return p.server === undefined ? `server not pinned; ${clients}` : `${server}; ${clients}`;
}
