// The results document: what `--json` prints and `--export x.json` saves, and
// what `report` reads back. A stable contract (docs/json.md): keep
// names, add fields rather than rename.
import type { Rusage } from '../rusage/parse.js';
import type { Stat } from '../stats/summary.js';
import type { LatencyHist } from '../stats/latency-hist.js';
import type { OpenLoopSample, Percentiles } from '../workload/open-loop.js';

export const SCHEMA = 'coro-bench/results@1';

export interface Environment {
  /** When the measurement started (ISO 8601, UTC). */
  date: string;
  host: string;
  os: string;
  kernel: string;
  arch: string;
  cpu_model: string;
  cpus: number;
  node: string;
  coro_version: string | null;
  coro_arch: string | null;
  build_flags: string | null;
  tls_library: string | null;
  pinning: string;
  open_files_limit: number | null;
  /** The coro-bench commit measured (git HEAD, "+dirty" when the tree had changes); null outside a git checkout. Absent in older results. */
  commit?: string | null;
  /** That commit's committer date (ISO 8601); orders a trend. */
  commit_date?: string | null;
}

export interface Workload {
  conns: number;
  txns: number;
  size: number;
}

export interface Failure {
  /** Configuration name, e.g. "coro/epoll". */
  config: string;
  /** 1-based measured run index, or 0 for a warmup run. */
  run: number;
  warmup: boolean;
  error: string;
  /** Last lines the failing program wrote to stderr. */
  stderr_tail: string[];
}

export interface RusageStats {
  utime_us: Stat;
  stime_us: Stat;
  maxrss_kib: Stat;
  minflt: Stat;
  nvcsw: Stat;
  nivcsw: Stat;
  /** Reads and writes that had to wait. Absent when the program does not
   * count them (the Node and Go peers): never shown as 0. */
  read_block?: Stat;
  write_block?: Stat;
}

export interface LatencyStats {
  p50: Stat;
  p90: Stat;
  p99: Stat;
  p999: Stat;
  max: Stat;
}

/** One measured echo run, as collected (kept in results for re-analysis). */
export interface EchoSample {
  transactions: number;
  mismatches: number;
  errors: number;
  wall_us: number;
  txn_per_s: number;
  bytes_moved: number;
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number };
  /** null when the server's figures could not be had (see server_figures). */
  server_rusage: Rusage | null;
  client_rusage: Rusage;
  /** Absent when the client does not report them (see RusageStats). */
  client_read_block?: number;
  client_write_block?: number;
  server_peak_rss_kib: number;
  server_peak_cpu_percent: number;
  /** echo_client processes that shared the load (absent: one). */
  clients?: number;
  /** With --rate: latency_us is then from each line's due time; these are the open loop's own figures. */
  open_loop?: OpenLoopSample;
  /** Where the server figures come from when not the server's own `!bench json`, or "missing: why". */
  server_figures?: string;
  /** Clients on other hosts (--client-hosts): how their runs overlapped, and each host's own figures. */
  client_hosts?: ClientHostsFigures;
}

/** One client host's share of a run (its client processes merged). */
export interface HostFigures {
  host: string;
  clients: number;
  conns: number;
  transactions: number;
  mismatches: number;
  errors: number;
  wall_us: number;
  txn_per_s: number;
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number };
  /** The host's client processes' CPU (user + system). */
  client_cpu_us: number;
  /** Its first start after the earliest start of any host (our clock). */
  start_after_first_us: number;
  /** Its clock minus ours (CLOCK_MONOTONIC), from the "go" exchange, and that estimate's bound. */
  clock_offset_us: number;
  clock_uncertainty_us: number;
}

export interface ClientHostsFigures {
  /** Time all client processes were running over the time any was, in percent. */
  overlap_percent: number;
  start_spread_us: number;
  end_spread_us: number;
  /** The largest clock-offset uncertainty of any process: the figures above are good to about this. */
  clock_uncertainty_us: number;
  hosts: HostFigures[];
}

