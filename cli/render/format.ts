// Number formatting shared by tables and exporters.
import type { Stat } from '../stats/summary.js';

/** Rounds to a readable precision: integers above 100, 3 significant digits below. */
export function num(v: number): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a === 0) return '0';
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return v.toPrecision(3);
}

/** "median ±spread%" (spread = (max-min)/median), or just the median for one run. */
export function stat(s: Stat | undefined, scale = 1): string {
  if (!s || s.n === 0) return '-';
  const m = num(s.median * scale);
  if (s.n < 2 || s.spread === 0) return m;
  // A zero median with other values has no relative spread: show the range.
  if (!Number.isFinite(s.spread)) return `${m} (${num(s.min * scale)}..${num(s.max * scale)})`;
  return `${m} ±${Math.round(s.spread * 100)}%`;
}

export function pct(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return `${(v * 100).toFixed(0)}%`;
}

export function ratio(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return `${v.toFixed(2)}x`;
}
