// Thresholds of the exact counts. An instruction count repeats to the last
// digits, so the global 10 % threshold would let a 9.9 % regression through.
// Instead each exact metric's threshold comes from how far it was seen to
// move when nothing changed (its spread, recorded in the baseline: repeated
// runs in fresh processes, other environment sizes, another working folder,
// ASLR on and off, other builds of the same sources; see spread.ts):
//
//   instructions  max(3 x spread, 1 %)  (the floor: a compiler or libc
//                 update moves counts by a fraction of a percent, and a
//                 spread from 6 measurements is a low estimate: syscalls per
//                 transaction measured 0.06 % in one recording and deviated
//                 by 0.37 % in another)
//   events        the same, for counts that follow how the kernel hands out
//                 events (syscalls per transaction: how many readiness
//                 events one epoll_wait returns, an occasional EAGAIN). An
//                 integer, but not a fixed one: with one connection it was
//                 exactly 3 in every one of 3 spread measurements and then
//                 3 + 1 in 300 in a later check of the same build
//   integer       any change while the spread is zero (counts fixed by the
//                 workload: bytes copied per switch); once the spread shows
//                 that the count moves, the instruction rule
//
// Metrics without an exactness (RSS per idle connection: page-granular and
// load-dependent) keep the check's --threshold and their absolute tolerance.
import type { BaselineMetric } from './baseline.js';

export type Exactness = 'instructions' | 'events' | 'integer';

/** How far a noise-free metric moved across measurements of the same sources. */
export interface Spread {
  /** max |value - median| / median over the values, in percent (0 when they all agree). */
  max_pct: number;
  /** One value per measurement, in the order of `conditions`. */
  values: number[];
  /** What was different in each measurement, e.g. "fresh process, env +6000 B, cwd /tmp/x, ASLR off". */
  conditions: string[];
}

/** The floor of the threshold of a count that moves (instructions; integers with a spread), in percent. */
export const INSTRUCTIONS_FLOOR_PCT = 1;
/** Threshold = this x the observed spread. */
export const SPREAD_FACTOR = 3;

export function spreadOf(values: number[], conditions: string[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const med = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const dev = Math.max(...values.map((v) => Math.abs(v - med)));
  const max_pct = dev === 0 ? 0 : med === 0 ? Number.POSITIVE_INFINITY : (dev / Math.abs(med)) * 100;
  return { max_pct, values, conditions };
}

export interface ExactThreshold {
  pct: number;
  /** How the threshold was derived, for the table. */
  why: string;
}

function fmt(p: number): string {
  return p === 0 ? '0' : p < 0.01 ? p.toExponential(1) : p.toPrecision(2);
}

/** The threshold of an exact metric from its baseline entry; undefined for the others. */
export function exactThreshold(exact: Exactness | undefined, base: Pick<BaselineMetric, 'spread'>): ExactThreshold | undefined {
  if (!exact) return undefined;
  const spread = base.spread;
  const s = spread?.max_pct ?? 0;
  const seen = spread ? `spread ${fmt(s)} % in ${spread.values.length} runs` : 'no spread recorded';
  if (exact === 'instructions' || exact === 'events') {
    const pct = Math.max(SPREAD_FACTOR * s, INSTRUCTIONS_FLOOR_PCT);
    return { pct, why: `max(${SPREAD_FACTOR} x spread, ${INSTRUCTIONS_FLOOR_PCT} %), ${seen}` };
  }
  if (s === 0) return { pct: 0, why: `any change, ${seen}` };
  return { pct: Math.max(SPREAD_FACTOR * s, INSTRUCTIONS_FLOOR_PCT), why: `it moves: max(${SPREAD_FACTOR} x spread, ${INSTRUCTIONS_FLOOR_PCT} %), ${seen}` };
}