export interface EchoResult {
  type: 'echo';
  /** Configuration name, e.g. "coro/epoll", "node", "coro/epoll+tls". */
  name: string;
  server: string;
  backend: string;
  tls: boolean;
  workload: Workload;
  runs: number;
  failed_runs: number;
  transactions: Stat;
  txn_per_s: Stat;
  wall_us: Stat;
  server_cpu_us_per_txn: Stat;
  client_cpu_us_per_txn: Stat;
  /** Echoed transactions whose bytes differed, summed over all runs (failed ones too). */
  mismatches: number;
  /** Failed connections, summed over all runs. */
  errors: number;
  latency_us: LatencyStats;
  server_rusage: RusageStats;
  client_rusage: RusageStats;
  /** Peaks of the server's process tree, sampled from /proc every ~50 ms. */
  server_peak_rss_kib: Stat;
  server_peak_cpu_percent: Stat;
  /** With --rate: the open loop's figures over the runs. */
  open_loop?: OpenLoopStats;
  /** Where the server figures come from when not the server's own `!bench json`, or "missing: why". */
  server_figures?: string;
  samples: EchoSample[];
}

/** `echo --rate`: the open loop's figures, one Stat over the runs each. */
export interface OpenLoopStats {
  offered_per_s: number;
  achieved_per_s: Stat;
  service_us: LatencyStats;
  lag_p99_us: Stat;
  lag_max_us: Stat;
  client_hiccup_p99_us: Stat;
  client_hiccup_max_us: Stat;
  /** Runs in which the client's hiccups p99 stayed within kept_schedule_p99_us. */
  runs_kept_schedule: number;
  kept_schedule_p99_us: number;
}

export interface SwitchSample {
  ns_per_switch: number;
  bytes_copied_per_switch: number;
  slice_bytes: number;
  regswitch_ns: number;
  memcpy_bytes: number;
  memcpy_ns: number;
  bound_ns: number;
  ratio_to_bound: number;
}

export interface SwitchResult {
  type: 'switch';
  name: string;
  coroutines: number;
  depth_bytes: number;
  iterations: number;
  runs: number;
  failed_runs: number;
  ns_per_switch: Stat;
  bytes_copied_per_switch: Stat;
  slice_bytes: Stat;
  regswitch_ns: Stat;
  memcpy_ns: Stat;
  /** Register switch plus memcpy of the bytes copied per switch, measured in the same run. */
  bound_ns: Stat;
  /** ns_per_switch / bound_ns, per run. */
  ratio_to_bound: Stat;
  samples: SwitchSample[];
}

export interface IdleSample {
  rss_before_kib: number;
  rss_after_kib: number;
  bytes_per_idle_conn: number;
  connected: number;
  server_rusage: Rusage | null;
}

export interface IdleResult {
  type: 'idle';
  name: string;
  server: string;
  backend: string;
  tls: boolean;
  workload: Workload;
  idle_s: number;
  runs: number;
  failed_runs: number;
  rss_before_kib: Stat;
  rss_after_kib: Stat;
  /** (RSS with every connection open and idle - RSS before connecting) / conns. */
  bytes_per_idle_conn: Stat;
  samples: IdleSample[];
}

export interface SmtpSample {
  messages: number;
  errors: number;
  wall_us: number;
  msg_per_s: number;
  server_rusage: Rusage | null;
}

export interface SmtpResult {
  type: 'smtp';
  name: string;
  server: string;
  backend: string;
  tls: boolean;
  /** txns = messages per connection, size = message bytes. */
  workload: Workload;
  runs: number;
  failed_runs: number;
  msg_per_s: Stat;
  /** Same as msg_per_s, so every workload result has txn_per_s. */
  txn_per_s: Stat;
  errors: number;
  samples: SmtpSample[];
}

/** One server-side reading of the soak, taken every second. */
export interface SoakPoint {
  t_s: number;
  rss_kib: number;
  fds: number;
  /** Connections the soak's own process held open then (echo_client's not included). */
  client_open: number;
}

export interface SoakCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/** What a soak run counts (cli/workload/soak.ts), reported as counted. */
export interface SoakCounts {
  connections_opened: number;
  /** Verified echoes: Node-side lines plus echo_client transactions. */
  transactions: number;
  mismatches: number;
  /** Unexpected failures (a connection that should have lived was refused or reset, an echo missing, echo_client failing). */
  errors: number;
  error_examples: string[];
  normal_runs: number;
  normal_transactions: number;
  idle_pings: number;
  slow_lines: number;
  /** Server fds and RSS at rest before the load, and after it left. */
  fds_before: number;
  fds_after: number;
  rss_before_kib: number;
  rss_after_kib: number;
  server_cpu_s: number;
  server_exit: string;
}

