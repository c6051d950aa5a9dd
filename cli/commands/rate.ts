// `--rate` (open loop, echo_client --rate): parsing and the checks against
// the rest of a command line, shared by `echo` and `latency`.
import { UsageError } from '../errors.js';

/**
 * The most lines a second one connection may be scheduled for: one every
 * 10 us. echo_client refuses more (its MIN_INTERVAL_NS): each line due costs
 * the client a timer wake-up of a few us, which must stay a small part of
 * the interval or the schedule measures the client (docs/latency.md).
 */
export const MAX_RATE_PER_CONN = 100_000;

/** A positive number of lines a second: "2000", "2.5e3" and "0.5" are fine; 0, negatives and words are not. */
export function rateValue(name: string, raw: unknown): number {
  const s = String(raw).trim();
  const v = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s) ? Number(s) : Number.NaN;
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${name} must be a number of transactions a second > 0, got "${String(raw)}"`);
  return v;
}

/** The rate spread over `conns` connections must stay schedulable. */
export function checkRatePerConn(name: string, rate: number, conns: number): void {
  const perConn = rate / conns;
  if (perConn > MAX_RATE_PER_CONN) {
    throw new UsageError(
      `${name} ${rate} over ${conns} connection(s) is ${Math.round(perConn)} a second per connection; the limit is ${MAX_RATE_PER_CONN.toLocaleString('en-US')} (one line every 10 us, what the client's timer can keep): use more --conns`,
    );
  }
}
