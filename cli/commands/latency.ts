// `coro-bench latency`: options and their validation into LatencyOptions.
import { Command } from 'commander';
import { latencyAction } from '../actions/latency.js';
import { DEFAULT_FRACTIONS } from '../engine/latency.js';
import { UsageError } from '../errors.js';
import { parseEchoOptions, type EchoOptions } from './echo.js';
import { stdio } from './io.js';
import { int, repeatable } from './parse.js';
import { checkRatePerConn, rateValue } from './rate.js';

export interface LatencyOptions {
  /** Servers, backends, connections, size, pinning, clients, port, timeout, json, export. */
  echo: EchoOptions;
  /** Offered loads as fractions of the closed-loop maximum, or undefined with rates. */
  fractions?: number[];
  rates?: number[];
  durationS: number;
  maxRuns: number;
  maxTxns: number;
  /** Points drawn in the percentile spectrum: fractions (with fractions) or rates (with rates). */
  spectrum: number[];
}

export interface RawLatencyOptions {
  server?: string;
  serverCmd?: string[];
  target?: string[];
  ready?: string;
  backend?: string;
  conns: string;
  size: string;
  fractions?: string;
  rates?: string;
  duration: string;
  maxRuns?: string;
  maxTxns?: string;
  spectrum?: string;
  port: string;
  json?: boolean;
  export?: string;
  pin?: string | boolean;
  timeout: string;
  clients?: string;
  clientCpus?: string;
}

const DEFAULT_SPECTRUM = [0.5, 0.9, 1.0];
const MAX_DURATION_S = 3600;

/** A comma list of positive numbers (each checked by `one`). */
function numberList(name: string, raw: string, one: (s: string) => number): number[] {
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`${name} needs at least one value`);
  const xs = parts.map(one);
  if (new Set(xs).size !== xs.length) throw new UsageError(`${name} lists a value twice: "${raw}"`);
  return xs;
}

function percentValue(name: string, s: string): number {
  const v = /^(\d+\.?\d*|\.\d+)$/.test(s) ? Number(s) : Number.NaN;
  if (!(v > 0 && v <= 1000)) throw new UsageError(`${name} takes percentages of the closed-loop maximum in (0, 1000], got "${s}"`);
  return v / 100;
}

function seconds(name: string, raw: string): number {
  const v = /^(\d+\.?\d*|\.\d+)$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!(v > 0 && v <= MAX_DURATION_S)) throw new UsageError(`${name} must be a number of seconds in (0, ${MAX_DURATION_S}], got "${raw}"`);
  return v;
}

export function parseLatencyOptions(raw: RawLatencyOptions): LatencyOptions {
  if (raw.fractions !== undefined && raw.rates !== undefined) {
    throw new UsageError('give either --fractions (of the measured closed-loop maximum) or --rates (absolute), not both');
  }
  if (raw.rates !== undefined && (raw.maxRuns !== undefined || raw.maxTxns !== undefined)) {
    throw new UsageError('--max-runs and --max-txns size the closed-loop maximum, which --rates skips: drop them or use --fractions');
  }
  const echo = parseEchoOptions({
    conns: raw.conns,
    txns: '1',
    size: raw.size,
    backend: raw.backend,
    server: raw.server,
    serverCmd: raw.serverCmd,
    target: raw.target,
    ready: raw.ready,
    runs: '1',
    warmup: '0',
    port: raw.port,
    json: raw.json,
    export: raw.export,
    pin: raw.pin,
    timeout: raw.timeout,
    clients: raw.clients,
    clientCpus: raw.clientCpus,
  });
  const durationS = seconds('--duration', raw.duration);
  if (durationS > echo.timeoutS) throw new UsageError(`--duration ${durationS} s per point is longer than --timeout ${echo.timeoutS} s per run`);
  const rates = raw.rates === undefined ? undefined : numberList('--rates', raw.rates, (s) => rateValue('--rates', s));
  for (const r of rates ?? []) checkRatePerConn('--rates', r, echo.conns);
  const fractions = rates ? undefined : raw.fractions === undefined ? DEFAULT_FRACTIONS : numberList('--fractions', raw.fractions, (s) => percentValue('--fractions', s));
  let spectrum: number[];
  if (raw.spectrum === undefined) {
    spectrum = rates ? [rates[Math.floor(rates.length / 2)]] : DEFAULT_SPECTRUM.filter((f) => (fractions ?? []).includes(f));
    if (spectrum.length === 0 && fractions) spectrum = [fractions[Math.floor(fractions.length / 2)]];
  } else {
    spectrum = rates
      ? numberList('--spectrum', raw.spectrum, (s) => rateValue('--spectrum', s))
      : numberList('--spectrum', raw.spectrum, (s) => percentValue('--spectrum', s));
    const measured = (rates ?? fractions) as number[];
    const missing = spectrum.filter((x) => !measured.some((m) => Math.abs(m - x) < 1e-9));
    if (missing.length > 0) {
      const show = (x: number): string => (rates ? String(x) : `${+(x * 100).toFixed(6)}`);
      throw new UsageError(`--spectrum ${missing.map(show).join(',')} is not among the measured ${rates ? '--rates' : '--fractions'} (${measured.map(show).join(',')})`);
    }
  }
  return {
    echo,
    fractions,
    rates,
    durationS,
    maxRuns: int('--max-runs', raw.maxRuns ?? '3', 1, 100),
    maxTxns: int('--max-txns', raw.maxTxns ?? '200', 1, 1_000_000),
    spectrum,
  };
}