/** `coro-bench soak` / a profile workload of kind "soak": one long mixed run. */
export interface SoakResult extends SoakCounts {
  type: 'soak';
  /** e.g. "coro/epoll soak". */
  name: string;
  server: string;
  backend: string;
  tls: boolean;
  /** conns = connections open at once (the target); txns and size are 0 (a mix, see `mix`). */
  workload: Workload;
  duration_s: number;
  warmup_s: number;
  /** 1, or 0 when the soak could not run (see failures). */
  runs: number;
  failed_runs: number;
  /** How the connections were split: idle (silent ones among them), slow, abusive, normal. */
  mix: Record<string, number>;
  /** Most connections open at the server at once (its fds minus those at rest). */
  peak_server_connections: number;
  /** Abusive actions done, by kind. */
  abuses: Record<string, number>;
  /** Server RSS and open fds over the 1 s samples after the warm-up. */
  rss_kib: Stat;
  fds: Stat;
  /** Median RSS over the first and the last window after the warm-up, their difference and the bound it must stay under. */
  rss_warm_kib: number;
  rss_end_kib: number;
  rss_growth_kib: number;
  rss_slack_kib: number;
  /** Least-squares slope of the RSS samples after the warm-up. */
  rss_slope_kib_per_min: number;
  checks: SoakCheck[];
  samples: SoakPoint[];
}

/** One offered rate of a latency curve (`coro-bench latency`): one open-loop run. */
export interface LatencyPoint {
  /** Offered rate as a fraction of the closed-loop maximum (1 = 100 %), or null for an absolute --rates point. */
  fraction: number | null;
  offered_per_s: number;
  /** Absent when the run failed (see error). */
  achieved_per_s?: number;
  transactions?: number;
  /** Latency from each line's due time (coordinated omission corrected). */
  latency_us?: Percentiles;
  service_us?: Percentiles;
  lag_us?: Percentiles;
  client_hiccup_us?: Percentiles;
  client_kept_schedule?: boolean;
  /** Histograms ([bucket high ns, count]) so that curves can be redrawn and merged later. */
  latency_hist_ns?: LatencyHist;
  service_hist_ns?: LatencyHist;
  client_hiccup_hist_ns?: LatencyHist;
  /** Why the run failed. */
  error?: string;
}

/** `coro-bench latency`: one server's latency against offered load. */
export interface LatencyCurveResult {
  type: 'latency';
  name: string;
  server: string;
  backend: string;
  tls: boolean;
  /** conns and size of every point; txns = transactions per connection of the closed-loop runs. */
  workload: Workload;
  /** Seconds of schedule per point. */
  duration_s: number;
  /** Closed-loop throughput (median of its runs) the fractions are of; null when --rates was given or it failed. */
  closed_loop_per_s: Stat | null;
  closed_loop_latency_us: LatencyStats | null;
  /** Points measured (failed ones not counted). */
  runs: number;
  failed_runs: number;
  points: LatencyPoint[];
  /** The highest offered rate at which p99 stays under 2x its value at the lowest offered rate (all points up to it too). */
  knee: { offered_per_s: number; fraction: number | null; p99_us: number; base_p99_us: number } | null;
  /** Why there is no knee, when knee is null. */
  knee_missing?: string;
  /** Did the client keep its schedule at every point up to the knee? */
  client_kept_schedule_to_knee: boolean | null;
}

export interface SkippedResult {
  type: 'skipped';
  name: string;
  reason: string;
}

/** One row of `coro-bench scale`: one server configuration at one number of workers. */
export interface ScaleRow {
  /** The configuration without its worker count, e.g. "coro/epoll". */
  config: string;
  /** The EchoResult this row summarizes (its name). */
  result: string;
  workers: number;
  clients: number;
  server_cpus: string;
  client_cpus: string;
  /** Medians of the runs; null when no run succeeded. */
  txn_per_s: number | null;
  server_cpu_us_per_txn: number | null;
  /** txn/s at N / (N x txn/s at 1 worker); null without both. */
  efficiency: number | null;
}

export type Result = EchoResult | SwitchResult | IdleResult | SmtpResult | SoakResult | LatencyCurveResult | SkippedResult;

export interface ResultsDoc {
  schema: typeof SCHEMA;
  /** The command that produced it: "echo", "switch", "run". */
  command: string;
  /** The profile name for `run`. */
  profile?: string;
  parameters: Record<string, unknown>;
  environment: Environment;
  results: Result[];
  failures: Failure[];
  warnings: string[];
  /** `coro-bench scale`: the scaling rows (the measurements are in results). */
  scale?: ScaleRow[];
  /** True when the run was interrupted and this holds what finished. */
  partial?: boolean;
  /** Set by `report` when it merges several files: where each part came from. */
  sources?: { file: string; command: string; profile?: string; environment: Environment }[];
}
