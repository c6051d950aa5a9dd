// The open-loop (`echo_client --rate`) part of a client's --json report, and
// its exact merge over several client processes (docs/latency.md):
//
// * latency_us / latency_hist_ns of the report are then the corrected
//   latencies (from each line's due time); this part adds the service time
//   (from the actual send), the schedule lag (send minus due) and the
//   client's hiccups (how late a 1 ms timer in the client woke: its own
//   stalls, jHiccup-style);
// * offered rates add up; the achieved rate is all transactions over the
//   union of the clients' schedule spans (CLOCK_MONOTONIC, one host);
// * the client kept its schedule when the merged own-lag p99 stays within
//   the threshold the clients state.
import { histPercentile, latencySummaryUs, mergeHists, parseHist, type LatencyHist } from '../stats/latency-hist.js';

export type Percentiles = { p50: number; p90: number; p99: number; p999: number; max: number };

export interface OpenLoopReport {
  offered_per_s: number;
  achieved_per_s: number;
  /** Schedule span: first line due .. the later of last reply and schedule end. */
  start_ns: number;
  end_ns: number;
  client_kept_schedule: boolean;
  kept_schedule_p99_us: number;
  service_us: Percentiles;
  lag_us: Percentiles;
  client_hiccup_us: Percentiles;
  service_hist: LatencyHist;
  lag_hist: LatencyHist;
  client_hiccup_hist: LatencyHist;
}

function num(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what}: "${k}" missing or not a number`);
  return v;
}

function percentiles(v: unknown, what: string): Percentiles {
  const o = (v ?? {}) as Record<string, unknown>;
  return { p50: num(o, 'p50', what), p90: num(o, 'p90', what), p99: num(o, 'p99', what), p999: num(o, 'p999', what), max: num(o, 'max', what) };
}

/** The open-loop fields of an echo_client --json object, or undefined for a closed-loop run. */
export function parseOpenLoop(obj: Record<string, unknown>): OpenLoopReport | undefined {
  if (obj.rate === undefined) return undefined;
  const what = 'echo_client --json "rate"';
  const r = (obj.rate ?? {}) as Record<string, unknown>;
  if (typeof r.client_kept_schedule !== 'boolean') throw new Error(`${what}: "client_kept_schedule" missing`);
  return {
    offered_per_s: num(r, 'offered_per_s', what),
    achieved_per_s: num(r, 'achieved_per_s', what),
    start_ns: num(r, 'start_ns', what),
    end_ns: num(r, 'end_ns', what),
    client_kept_schedule: r.client_kept_schedule,
    kept_schedule_p99_us: num(r, 'kept_schedule_p99_us', what),
    service_us: percentiles(obj.service_us, 'echo_client --json "service_us"'),
    lag_us: percentiles(obj.lag_us, 'echo_client --json "lag_us"'),
    client_hiccup_us: percentiles(obj.client_hiccup_us, 'echo_client --json "client_hiccup_us"'),
    service_hist: parseHist(obj.service_hist_ns, 'echo_client --json "service_hist_ns"'),
    lag_hist: parseHist(obj.lag_hist_ns, 'echo_client --json "lag_hist_ns"'),
    client_hiccup_hist: parseHist(obj.client_hiccup_hist_ns, 'echo_client --json "client_hiccup_hist_ns"'),
  };
}

/** What an open-loop run keeps per sample (results JSON: histograms included, so curves can be redrawn and merged). */
export interface OpenLoopSample {
  offered_per_s: number;
  achieved_per_s: number;
  client_kept_schedule: boolean;
  kept_schedule_p99_us: number;
  service_us: Percentiles;
  lag_us: Percentiles;
  client_hiccup_us: Percentiles;
  latency_hist_ns: LatencyHist;
  service_hist_ns: LatencyHist;
  lag_hist_ns: LatencyHist;
  client_hiccup_hist_ns: LatencyHist;
}

/**
 * Merges the open-loop parts of clients that ran together (all of them
 * open-loop), with their merged corrected-latency histogram.
 */
export function mergeOpenLoop(parts: OpenLoopReport[], transactions: number, latencyHist: LatencyHist, offsetsNs: number[] = []): OpenLoopSample {
  if (parts.length === 0) throw new Error('no open-loop report to merge');
  const at = (i: number): number => offsetsNs[i] ?? 0;
  const span = Math.max(...parts.map((p, i) => p.end_ns + at(i))) - Math.min(...parts.map((p, i) => p.start_ns + at(i)));
  const one = parts.length === 1 ? parts[0] : undefined;
  const service = mergeHists(parts.map((p) => p.service_hist));
  const lag = mergeHists(parts.map((p) => p.lag_hist));
  const clientHiccup = mergeHists(parts.map((p) => p.client_hiccup_hist));
  const threshold = Math.min(...parts.map((p) => p.kept_schedule_p99_us));
  return {
    offered_per_s: parts.reduce((a, p) => a + p.offered_per_s, 0),
    // One client: its own figures, exactly as it printed them.
    achieved_per_s: one ? one.achieved_per_s : span > 0 ? Math.round((transactions / (span / 1e9)) * 10) / 10 : 0,
    client_kept_schedule: one ? one.client_kept_schedule : histPercentile(clientHiccup, 99) / 1000 <= threshold,
    kept_schedule_p99_us: threshold,
    service_us: one ? one.service_us : latencySummaryUs(service),
    lag_us: one ? one.lag_us : latencySummaryUs(lag),
    client_hiccup_us: one ? one.client_hiccup_us : latencySummaryUs(clientHiccup),
    latency_hist_ns: latencyHist,
    service_hist_ns: service,
    lag_hist_ns: lag,
    client_hiccup_hist_ns: clientHiccup,
  };
}
