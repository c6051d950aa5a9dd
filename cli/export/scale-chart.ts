// The chart of `coro-bench scale` in the HTML export: txn/s against server
// workers (one line per configuration, with its ideal N x txn/s at 1 dashed)
// and the scaling efficiency in %. Inline SVG, no scripts.
import { num } from '../render/format.js';
import type { ScaleRow } from '../results/types.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLOURS = ['#4a7bd0', '#d0704a', '#3a9a5b', '#8a5ac0', '#c0a030', '#444444'];

interface Series {
  label: string;
  colour: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

/** A line chart with labelled axes (x: workers, equally spaced), gridlines and a legend. */
function lineChart(title: string, yLabel: string, xs: number[], series: Series[], yFormat: (v: number) => string, yMaxFloor = 0): string {
  const w = 760;
  const h = 320;
  const left = 80;
  const right = 290;
  const top = 20;
  const bottom = 50;
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const yMax = Math.max(yMaxFloor, ...ys, 1e-9) * 1.1;
  const xAt = (x: number): number => left + (xs.length === 1 ? plotW / 2 : (xs.indexOf(x) / (xs.length - 1)) * plotW);
  const yAt = (y: number): number => top + plotH - (y / yMax) * plotH;
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i;
    const y = yAt(v);
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${esc(yFormat(v))}</text>`);
  }
  for (const x of xs) {
    parts.push(`<text x="${xAt(x).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${h - 8}" text-anchor="middle">server workers (processes)</text>`);
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => xs.includes(p.x));
    if (pts.length > 0) {
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${xAt(p.x).toFixed(1)} ${yAt(p.y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
      if (!s.dashed) for (const p of pts) parts.push(`<circle cx="${xAt(p.x).toFixed(1)}" cy="${yAt(p.y).toFixed(1)}" r="3.5" fill="${s.colour}"/>`);
    }
    const ly = top + 10 + i * 20;
    const lx = left + plotW + 16;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  return (
    `<figure><figcaption>${esc(title)}</figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg></figure>`
  );
}

/** Both charts of a scale run ('' when nothing was measured). */
export function scaleCharts(rows: ScaleRow[]): string {
  const measured = rows.filter((r) => r.txn_per_s !== null);
  if (measured.length === 0) return '';
  const xs = [...new Set(rows.map((r) => r.workers))].sort((a, b) => a - b);
  const configs = [...new Set(rows.map((r) => r.config))];
  const rate: Series[] = [];
  const eff: Series[] = [];
  configs.forEach((c, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const mine = measured.filter((r) => r.config === c);
    rate.push({ label: c, colour, points: mine.map((r) => ({ x: r.workers, y: r.txn_per_s as number })) });
    const one = mine.find((r) => r.workers === 1)?.txn_per_s;
    if (one) rate.push({ label: `${c} ideal (N x 1 worker)`, colour, dashed: true, points: xs.map((x) => ({ x, y: x * one })) });
    eff.push({ label: c, colour, points: mine.filter((r) => r.efficiency !== null).map((r) => ({ x: r.workers, y: (r.efficiency as number) * 100 })) });
  });
  return [
    lineChart('Throughput against server workers', 'transactions/s', xs, rate, (v) => num(Math.round(v))),
    lineChart('Scaling efficiency: txn/s at N / (N x txn/s at 1)', 'efficiency (%)', xs, eff, (v) => `${Math.round(v)} %`, 100),
  ].join('\n');
}
