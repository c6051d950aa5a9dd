// `coro-bench scale`: options and their validation into ScaleOptions.
import { Command, Option } from 'commander';
import { scaleAction } from '../actions/scale.js';
import { customConfigs, readyPattern } from '../engine/configs.js';
import { UsageError } from '../errors.js';
import type { ServerKind } from '../workload/servers.js';
import { COMPARE_SERVER_KINDS } from './compare.js';
import { collect, parseBackends } from './echo.js';
import { stdio } from './io.js';
import { choices, cpuList, exportFile, int, intList, LIMITS } from './parse.js';

export interface ScaleOptions {
  conns: number;
  txns: number;
  size: number;
  backends: string[];
  servers: ServerKind[];
  serverCmds: string[];
  ready?: string;
  /** Worker counts as given; undefined: 1, 2, 4, ... up to the server CPUs. */
  workers?: number[];
  serverCpus?: number[];
  clientCpus?: number[];
  /** Client processes at every point; undefined: as many as workers. */
  clients?: number;
  runs: number;
  warmup: number;
  port: number;
  timeoutS: number;
  json: boolean;
  export?: string;
  noPin: boolean;
}

export interface RawScaleOptions {
  conns: string;
  txns: string;
  size: string;
  backend?: string;
  server?: string;
  serverCmd?: string[];
  target?: string[];
  ready?: string;
  workers?: string;
  serverCpus?: string;
  clientCpus?: string;
  clients?: string;
  runs: string;
  warmup: string;
  port: string;
  timeout: string;
  json?: boolean;
  export?: string;
  pin?: boolean;
}

export function parseScaleOptions(raw: RawScaleOptions): ScaleOptions {
  if (raw.target?.length) throw new UsageError('scale changes the number of workers of the servers it starts: a --target cannot be scaled');
  const o: ScaleOptions = {
    conns: int('--conns', raw.conns, LIMITS.conns.min, LIMITS.conns.max),
    txns: int('--txns', raw.txns, LIMITS.txns.min, LIMITS.txns.max),
    size: int('--size', raw.size, LIMITS.size.min, LIMITS.size.max),
    backends: parseBackends(raw.backend),
    servers: raw.server === undefined && raw.serverCmd?.length ? [] : choices('--server', raw.server ?? 'coro', COMPARE_SERVER_KINDS),
    serverCmds: raw.serverCmd ?? [],
    ready: raw.ready,
    workers: raw.workers === undefined ? undefined : [...new Set(intList('--workers', raw.workers, LIMITS.workers.min, LIMITS.workers.max))].sort((a, b) => a - b),
    serverCpus: cpuList('--server-cpus', raw.serverCpus),
    clientCpus: cpuList('--client-cpus', raw.clientCpus),
    clients: raw.clients === undefined ? undefined : int('--clients', raw.clients, LIMITS.clients.min, LIMITS.clients.max),
    runs: int('--runs', raw.runs, LIMITS.runs.min, LIMITS.runs.max),
    warmup: int('--warmup', raw.warmup, LIMITS.warmup.min, LIMITS.warmup.max),
    port: int('--port', raw.port, LIMITS.port.min, LIMITS.port.max),
    timeoutS: int('--timeout', raw.timeout, LIMITS.timeout.min, LIMITS.timeout.max),
    json: raw.json === true,
    export: exportFile(raw.export),
    noPin: raw.pin === false,
  };
  customConfigs(o.serverCmds, [], readyPattern(o.ready));
  if (o.clients !== undefined && o.clients > o.conns) throw new UsageError(`--clients ${o.clients} is more than the ${o.conns} connection(s) to share (at most one client per connection)`);
  if (o.workers && o.workers[0] !== 1) throw new UsageError('--workers must include 1: efficiency is measured against one worker');
  if (o.noPin && (o.serverCpus || o.clientCpus)) throw new UsageError('--no-pin cannot be combined with --server-cpus or --client-cpus');
  return o;
}

export function scaleCommand(): Command {
  return new Command('scale')
    .description('one echo workload at 1, 2, 4, ... server workers (each against as many client processes): txn/s, server CPU per transaction and scaling efficiency')
    .option('--conns <n>', 'connections', '100')
    .option('--txns <n>', 'transactions per connection', '100')
    .option('--size <bytes>', 'bytes per transaction, CRLF included (>= 3)', '100')
    .option('--server <kind>', `server: ${COMPARE_SERVER_KINDS.join(', ')} (go: when a Go toolchain is installed), a comma list, or "all" (default: coro, or none with --server-cmd)`)
    .option('--backend <name>', 'event backend of the coro server: a name, a comma list, or "all"')
    .option('--server-cmd <name=command>', 'also scale your own server: a shell command with {port} and {workers} (repeatable)', collect, [])
    .option('--ready <regex>', 'a --server-cmd server is ready when it prints a line matching this')
    .option('--workers <list>', 'worker counts to run, e.g. 1,2,4,8 (default: 1, 2, 4, ... up to the server CPUs)')
    .option('--server-cpus <list>', 'CPUs for the server workers, one each in order (default: the first half of the machine, at least 2)')
    .option('--client-cpus <list>', 'CPUs for the client processes (default: the CPUs not given to the workers of that point)')
    .option('--clients <n>', 'client processes at every point (default: as many as workers)')
    .option('--runs <n>', 'measured runs per point', '3')
    .option('--warmup <n>', 'unmeasured runs per point before them', '1')
    .option('--port <n>', 'server port (0 = an ephemeral port per run)', '0')
    .option('--json', 'print only the JSON results document on stdout')
    .option('--export <file>', 'also save the results as .json, .md, .csv or .html (with the scaling chart)')
    .option('--no-pin', 'do not pin server and clients to CPUs')
    .addOption(new Option('--target <[name=]host:port>', 'not for scale (rejected with a reason)').argParser(collect).default([]).hideHelp())
    .addOption(new Option('--timeout <seconds>', 'kill and fail a run after this long').default('120'))
    .addHelpText(
      'after',
      `
Examples:
  coro-bench scale
  coro-bench scale --server coro,epoll,node,go --conns 1000 --txns 1000 --export scale.html
  coro-bench scale --server coro,epoll --server-cpus 0-7 --client-cpus 8-15 --workers 1,2,4,8
  coro-bench scale --server-cmd 'mine=./my_echo --threads {workers} -p {port}'`,
    )
    .action(async (raw: RawScaleOptions) => {
      process.exitCode = await scaleAction(parseScaleOptions(raw), stdio());
    });
}
