// Turns the samples of one configuration into its result: a Stat (median,
// min, max, spread, outliers) per metric.
import type { JobOutcome } from '../measure/runner.js';
import type { Rusage } from '../rusage/parse.js';
import { summarize, type Stat } from '../stats/summary.js';
import { shortRunWarning, statWarnings } from '../stats/warnings.js';
import type {
  LatencyStats,
  OpenLoopStats,
  EchoResult,
  EchoSample,
  IdleResult,
  IdleSample,
  RusageStats,
  SmtpResult,
  SmtpSample,
  SwitchResult,
  SwitchSample,
  Workload,
} from './types.js';

/** The Stat of a count that a program may not report: only when every run reported it. */
function reportedStat(xs: (number | undefined)[]): Stat | undefined {
  const have = xs.filter((x): x is number => typeof x === 'number');
  return have.length > 0 && have.length === xs.length ? summarize(have) : undefined;
}

function rusageStats(rs: Rusage[], blocks: { read: (number | undefined)[]; write: (number | undefined)[] }): RusageStats {
  const s = (k: keyof Rusage): ReturnType<typeof summarize> => summarize(rs.map((r) => (r[k] as number | undefined) ?? 0));
  const read = reportedStat(blocks.read);
  const write = reportedStat(blocks.write);
  return {
    utime_us: s('utime_us'),
    stime_us: s('stime_us'),
    maxrss_kib: s('maxrss_kib'),
    minflt: s('minflt'),
    nvcsw: s('nvcsw'),
    nivcsw: s('nivcsw'),
    ...(read ? { read_block: read } : {}),
    ...(write ? { write_block: write } : {}),
  };
}

function latencyStats(xs: { p50: number; p90: number; p99: number; p999: number; max: number }[]): LatencyStats {
  return {
    p50: summarize(xs.map((x) => x.p50)),
    p90: summarize(xs.map((x) => x.p90)),
    p99: summarize(xs.map((x) => x.p99)),
    p999: summarize(xs.map((x) => x.p999)),
    max: summarize(xs.map((x) => x.max)),
  };
}

/** The open-loop figures over the runs, when the runs were open-loop (echo --rate). */
function openLoopStats(xs: EchoSample[]): OpenLoopStats | undefined {
  const os = xs.flatMap((x) => (x.open_loop ? [x.open_loop] : []));
  if (os.length === 0) return undefined;
  return {
    offered_per_s: os[0].offered_per_s,
    achieved_per_s: summarize(os.map((o) => o.achieved_per_s)),
    service_us: latencyStats(os.map((o) => o.service_us)),
    lag_p99_us: summarize(os.map((o) => o.lag_us.p99)),
    lag_max_us: summarize(os.map((o) => o.lag_us.max)),
    client_hiccup_p99_us: summarize(os.map((o) => o.client_hiccup_us.p99)),
    client_hiccup_max_us: summarize(os.map((o) => o.client_hiccup_us.max)),
    runs_kept_schedule: os.filter((o) => o.client_kept_schedule).length,
    kept_schedule_p99_us: os[0].kept_schedule_p99_us,
  };
}

export interface EchoIdentity {
  name: string;
  server: string;
  backend: string;
  tls: boolean;
  workload: Workload;
}

export function aggregateEcho(id: EchoIdentity, o: JobOutcome<EchoSample>): EchoResult {
  const xs = o.samples;
  const cpu = (r: Rusage): number => r.utime_us + r.stime_us;
  const perTxn = (f: (x: EchoSample) => number): number[] =>
    xs.map((x) => (x.transactions > 0 ? f(x) / x.transactions : Number.NaN));
  // A server whose figures could not be had (a --target without !bench) has
  // none: its Stats are empty (shown as "-"), never zeros.
  const withServer = xs.filter((x) => x.server_rusage !== null);
  const serverRs = withServer.map((x) => x.server_rusage as Rusage);
  const finite = (vs: number[]): number[] => vs.filter((v) => Number.isFinite(v));
  const figures = xs.find((x) => x.server_figures !== undefined)?.server_figures;
  return {
    type: 'echo',
    ...id,
    runs: xs.length,
    failed_runs: o.failures.filter((f) => !f.warmup).length,
    transactions: summarize(xs.map((x) => x.transactions)),
    txn_per_s: summarize(xs.map((x) => x.txn_per_s)),
    wall_us: summarize(xs.map((x) => x.wall_us)),
    server_cpu_us_per_txn: summarize(finite(perTxn((x) => (x.server_rusage ? cpu(x.server_rusage) : Number.NaN)))),
    client_cpu_us_per_txn: summarize(perTxn((x) => cpu(x.client_rusage))),
    mismatches: xs.reduce((a, x) => a + x.mismatches, 0) + o.failedMismatches,
    errors: xs.reduce((a, x) => a + x.errors, 0) + o.failedErrors,
    latency_us: {
      p50: summarize(xs.map((x) => x.latency_us.p50)),
      p90: summarize(xs.map((x) => x.latency_us.p90)),
      p99: summarize(xs.map((x) => x.latency_us.p99)),
      p999: summarize(xs.map((x) => x.latency_us.p999)),
      max: summarize(xs.map((x) => x.latency_us.max)),
    },
    server_rusage: rusageStats(serverRs, { read: serverRs.map((r) => r.read_block), write: serverRs.map((r) => r.write_block) }),
    client_rusage: rusageStats(
      xs.map((x) => x.client_rusage),
      { read: xs.map((x) => x.client_read_block), write: xs.map((x) => x.client_write_block) },
    ),
    server_peak_rss_kib: summarize(finite(xs.map((x) => x.server_peak_rss_kib))),
    server_peak_cpu_percent: summarize(finite(xs.map((x) => x.server_peak_cpu_percent))),
    ...(figures !== undefined ? { server_figures: figures } : {}),
    ...(openLoopStats(xs) ? { open_loop: openLoopStats(xs) } : {}),
    samples: xs,
  };
}