export function latencyCommand(): Command {
  return new Command('latency')
    .description('latency against offered load: the closed-loop maximum first, then open-loop runs (echo_client --rate) at fractions of it, several servers interleaved')
    .option('--server <kind>', 'server(s): coro, epoll, node, a comma list, or "all" (default: coro, or none with --server-cmd/--target)')
    .option('--server-cmd <name=command>', 'also your own line-echo server: a shell command with {port} (repeatable)', repeatable, [])
    .option('--target <[name=]host:port>', 'also an echo server that is already running (repeatable)', repeatable, [])
    .option('--ready <regex>', 'a --server-cmd server is ready when it prints a line matching this')
    .option('--backend <name>', 'event backend(s) of the coro server (default: the fastest of this build)')
    .option('--conns <n>', 'connections', '100')
    .option('--size <bytes>', 'bytes per transaction, CRLF included (>= 3)', '100')
    .option('--fractions <list>', `offered loads in % of each server's closed-loop maximum (default ${DEFAULT_FRACTIONS.map((f) => f * 100).join(',')})`)
    .option('--rates <list>', 'absolute offered loads in transactions a second instead (no closed-loop phase)')
    .option('--duration <seconds>', 'schedule length of each point', '2')
    .option('--max-runs <n>', 'closed-loop runs per server for its maximum (median)')
    .option('--max-txns <n>', 'transactions per connection in each closed-loop run (default 200)')
    .option('--spectrum <list>', 'points drawn in the percentile spectrum of --export x.html (default 50,90,100)')
    .option('--port <n>', 'server port (0 = an ephemeral port per run)', '0')
    .option('--json', 'print only the JSON results document (histograms included) on stdout')
    .option('--export <file>', 'also save the results as .json, .html (curves and spectrum), .md or .csv')
    .option('--pin <server_cpu,client_cpu>', 'pin server and client to these CPUs (default 0,1 when there are 2+ CPUs)')
    .option('--no-pin', 'do not pin server and client to CPUs')
    .option('--timeout <seconds>', 'kill and fail a run after this long', '120')
    .option('--clients <n>', 'echo_client processes sharing the connections and the rate', '1')
    .option('--client-cpus <list>', 'CPUs for the client processes (default: the CPUs not given to the server)')
    .addHelpText(
      'after',
      `
The knee of a curve is the highest offered load at which p99 stays under 2x
its value at the lightest load. Latency is measured from each line's due time
(coordinated omission corrected); docs/latency.md.

Examples:
  coro-bench latency --server coro,epoll,node --conns 100 --export curve.html
  coro-bench latency --fractions 10,50,90 --duration 1
  coro-bench latency --rates 1000,5000,20000 --spectrum 20000 --json > curve.json`,
    )
    .action(async (raw: RawLatencyOptions) => {
      process.exitCode = await latencyAction(parseLatencyOptions(raw), stdio());
    });
}
