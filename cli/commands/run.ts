// `coro-bench run PROFILE` / `run --list`: options into RunOptions.
import { Command } from 'commander';
import { runAction } from '../actions/run.js';
import { customConfigs, readyPattern } from '../engine/configs.js';
import { UsageError } from '../errors.js';
import { buildDirs, exportFile, int, LIMITS, optionalInt, pin, repeatable } from './parse.js';
import { stdio } from './io.js';

export interface RunOptions {
  profile?: string;
  list: boolean;
  overrides: {
    conns?: number;
    txns?: number;
    size?: number;
    runs?: number;
    warmup?: number;
    idleSeconds?: number;
  };
  /** --build folders (absolute) whose coro server runs the echo and idle workloads; [] = the default build. */
  builds: string[];
  /** --server-cmd / --target / --ready: custom servers added to every echo workload. */
  serverCmds: string[];
  targets: string[];
  ready?: string;
  port: number;
  json: boolean;
  export?: string;
  pin?: [number, number];
  noPin: boolean;
}

export interface RawRunOptions {
  list?: boolean;
  conns?: string;
  txns?: string;
  size?: string;
  runs?: string;
  warmup?: string;
  idle?: string;
  build?: string[];
  serverCmd?: string[];
  target?: string[];
  ready?: string;
  port: string;
  json?: boolean;
  export?: string;
  pin?: string | boolean;
}

export function parseRunOptions(profile: string | undefined, raw: RawRunOptions): RunOptions {
  const list = raw.list === true;
  if (!list && !profile) throw new UsageError('run needs a PROFILE name (see `coro-bench run --list`)');
  if (list && profile) throw new UsageError('give either --list or a PROFILE, not both');
  // Parsed here for their one-line errors; the action builds the configurations again.
  customConfigs(raw.serverCmd ?? [], raw.target ?? [], readyPattern(raw.ready));
  return {
    profile,
    list,
    overrides: {
      conns: optionalInt('--conns', raw.conns, LIMITS.conns.min, LIMITS.conns.max),
      txns: optionalInt('--txns', raw.txns, LIMITS.txns.min, LIMITS.txns.max),
      size: optionalInt('--size', raw.size, LIMITS.size.min, LIMITS.size.max),
      runs: optionalInt('--runs', raw.runs, LIMITS.runs.min, LIMITS.runs.max),
      warmup: optionalInt('--warmup', raw.warmup, LIMITS.warmup.min, LIMITS.warmup.max),
      idleSeconds: optionalInt('--idle', raw.idle, 1, 3600),
    },
    builds: buildDirs(raw.build),
    serverCmds: raw.serverCmd ?? [],
    targets: raw.target ?? [],
    ready: raw.ready,
    port: int('--port', raw.port, LIMITS.port.min, LIMITS.port.max),
    json: raw.json === true,
    export: exportFile(raw.export),
    pin: typeof raw.pin === 'string' ? pin(raw.pin) : undefined,
    noPin: raw.pin === false,
  };
}

export function runCommand(): Command {
  return new Command('run')
    .description('run a named profile from bench-profiles/ (a list of workloads as JSON)')
    .argument('[profile]', 'profile name (see --list)')
    .option('--list', 'list the profiles with their descriptions')
    .option('--conns <n>', 'override the connections of every workload')
    .option('--txns <n>', 'override transactions (messages for smtp) per connection')
    .option('--size <bytes>', 'override bytes per transaction')
    .option('--runs <n>', 'override measured runs')
    .option('--warmup <n>', 'override warmup runs')
    .option('--idle <seconds>', 'override how long idle connections stay idle')
    .option('--build <dir>', 'coro server of this native build folder for the echo and idle workloads (repeatable: one configuration each, coro/<backend>@<folder>)', repeatable)
    .option('--server-cmd <name=command>', 'also run your own line-echo server in every echo workload: a shell command with {port} (repeatable)', repeatable, [])
    .option('--target <[name=]host:port>', 'also load an echo server that is already running in every echo workload (repeatable)', repeatable, [])
    .option('--ready <regex>', 'a --server-cmd server is ready when it prints a line matching this (default: when it accepts a connection)')
    .option('--port <n>', 'server port (0 = ephemeral)', '0')
    .option('--json', 'print only the JSON results document on stdout')
    .option('--export <file>', 'also save the results as .json, .md, .csv or .html')
    .option('--pin <server_cpu,client_cpu>', 'pin server and client to these CPUs')
    .option('--no-pin', 'do not pin server and client to CPUs')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench run --list
  coro-bench run readme
  coro-bench run c1k --runs 5 --export results/c1k.html
  coro-bench run idle10k --json > idle.json
  coro-bench run tls-libs --build native/build --build native/build-s2n   # OpenSSL against s2n-tls
  coro-bench run readme --conns 4 --txns 10 --runs 1 --warmup 0   # a quick smoke run
  coro-bench run c1k --server-cmd mine='./my_echo -p {port}'        # your server beside ours`,
    )
    .action(async (profile: string | undefined, raw: RawRunOptions) => {
      process.exitCode = await runAction(parseRunOptions(profile, raw), stdio());
    });
}
