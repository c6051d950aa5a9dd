// A trend as tables (one per metric, through the shared table model) and as
// a self-contained HTML page with a line chart per metric: the values in
// commit order, the reference, the gate's threshold band around it, and the
// points that would have failed the gate marked in red.
import { esc } from '../export/html.js';
import { num } from '../render/format.js';
import type { Table } from '../render/model.js';
import type { Point } from './points.js';
import type { Series, TrendEntry } from './series.js';

/** Short commit ("1a2b3c4d+dirty"), or "-" when not recorded. */
export function shortCommit(p: Point): string {
  if (!p.commit) return '-';
  const [hash, dirty] = p.commit.split('+');
  return `${hash.slice(0, 8)}${dirty ? '+dirty' : ''}`;
}

function day(iso: string | null): string {
  return iso ? iso.replace('T', ' ').slice(0, 16) : '-';
}

function change(e: TrendEntry, s: Series): string {
  if (e.verdict === 'reference') return 'reference';
  const v = (e.value / s.reference.value - 1) * 100;
  if (!Number.isFinite(v)) return '-';
  return `${v >= 0 ? '+' : ''}${v.toFixed(2)} %`;
}

const VERDICT: Record<TrendEntry['verdict'], string> = { reference: 'reference', ok: 'ok', improved: 'improved', regression: 'WOULD FAIL' };

function thresholdText(s: Series): string {
  return s.threshold_pct === 0 ? 'any change' : `${+s.threshold_pct.toPrecision(3)} %`;
}

export function trendTables(series: Series[]): Table[] {
  return series.map((s) => ({
    title: `${s.label} (${s.unit}; ${s.better} is better; threshold ${thresholdText(s)}: ${s.threshold_why})`,
    head: ['commit', 'commit date', 'measured', 'kind', 'value', 'change', 'gate'],
    rows: s.entries.map((e) => [shortCommit(e.point), day(e.point.commit_date), day(e.point.date), e.point.kind, num(e.value), change(e, s), VERDICT[e.verdict]]),
    note: `Reference: ${s.reference.from}. "WOULD FAIL": beyond the threshold on the worse side.`,
  }));
}

const W = 900;
const H = 300;
const M = { left: 90, right: 190, top: 20, bottom: 70 };

/** One line chart: values by position (oldest left), the band, the reference, failing points in red, and a legend. */
export function lineChart(s: Series): string {
  const vals = s.entries.map((e) => e.value).filter(Number.isFinite);
  const ref = s.reference.value;
  const lim = 1 + s.threshold_pct / 100;
  const [bandLo, bandHi] = [ref / lim, ref * lim];
  let lo = Math.min(...vals, bandLo);
  let hi = Math.max(...vals, bandHi);
  if (hi === lo) [lo, hi] = [lo * 0.99 - 1e-9, hi * 1.01 + 1e-9];
  const pad = (hi - lo) * 0.08;
  [lo, hi] = [lo - pad, hi + pad];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const n = s.entries.length;
  const x = (i: number): number => M.left + (n === 1 ? pw / 2 : (i / (n - 1)) * pw);
  const y = (v: number): number => M.top + ph - ((v - lo) / (hi - lo)) * ph;
  const parts: string[] = [];
  // The band: the values the gate passes (between ref / (1 + t) and ref x (1 + t)).
  parts.push(`<rect x="${M.left}" y="${y(bandHi).toFixed(1)}" width="${pw}" height="${Math.max(1, y(bandLo) - y(bandHi)).toFixed(1)}" class="band"/>`);
  parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(ref).toFixed(1)}" y2="${y(ref).toFixed(1)}" class="ref"/>`);
  // Axes and y ticks.
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" class="axis"/><line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" class="axis"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${M.left - 4}" x2="${M.left}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="axis"/><text x="${M.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(num(v))}</text>`);
  }
  parts.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(s.unit)}</text>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">commit (oldest left), measured date below</text>`);
  // The line and the points, x labels every few points so they do not overlap.
  // About 90 px per label (a date of 11 characters), so neighbours never overlap.
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 90))));
  const path = s.entries.map((e, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(e.value).toFixed(1)}`).join(' ');
  parts.push(`<path d="${path}" class="line"/>`);
  s.entries.forEach((e, i) => {
    const cls = e.verdict === 'regression' ? 'fail' : 'pt';
    const r = e.verdict === 'regression' ? 6 : 3.5;
    parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(e.value).toFixed(1)}" r="${r}" class="${cls}"><title>${esc(`${shortCommit(e.point)} ${day(e.point.date)}: ${num(e.value)} ${s.unit} (${VERDICT[e.verdict]})`)}</title></circle>`);
    if (i % every === 0) {
      parts.push(`<text x="${x(i).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${esc(shortCommit(e.point).slice(0, 8))}</text>`);
      parts.push(`<text x="${x(i).toFixed(1)}" y="${M.top + ph + 30}" text-anchor="middle" class="small">${esc(e.point.date.slice(5, 16).replace('T', ' '))}</text>`);
    }
  });
  // Legend, right of the plot.
  const lx = M.left + pw + 20;
  const legend = [
    `<line x1="${lx}" x2="${lx + 22}" y1="${M.top + 10}" y2="${M.top + 10}" class="line"/><circle cx="${lx + 11}" cy="${M.top + 10}" r="3.5" class="pt"/><text x="${lx + 30}" y="${M.top + 14}">value</text>`,
    `<line x1="${lx}" x2="${lx + 22}" y1="${M.top + 32}" y2="${M.top + 32}" class="ref"/><text x="${lx + 30}" y="${M.top + 36}">reference</text>`,
    `<rect x="${lx}" y="${M.top + 46}" width="22" height="12" class="band"/><text x="${lx + 30}" y="${M.top + 56}">gate band (${esc(thresholdText(s))})</text>`,
    `<circle cx="${lx + 11}" cy="${M.top + 76}" r="6" class="fail"/><text x="${lx + 30}" y="${M.top + 80}">would fail the gate</text>`,
  ];
  parts.push(...legend);
  const fails = s.entries.filter((e) => e.verdict === 'regression').length;
  return (
    `<figure><figcaption>${esc(s.label)} <span class="small">(${esc(s.id)}; ${s.better} is better; ${n} point(s), ${fails} would fail; threshold ${esc(thresholdText(s))}: ${esc(s.threshold_why)}; reference: ${esc(s.reference.from)})</span></figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(s.label)}">${parts.join('')}</svg></figure>`
  );
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1150px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
svg text{font:12px system-ui,sans-serif;fill:#222}svg text.small,.small{font-size:11px;color:#555;fill:#555}
.band{fill:#d9f0d9;stroke:none}.ref{stroke:#2a7a2a;stroke-width:1.5;stroke-dasharray:6 4}.axis{stroke:#444}
.line{fill:none;stroke:#4a7bd0;stroke-width:2}.pt{fill:#4a7bd0}.fail{fill:#d03030;stroke:#700;stroke-width:1}
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.3em}`;

export function trendHtml(series: Series[], sources: string): string {
  const tables = trendTables(series).map(
    (t) =>
      `<h3>${esc(t.title)}</h3><table><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
      `<tbody>${t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>` +
      (t.note ? `<p class="small">${esc(t.note)}</p>` : ''),
  );
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>coro-bench trend</title><style>${STYLE}</style></head>\n` +
    `<body><h1>coro-bench trend</h1><p class="small">${esc(sources)}</p>\n` +
    `${series.map(lineChart).join('\n')}\n<h2>Tables</h2>\n${tables.join('\n')}\n</body></html>\n`
  );
}
