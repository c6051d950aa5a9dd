// The HTML export: one self-contained page (inline CSS and SVG, no scripts,
// nothing fetched) with a bar chart per headline metric and every table.
import { num } from '../render/format.js';
import { docTables, provenance } from '../render/model.js';
import type { ResultsDoc } from '../results/types.js';
import type { Stat } from '../stats/summary.js';
import type { Exporter } from './exporter.js';
import { LATENCY_STYLE, latencyCharts } from './latency-charts.js';
import { scaleCharts } from './scale-chart.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Bar {
  label: string;
  stat: Stat;
}

/** Horizontal bars of medians with a min-max whisker each. */
export function barChart(title: string, unit: string, bars: Bar[]): string {
  const shown = bars.filter((b) => b.stat.n > 0 && Number.isFinite(b.stat.median));
  if (shown.length === 0) return '';
  const labelW = 170;
  const plotW = 460;
  const rowH = 26;
  const h = shown.length * rowH + 30;
  const maxV = Math.max(...shown.map((b) => (Number.isFinite(b.stat.max) ? b.stat.max : b.stat.median)), 1e-12);
  const x = (v: number): number => labelW + (Math.max(v, 0) / maxV) * plotW;
  const rows = shown.map((b, i) => {
    const y = 20 + i * rowH;
    return [
      `<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(b.stat.median) - labelW).toFixed(1)}" height="16" class="bar"/>`,
      b.stat.n > 1
        ? `<line x1="${x(b.stat.min).toFixed(1)}" x2="${x(b.stat.max).toFixed(1)}" y1="${y + 11}" y2="${y + 11}" class="whisker"/>`
        : '',
      `<text x="${(x(b.stat.median) + 6).toFixed(1)}" y="${y + 14}">${esc(num(b.stat.median))}</text>`,
    ].join('');
  });
  return (
    `<figure><figcaption>${esc(title)} (${esc(unit)}; bar = median, line = min..max)</figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 90}" height="${h}" role="img" aria-label="${esc(title)}">` +
    `${rows.join('')}</svg></figure>`
  );
}

function charts(doc: ResultsDoc): string[] {
  const out: string[] = [];
  if (doc.scale) out.push(scaleCharts(doc.scale));
  const echo = doc.results.filter((r) => r.type === 'echo');
  if (echo.length) {
    out.push(barChart('Echo throughput', 'transactions/s', echo.map((r) => ({ label: r.name, stat: r.txn_per_s }))));
    out.push(barChart('Server CPU per transaction', 'us', echo.map((r) => ({ label: r.name, stat: r.server_cpu_us_per_txn }))));
  }
  const sw = doc.results.filter((r) => r.type === 'switch');
  if (sw.length) {
    out.push(
      barChart(
        'Switch cost against its bound',
        'ns',
        sw.flatMap((r) => [
          { label: `${r.depth_bytes} B switch`, stat: r.ns_per_switch },
          { label: `${r.depth_bytes} B bound`, stat: r.bound_ns },
        ]),
      ),
    );
  }
  const idle = doc.results.filter((r) => r.type === 'idle');
  if (idle.length) out.push(barChart('Memory per idle connection', 'bytes', idle.map((r) => ({ label: r.name, stat: r.bytes_per_idle_conn }))));
  const smtp = doc.results.filter((r) => r.type === 'smtp');
  if (smtp.length) out.push(barChart('SMTP throughput', 'messages/s', smtp.map((r) => ({ label: r.name, stat: r.msg_per_s }))));
  out.push(...latencyCharts(doc));
  return out.filter((s) => s.length > 0);
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:pre-line}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
svg text{font:12px system-ui,sans-serif;fill:#222}.bar{fill:#4a7bd0}.whisker{stroke:#111;stroke-width:2}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}.prov{color:#555}`;

export const htmlExporter: Exporter = {
  name: 'html',
  extensions: ['.html', '.htm'],
  serialize(doc: ResultsDoc): string {
    const title = `coro-bench ${doc.command}${doc.profile ? ` ${doc.profile}` : ''}`;
    const tables = docTables(doc).map(
      (t) =>
        `<h2>${esc(t.title)}</h2><table><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
        `<tbody>${t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>` +
        (t.note ? `<p>${esc(t.note)}</p>` : ''),
    );
    const warnings = doc.warnings.length ? `<h2>Warnings</h2><ul>${doc.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
    return (
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}${doc.results.some((r) => r.type === 'latency') ? LATENCY_STYLE : ''}</style></head>\n` +
      `<body><h1>${esc(title)}</h1><p class="prov">${esc(provenance(doc))}</p>\n` +
      `${charts(doc).join('\n')}\n${tables.join('\n')}\n${warnings}\n</body></html>\n`
    );
  },
};
