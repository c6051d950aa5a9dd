// `coro-bench echo`: options and their validation into EchoOptions.
import { Command, Option } from 'commander';
import { echoAction } from '../actions/echo.js';
import { UsageError } from '../errors.js';
import { SERVER_KINDS, type ServerKind } from '../workload/servers.js';
import { customConfigs, readyPattern } from '../engine/configs.js';
import { buildDirs, choices, cpuList, exportFile, int, LIMITS, pin, repeatable } from './parse.js';
import { checkHostOptions, parseHostOptions } from './hosts.js';
import { stdio } from './io.js';
import { checkRatePerConn, rateValue } from './rate.js';

export interface EchoOptions {
  conns: number;
  txns: number;
  size: number;
  /** Backend names as given ("all" expanded later, against the library's list); [] = the library's default. */
  backends: string[];
  servers: ServerKind[];
  tls: boolean;
  /** --build folders (absolute) whose coro server runs the workload; [] = the default build. */
  builds: string[];
  runs: number;
  warmup: number;
  port: number;
  json: boolean;
  raw: boolean;
  export?: string;
  pin?: [number, number];
  noPin: boolean;
  reference?: string;
  timeoutS: number;
  /** echo_client processes sharing the connections. */
  clients: number;
  clientCpus?: number[];
  /** Address the server binds (default 127.0.0.1). */
  bind?: string;
  /** Hosts that run the clients over ssh; `clients` is then per host. */
  clientHosts?: string[];
  sshOptions: string[];
  /** The client binary on those hosts (default: the same path as here). */
  remoteClient?: string;
  /** Open loop: transactions a second over all connections and clients. */
  rate?: number;
  /** --server-cmd NAME=COMMAND and --target [NAME=]HOST:PORT as given (checked in parse, resolved in the action). */
  serverCmds: string[];
  targets: string[];
  ready?: string;
  /** Server worker processes (-w N / cluster / GOMAXPROCS). */
  workers: number;
  serverCpus?: number[];
}

export interface RawEchoOptions {
  conns: string;
  txns: string;
  size: string;
  backend?: string;
  /** Default: coro, or none when --server-cmd/--target are given. */
  server?: string;
  tls?: boolean;
  build?: string[];
  runs: string;
  warmup: string;
  port: string;
  json?: boolean;
  raw?: boolean;
  export?: string;
  pin?: string | boolean;
  reference?: string;
  timeout: string;
  clients?: string;
  clientCpus?: string;
  bind?: string;
  clientHosts?: string;
  sshOption?: string[];
  remoteClient?: string;
  rate?: string;
  serverCmd?: string[];
  target?: string[];
  ready?: string;
  workers?: string;
  serverCpus?: string;
}

export function parseBackends(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new UsageError('--backend needs a name (or "all")');
  return names;
}

