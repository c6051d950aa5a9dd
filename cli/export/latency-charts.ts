// The two charts of a `coro-bench latency` page, as inline SVG:
// * latency against offered load (p50 dashed, p99 solid, p99.9 dotted; one
//   colour per server; latency on a log axis; the knee ringed);
// * the percentile spectrum of chosen points, HdrHistogram-style: latency
//   against percentile, the percentile axis logarithmic in 1/(1-p) so that
//   90 %, 99 %, 99.9 % ... are equally spaced, drawn from the histograms.
import type { LatencyCurveResult, LatencyPoint, ResultsDoc } from '../results/types.js';
import type { LatencyHist } from '../stats/latency-hist.js';
import { num } from '../render/format.js';
import { loadLabel } from '../render/latency.js';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const DASHES = ['', '7 4', '2 3', '10 3 2 3'];
const W = 900;
const H = 430;
const M = { left: 80, right: 50, top: 20, bottom: 60 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "100 us", "2 ms", "1 s": a latency tick. */
function usLabel(us: number): string {
  if (us >= 1e6) return `${+(us / 1e6).toPrecision(3)} s`;
  if (us >= 1e3) return `${+(us / 1e3).toPrecision(3)} ms`;
  return `${+us.toPrecision(3)} us`;
}

/** A log axis over [lo, hi] (both > 0), widened to whole decades. */
function logAxis(lo: number, hi: number): { min: number; max: number; ticks: number[] } {
  const min = 10 ** Math.floor(Math.log10(Math.max(lo, 1e-3)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(hi, min * 10)));
  const ticks: number[] = [];
  for (let t = min; t <= max * 1.0001; t *= 10) ticks.push(t);
  return { min, max, ticks };
}

function yOf(v: number, a: { min: number; max: number }): number {
  const f = (Math.log10(Math.max(v, a.min)) - Math.log10(a.min)) / (Math.log10(a.max) - Math.log10(a.min));
  return M.top + PH * (1 - f);
}

function frame(xLabel: string, yLabel: string, xTicks: { x: number; label: string }[], y: { min: number; max: number; ticks: number[] }): string {
  const parts: string[] = [
    `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#888"/>`,
  ];
  for (const t of y.ticks) {
    const yy = yOf(t, y).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + PW}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${M.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${esc(usLabel(t))}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${t.x.toFixed(1)}" x2="${t.x.toFixed(1)}" y1="${M.top}" y2="${M.top + PH}" stroke="#eee"/>`);
    parts.push(`<text x="${t.x.toFixed(1)}" y="${M.top + PH + 16}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  parts.push(`<text x="${M.left + PW / 2}" y="${H - 14}" text-anchor="middle" class="axis">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" class="axis">${esc(yLabel)}</text>`);
  return parts.join('');
}

function legend(items: { colour: string; dash: string; label: string }[]): string {
  return (
    '<div class="legend">' +
    items
      .map(
        (i) =>
          `<span><svg width="34" height="10"><line x1="0" x2="34" y1="5" y2="5" stroke="${i.colour}" stroke-width="2.5" stroke-dasharray="${i.dash}"/></svg> ${esc(i.label)}</span>`,
      )
      .join(' ') +
    '</div>'
  );
}

/** One chart: caption, the SVG's content, its legend. */
function figure(caption: string, svg: string, items: { colour: string; dash: string; label: string }[]): string {
  return (
    `<figure><figcaption>${esc(caption)}</figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(caption.replace(/ \(.*/, ''))}">` +
    `${svg}</svg>${legend(items)}</figure>`
  );
}

function measured(r: LatencyCurveResult): (LatencyPoint & { latency_us: NonNullable<LatencyPoint['latency_us']> })[] {
  return r.points
    .filter((p): p is LatencyPoint & { latency_us: NonNullable<LatencyPoint['latency_us']> } => !p.error && p.latency_us !== undefined)
    .sort((a, b) => a.offered_per_s - b.offered_per_s);
}

function curveChart(rs: LatencyCurveResult[]): string {
  const pts = rs.flatMap(measured);
  if (pts.length === 0) return '';
  const y = logAxis(Math.min(...pts.map((p) => p.latency_us.p50)), Math.max(...pts.map((p) => p.latency_us.p999)));
  const xMax = Math.max(...pts.map((p) => p.offered_per_s)) * 1.05;
  const xOf = (v: number): number => M.left + (v / xMax) * PW;
  const step = 10 ** Math.floor(Math.log10(xMax / 2));
  const unit = [1, 2, 5].map((m) => m * step).find((s) => xMax / s <= 8) ?? step * 10;
  const xTicks: { x: number; label: string }[] = [];
  for (let v = 0; v <= xMax; v += unit) xTicks.push({ x: xOf(v), label: num(v) });
  const series = [
    { key: 'p50' as const, dash: DASHES[1], name: 'p50' },
    { key: 'p99' as const, dash: DASHES[0], name: 'p99' },
    { key: 'p999' as const, dash: DASHES[2], name: 'p99.9' },
  ];
  const lines: string[] = [];
  const items: { colour: string; dash: string; label: string }[] = [];
  rs.forEach((r, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const ps = measured(r);
    for (const s of series) {
      const d = ps.map((p, j) => `${j ? 'L' : 'M'}${xOf(p.offered_per_s).toFixed(1)},${yOf(p.latency_us[s.key], y).toFixed(1)}`).join('');
      if (d) lines.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
      // Hollow: the client did not keep its schedule there (its own stalls are in the figure).
      for (const p of ps) {
        const fill = p.client_kept_schedule === false ? 'white' : colour;
        lines.push(`<circle cx="${xOf(p.offered_per_s).toFixed(1)}" cy="${yOf(p.latency_us[s.key], y).toFixed(1)}" r="3" fill="${fill}" stroke="${colour}" stroke-width="1.2"/>`);
      }
      items.push({ colour, dash: s.dash, label: `${r.name} ${s.name}` });
    }
    if (r.knee) {
      const kx = xOf(r.knee.offered_per_s);
      const ky = yOf(r.knee.p99_us, y);
      // Near the right edge the label goes to the left of the ring.
      const right = kx > M.left + PW * 0.75;
      lines.push(
        `<circle cx="${kx.toFixed(1)}" cy="${ky.toFixed(1)}" r="7" fill="none" stroke="${colour}" stroke-width="2"/>` +
          `<text x="${(right ? kx - 10 : kx + 10).toFixed(1)}" y="${(ky - 9).toFixed(1)}" text-anchor="${right ? 'end' : 'start'}" fill="${colour}">${esc(r.name)} knee ${esc(num(r.knee.offered_per_s))}/s</text>`,
      );
    }
  });
  return figure(
    "Latency against offered load (from each line's due time; log scale; ringed: the knee, the highest load with p99 under 2x its lightest-load value; hollow dots: the client could not keep its schedule there)",
    frame('offered load (transactions/s, all connections)', 'latency', xTicks, y) + lines.join(''),
    items,
  );
}

/** The spectrum's points of one histogram: (1/(1-p), latency us) at each bucket's cumulative count, the last (p = 1) left out. */
export function spectrumPoints(h: LatencyHist): { x: number; us: number }[] {
  const out: { x: number; us: number }[] = [];
  let seen = 0;
  for (const [high, count] of h.buckets) {
    const before = seen / h.total;
    seen += count;
    const p = seen / h.total;
    const us = Math.min(high, h.max) / 1000;
    // A step: flat at this latency from the previous percentile to this one.
    out.push({ x: 1 / (1 - before), us });
    if (p < 1) out.push({ x: 1 / (1 - p), us });
    else out.push({ x: h.total, us });
  }
  return out;
}

function spectrumChart(rs: LatencyCurveResult[], wanted: number[]): string {
  const chosen: { r: LatencyCurveResult; p: LatencyPoint; i: number; k: number }[] = [];
  rs.forEach((r, i) => {
    let k = 0;
    for (const p of measured(r)) {
      const key = p.fraction ?? p.offered_per_s;
      if (p.latency_hist_ns && p.latency_hist_ns.total > 0 && wanted.some((w) => Math.abs(w - key) < 1e-9)) chosen.push({ r, p, i, k: k++ });
    }
  });
  if (chosen.length === 0) return '';
  const curves = chosen.map((c) => ({ ...c, pts: spectrumPoints(c.p.latency_hist_ns as LatencyHist) }));
  const all = curves.flatMap((c) => c.pts);
  const y = logAxis(Math.min(...all.map((q) => Math.max(q.us, 0.1))), Math.max(...all.map((q) => q.us)));
  const xMaxDecades = Math.max(1, Math.ceil(Math.log10(Math.max(...all.map((q) => q.x)))));
  const xOf = (x: number): number => M.left + (Math.log10(x) / xMaxDecades) * PW;
  const xTicks: { x: number; label: string }[] = [];
  for (let d = 0; d <= xMaxDecades; d++) xTicks.push({ x: xOf(10 ** d), label: d === 0 ? '0 %' : `${(100 * (1 - 10 ** -d)).toFixed(Math.max(0, d - 2))} %` });
  const lines: string[] = [];
  const items: { colour: string; dash: string; label: string }[] = [];
  for (const c of curves) {
    const colour = COLOURS[c.i % COLOURS.length];
    const dash = DASHES[c.k % DASHES.length];
    const d = c.pts.map((q, j) => `${j ? 'L' : 'M'}${xOf(q.x).toFixed(1)},${yOf(Math.max(q.us, y.min), y).toFixed(1)}`).join('');
    lines.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/>`);
    items.push({ colour, dash, label: `${c.r.name} at ${loadLabel(c.p)} (${num(c.p.offered_per_s)}/s)` });
  }
  return figure(
    'Percentile spectrum (latency from the due time against percentile; the percentile axis is logarithmic in 1/(1-p))',
    frame('percentile', 'latency', xTicks, y) + lines.join(''),
    items,
  );
}

export const LATENCY_STYLE = '.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:.3em 0 0 80px}.legend span{white-space:nowrap}svg text.axis{font-weight:600}';

/** Both charts for the latency results of a document ('' when it has none). */
export function latencyCharts(doc: ResultsDoc): string[] {
  const rs = doc.results.filter((r): r is LatencyCurveResult => r.type === 'latency');
  if (rs.length === 0) return [];
  const spectrum = Array.isArray(doc.parameters.spectrum) ? (doc.parameters.spectrum as number[]) : [];
  return [curveChart(rs), spectrumChart(rs, spectrum)];
}