export function echoWarnings(r: EchoResult): string[] {
  const out = [...statWarnings(r.name, 'txn/s', r.txn_per_s), ...statWarnings(r.name, 'server CPU/txn', r.server_cpu_us_per_txn), ...shortRunWarning(r.name, r.wall_us, r.workload.txns)];
  if (r.mismatches > 0) out.push(`${r.name}: ${r.mismatches} echoed transaction(s) came back different`);
  if (r.errors > 0) out.push(`${r.name}: ${r.errors} connection(s) failed`);
  const ol = r.open_loop;
  if (ol && ol.runs_kept_schedule < r.runs) {
    out.push(
      `${r.name}: the client could not keep its schedule in ${r.runs - ol.runs_kept_schedule} of ${r.runs} run(s) (its hiccups p99 above ${ol.kept_schedule_p99_us} us): those latencies are the client's, not the server's`,
    );
  }
  if (ol && r.runs > 0 && ol.achieved_per_s.median < 0.95 * ol.offered_per_s) {
    out.push(`${r.name}: achieved ${Math.round(ol.achieved_per_s.median)} of the ${Math.round(ol.offered_per_s)} lines/s offered (median): the server fell behind the schedule`);
  }
  if (r.server_figures?.startsWith('missing')) out.push(`${r.name}: server figures ${r.server_figures} (shown as "-")`);
  else if (r.server_figures) out.push(`${r.name}: server figures from ${r.server_figures}`);
  const expected = r.workload.conns * r.workload.txns;
  if (r.runs > 0 && r.transactions.min !== expected) {
    out.push(`${r.name}: a run completed ${r.transactions.min} transactions, expected ${expected}`);
  }
  return out;
}

export function aggregateSwitch(
  id: { name: string; coroutines: number; depth_bytes: number; iterations: number },
  o: JobOutcome<SwitchSample>,
): SwitchResult {
  const xs = o.samples;
  const s = (k: keyof SwitchSample): ReturnType<typeof summarize> => summarize(xs.map((x) => x[k]));
  return {
    type: 'switch',
    ...id,
    runs: xs.length,
    failed_runs: o.failures.filter((f) => !f.warmup).length,
    ns_per_switch: s('ns_per_switch'),
    bytes_copied_per_switch: s('bytes_copied_per_switch'),
    slice_bytes: s('slice_bytes'),
    regswitch_ns: s('regswitch_ns'),
    memcpy_ns: s('memcpy_ns'),
    bound_ns: s('bound_ns'),
    ratio_to_bound: s('ratio_to_bound'),
    samples: xs,
  };
}

export function aggregateIdle(id: Omit<IdleResult, 'type' | 'runs' | 'failed_runs' | 'rss_before_kib' | 'rss_after_kib' | 'bytes_per_idle_conn' | 'samples'>, o: JobOutcome<IdleSample>): IdleResult {
  const xs = o.samples;
  return {
    type: 'idle',
    ...id,
    runs: xs.length,
    failed_runs: o.failures.filter((f) => !f.warmup).length,
    rss_before_kib: summarize(xs.map((x) => x.rss_before_kib)),
    rss_after_kib: summarize(xs.map((x) => x.rss_after_kib)),
    bytes_per_idle_conn: summarize(xs.map((x) => x.bytes_per_idle_conn)),
    samples: xs,
  };
}

export function aggregateSmtp(id: EchoIdentity, o: JobOutcome<SmtpSample>): SmtpResult {
  const xs = o.samples;
  const rate = summarize(xs.map((x) => x.msg_per_s));
  return {
    type: 'smtp',
    ...id,
    runs: xs.length,
    failed_runs: o.failures.filter((f) => !f.warmup).length,
    msg_per_s: rate,
    txn_per_s: rate,
    errors: xs.reduce((a, x) => a + x.errors, 0) + o.failedErrors,
    samples: xs,
  };
}