export function parseEchoOptions(raw: RawEchoOptions): EchoOptions {
  const o: EchoOptions = {
    conns: int('--conns', raw.conns, LIMITS.conns.min, LIMITS.conns.max),
    txns: int('--txns', raw.txns, LIMITS.txns.min, LIMITS.txns.max),
    size: int('--size', raw.size, LIMITS.size.min, LIMITS.size.max),
    backends: parseBackends(raw.backend),
    servers: raw.server === undefined && (raw.serverCmd?.length || raw.target?.length) ? [] : choices('--server', raw.server ?? 'coro', SERVER_KINDS),
    tls: raw.tls === true,
    builds: buildDirs(raw.build),
    runs: int('--runs', raw.runs, LIMITS.runs.min, LIMITS.runs.max),
    warmup: int('--warmup', raw.warmup, LIMITS.warmup.min, LIMITS.warmup.max),
    port: int('--port', raw.port, LIMITS.port.min, LIMITS.port.max),
    json: raw.json === true,
    raw: raw.raw === true,
    export: exportFile(raw.export),
    pin: typeof raw.pin === 'string' ? pin(raw.pin) : undefined,
    noPin: raw.pin === false,
    reference: raw.reference,
    timeoutS: int('--timeout', raw.timeout, LIMITS.timeout.min, LIMITS.timeout.max),
    clients: int('--clients', raw.clients ?? '1', LIMITS.clients.min, LIMITS.clients.max),
    clientCpus: cpuList('--client-cpus', raw.clientCpus),
    serverCmds: raw.serverCmd ?? [],
    targets: raw.target ?? [],
    ready: raw.ready,
    workers: int('--workers', raw.workers ?? '1', LIMITS.workers.min, LIMITS.workers.max),
    serverCpus: cpuList('--server-cpus', raw.serverCpus),
    ...parseHostOptions(raw),
  };
  // Parsed here for their one-line errors; the action builds the configurations again.
  customConfigs(o.serverCmds, o.targets, readyPattern(o.ready));
  if (o.tls && (o.serverCmds.length || o.targets.length)) throw new UsageError('--tls is for the coro server: --server-cmd and --target servers are driven in clear text');
  checkClients(o.clients * (o.clientHosts?.length ?? 1), o.conns, o.raw);
  checkHostOptions(o);
  if (raw.rate !== undefined) o.rate = checkEchoRate(rateValue('--rate', raw.rate), o);
  if (o.raw && o.json) throw new UsageError('--raw and --json cannot be combined (--raw prints the coro++ text lines)');
  if (o.raw && (o.serverCmds.length || o.targets.length)) throw new UsageError('--raw runs a built-in server: it cannot be combined with --server-cmd or --target');
  if (o.raw && o.export) throw new UsageError('--raw cannot be combined with --export (it makes no result file)');
  if (o.tls && o.servers.some((s) => s !== 'coro')) {
    throw new UsageError(`--tls needs --server coro (the ${o.servers.filter((s) => s !== 'coro').join(', ')} peer has no TLS)`);
  }
  return o;
}

/** --rate against the other options; returns the rate. */
function checkEchoRate(rate: number, o: EchoOptions): number {
  if (o.raw) throw new UsageError('--rate cannot be combined with --raw (the three coro++ lines have no place for the open-loop figures)');
  if (o.clientHosts?.length) throw new UsageError('--rate cannot be combined with --client-hosts yet (the open-loop schedule starts at each connect, before the hosts\' start barrier)');
  checkRatePerConn('--rate', rate, o.conns);
  const scheduleS = (o.txns * o.conns) / rate;
  if (scheduleS > o.timeoutS) {
    throw new UsageError(
      `--rate ${rate} with --conns ${o.conns} --txns ${o.txns} is a ${Math.ceil(scheduleS)} s schedule, longer than --timeout ${o.timeoutS} s: lower --txns or raise --rate or --timeout`,
    );
  }
  return rate;
}

/** --clients against the connections they share (and --raw, which is one client's own report). */
export function checkClients(clients: number, conns: number, raw = false): void {
  if (clients > conns) throw new UsageError(`--clients ${clients} is more than the ${conns} connection(s) to share (at most one client per connection)`);
  if (raw && clients > 1) throw new UsageError('--raw prints one client\'s coro++ lines: it cannot be combined with --clients');
}

