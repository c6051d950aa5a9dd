// `coro-bench compare`: options into CompareOptions (the echo workload
// options, or --profile), validated before anything runs.
import { Command, Option } from 'commander';
import { compareAction } from '../actions/compare.js';
import { UsageError } from '../errors.js';
import { SERVER_KINDS, type ServerKind } from '../workload/servers.js';
import { collect, parseEchoOptions, type EchoOptions } from './echo.js';
import { stdio } from './io.js';
import { choices, int, intList } from './parse.js';
import { MAX_DEPTH_BYTES } from './switch.js';

export interface CompareOptions {
  /** The echo workload and configurations (backends default to all, servers to all). */
  echo: EchoOptions;
  /** Run the echo and switch workloads of this profile instead of --conns/--txns/--size/--depth. */
  profile?: string;
  /** Switch microbenchmark depths; [] with --no-switch. */
  depths: number[];
  iterations: number;
  json: boolean;
  export?: string;
}

export interface RawCompareOptions {
  conns?: string;
  txns?: string;
  size?: string;
  backend: string;
  server: string;
  runs: string;
  warmup: string;
  port: string;
  json?: boolean;
  export?: string;
  pin?: string | boolean;
  reference: string;
  timeout: string;
  profile?: string;
  depth: string;
  switch?: boolean;
  serverCmd?: string[];
  target?: string[];
  ready?: string;
  clients?: string;
  clientCpus?: string;
  iters: string;
}

export const DEFAULT_REFERENCE = 'epoll';

/** echo's servers plus the Go peer, which compare builds when a Go toolchain is installed. */
export const COMPARE_SERVER_KINDS: readonly ServerKind[] = [...SERVER_KINDS, 'go'];

export function parseCompareOptions(raw: RawCompareOptions): CompareOptions {
  if (raw.profile !== undefined && (raw.conns !== undefined || raw.txns !== undefined || raw.size !== undefined)) {
    throw new UsageError('give either --profile or --conns/--txns/--size, not both');
  }
  const servers = choices('--server', raw.server, COMPARE_SERVER_KINDS);
  const echo = parseEchoOptions({
    conns: raw.conns ?? '100',
    txns: raw.txns ?? '100',
    size: raw.size ?? '100',
    backend: raw.backend,
    server: 'coro',
    runs: raw.runs,
    warmup: raw.warmup,
    port: raw.port,
    json: raw.json,
    export: raw.export,
    pin: raw.pin,
    reference: raw.reference,
    timeout: raw.timeout,
    serverCmd: raw.serverCmd,
    target: raw.target,
    ready: raw.ready,
    clients: raw.clients,
    clientCpus: raw.clientCpus,
  });
  echo.servers = servers;
  return {
    echo,
    profile: raw.profile,
    depths: raw.switch === false ? [] : [...new Set(intList('--depth', raw.depth, 0, MAX_DEPTH_BYTES))],
    iterations: int('--iters', raw.iters, 1, 1_000_000_000),
    json: echo.json,
    export: echo.export,
  };
}

export function compareCommand(): Command {
  return new Command('compare')
    .description('where the project stands: the same echo workload on every coro backend, the epoll peer and the Node peer (and Go when installed), interleaved, as ratios against a reference; plus the switch against its bound')
    .option('--conns <n>', 'connections (default 100)')
    .option('--txns <n>', 'transactions per connection (default 100)')
    .option('--size <bytes>', 'bytes per transaction, CRLF included (default 100)')
    .option('--backend <name>', 'coro backends: a name, a comma list, or "all"', 'all')
    .option('--server <kind>', `servers: ${COMPARE_SERVER_KINDS.join(', ')} (go: when a Go toolchain is installed), a comma list, or "all"`, 'all')
    .option('--runs <n>', 'measured runs per configuration', '5')
    .option('--warmup <n>', 'unmeasured runs per configuration before them', '1')
    .option('--reference <config>', 'configuration the ratios are against', DEFAULT_REFERENCE)
    .option('--profile <name>', 'run the echo and switch workloads of this profile (a bench-profiles/ name)')
    .option('--depth <bytes>', 'live stack depths of the switch microbenchmark; comma list', '0,1024,4096,16384')
    .option('--no-switch', 'leave out the switch microbenchmark')
    .option('--iters <n>', 'switches timed per switch run', '1000000')
    .option('--port <n>', 'server port (0 = an ephemeral port per run)', '0')
    .option('--pin <server_cpu,client_cpu>', 'pin server and client to these CPUs (default 0,1 when there are 2+ CPUs)')
    .option('--no-pin', 'do not pin server and client to CPUs')
    .option('--json', 'print only the JSON results document on stdout')
    .option('--export <file>', 'also save the results as .json, .md, .csv or .html')
    .option('--server-cmd <name=command>', 'also compare your own line-echo server: a shell command with {port} (repeatable)', collect, [])
    .option('--target <[name=]host:port>', 'also compare an echo server that is already running (repeatable)', collect, [])
    .option('--ready <regex>', 'a --server-cmd server is ready when it prints a line matching this')
    .option('--clients <n>', 'echo_client processes sharing the connections', '1')
    .option('--client-cpus <list>', 'CPUs for the client processes (default: the CPUs not given to the server)')
    .addOption(new Option('--timeout <seconds>', 'kill and fail a run after this long').default('120'))
    .addHelpText(
      'after',
      `
Examples:
  coro-bench compare                                   # 100 x 100 x 100 on every server and backend, 5 runs each
  coro-bench compare --server coro,epoll --server-cmd mine='./my_echo -p {port}' --clients 2
  coro-bench compare --conns 50 --txns 200 --runs 10
  coro-bench compare --profile c1k --export results/compare.html
  coro-bench compare --server coro,epoll --backend epoll --no-switch --json > compare.json`,
    )
    .action(async (raw: RawCompareOptions) => {
      process.exitCode = await compareAction(parseCompareOptions(raw), stdio());
    });
}
