// The options of clients on other hosts (--client-hosts, --ssh-option,
// --remote-client) and of the server address they reach (--bind), parsed
// and checked against the rest of an echo command line.
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { checkHost, checkSshOption } from '../workload/remote.js';

export interface HostOptions {
  bind?: string;
  clientHosts?: string[];
  sshOptions: string[];
  remoteClient?: string;
}

interface RawHostOptions {
  bind?: string;
  clientHosts?: string;
  sshOption?: string[];
  remoteClient?: string;
}


export function parseHostOptions(raw: RawHostOptions): HostOptions {
  const o: HostOptions = { sshOptions: (raw.sshOption ?? []).map(checkSshOption) };
  if (raw.bind !== undefined) {
    if (isIP(raw.bind) === 0) throw new UsageError(`--bind wants an IP address of this host, got "${raw.bind}"`);
    o.bind = raw.bind;
  }
  if (raw.clientHosts !== undefined) {
    const hosts = raw.clientHosts
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map(checkHost);
    if (hosts.length === 0) throw new UsageError('--client-hosts needs at least one host');
    const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
    if (twice) throw new UsageError(`--client-hosts names ${twice} twice (use --clients N for several processes per host)`);
    o.clientHosts = hosts;
  }
  if (raw.remoteClient !== undefined) {
    if (!raw.remoteClient.startsWith('/')) throw new UsageError(`--remote-client wants an absolute path on the client hosts, got "${raw.remoteClient}"`);
    o.remoteClient = raw.remoteClient;
  }
  return o;
}

/** The combinations that cannot work, each refused with one line. */
export function checkHostOptions(o: HostOptions & { raw: boolean; clientCpus?: number[]; servers: string[]; serverCmds: string[] }): void {
  if (!o.clientHosts) {
    if (o.sshOptions.length > 0) throw new UsageError('--ssh-option goes with --client-hosts');
    if (o.remoteClient) throw new UsageError('--remote-client goes with --client-hosts');
    return;
  }
  if (o.raw) throw new UsageError('--raw prints one local client\'s coro++ lines: it cannot be combined with --client-hosts');
  if (o.clientCpus) throw new UsageError('--client-cpus pins local client processes: it cannot be combined with --client-hosts');
  if (o.serverCmds.length > 0) {
    throw new UsageError('--server-cmd cannot be combined with --client-hosts: start your server where the hosts reach it and give --target HOST:PORT');
  }
  if (!o.bind && o.servers.length > 0) {
    throw new UsageError('--client-hosts needs --bind ADDR: an address of this host the client hosts can reach (the server binds 127.0.0.1 otherwise), or --target HOST:PORT alone');
  }
}