export function echoCommand(): Command {
  return new Command('echo')
    .description('run the echo workload: spawn a server and echo_client, repeat, and report statistics')
    .option('--conns <n>', 'connections', '100')
    .option('--txns <n>', 'transactions per connection', '100')
    .option('--size <bytes>', 'bytes per transaction, CRLF included (>= 3)', '100')
    .option('--backend <name>', 'event backend of the coro server: a name, a comma list, or "all" (default: the fastest of this build)')
    .option('--server <kind>', `server: ${SERVER_KINDS.join(', ')}, a comma list, or "all" (default: coro, or none with --server-cmd/--target)`)
    .option('--server-cmd <name=command>', 'also run your own line-echo server: a shell command with {port} (repeatable)', repeatable, [])
    .option('--target <[name=]host:port>', 'also load an echo server that is already running (repeatable; nothing is spawned)', repeatable, [])
    .option('--ready <regex>', 'a --server-cmd server is ready when it prints a line matching this (default: when it accepts a connection)')
    .option('--tls', 'TLS between client and the coro server (echo_server -t / echo_client -t)')
    .option('--build <dir>', 'run the coro server of this native build folder (repeatable: one configuration each, named coro/<backend>@<folder>); the client stays native/build\'s', repeatable)
    .option('--runs <n>', 'measured runs per configuration', '5')
    .option('--warmup <n>', 'unmeasured runs per configuration before them', '1')
    .option('--port <n>', 'server port (0 = an ephemeral port per run)', '0')
    .option('--json', 'print only the JSON results document on stdout')
    .option('--raw', 'one run, printing exactly the three coro++ report lines of the client')
    .option('--export <file>', 'also save the results as .json, .md, .csv or .html')
    .option('--pin <server_cpu,client_cpu>', 'pin server and client to these CPUs (default 0,1 when there are 2+ CPUs)')
    .option('--no-pin', 'do not pin server and client to CPUs')
    .option('--reference <config>', 'configuration the comparison ratios are against (default: the first)')
    .addOption(new Option('--timeout <seconds>', 'kill and fail a run after this long').default('120'))
    .option('--clients <n>', 'echo_client processes sharing the connections, each on its own CPU', '1')
    .option('--client-cpus <list>', 'CPUs for the client processes, e.g. 2-7 (default: the CPUs not given to the server)')
    .option('--workers <n>', 'server worker processes: echo_server/epoll -w N, Node cluster, Go GOMAXPROCS, {workers} of a --server-cmd', '1')
    .option('--server-cpus <list>', 'CPUs for the server, e.g. 0-3 (default: CPU 0, or one per worker from CPU 0 leaving one for clients)')
    .option('--bind <addr>', 'address the server binds (default 127.0.0.1); one the client hosts can reach')
    .option('--client-hosts <hosts>', 'run the clients on these hosts over ssh, e.g. 10.0.0.2,user@10.0.0.3 (--clients per host; docs/hosts.md)')
    .option('--ssh-option <opt>', 'an ssh -o option for --client-hosts, e.g. IdentityFile=~/.ssh/bench (repeatable)', repeatable, [])
    .option('--remote-client <path>', 'echo_client on the client hosts (default: the same path as here)')
    .option('--rate <txn_per_s>', 'open loop: this many transactions a second over all connections and clients, on a fixed schedule, latency from each line\'s due time (docs/latency.md)')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench echo --conns 100 --txns 100 --size 100
  coro-bench echo --conns 100 --txns 100 --size 100 --raw
  coro-bench echo --server all --runs 10 --export results/echo.json
  coro-bench echo --backend all --runs 5 --json > echo.json
  coro-bench echo --tls --conns 10 --txns 1000
  coro-bench echo --tls --build native/build --build native/build-s2n   # OpenSSL against s2n (npm run test:s2n builds it)
  coro-bench echo --conns 1000 --txns 1000 --clients 4 --client-cpus 4-7
  coro-bench echo --conns 100 --txns 50 --rate 5000
  coro-bench echo --server coro,epoll --server-cmd mine='./my_echo -p {port}'
  coro-bench echo --server-cmd py='python3 echo.py {port}' --ready 'listening'
  coro-bench echo --target 192.0.2.7:9001 --target local=127.0.0.1:7000
  coro-bench echo --server coro,epoll --workers 4 --server-cpus 0-3 --clients 4 --client-cpus 4-7
  coro-bench echo --bind 10.0.0.1 --client-hosts 10.0.0.2,10.0.0.3 --runs 3`,
    )
    .action(async (raw: RawEchoOptions) => {
      process.exitCode = await echoAction(parseEchoOptions(raw), stdio());
    });
}
