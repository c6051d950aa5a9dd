// `coro-bench report --trend FILE...|DIR`: chosen metrics across many saved
// results, oldest first, as tables and (--html) line charts with the gate's
// threshold band.
import type { IO } from '../commands/io.js';
import type { ReportOptions } from '../commands/report.js';
import { UsageError } from '../errors.js';
import { writeAtomic } from '../export/exporter.js';
import { renderTable } from '../render/terminal.js';
import { loadPoint, loadPoints } from '../trend/points.js';
import { trendHtml, trendTables } from '../trend/render.js';
import { buildSeries } from '../trend/series.js';

export async function trendAction(o: ReportOptions, io: IO): Promise<number> {
  const { points, skipped } = loadPoints(o.files);
  for (const s of skipped) io.err(`skipped ${s}\n`);
  if (points.length === 0) throw new UsageError(`no coro-bench results, check or baseline file in ${o.files.join(', ')}`);
  let baseline;
  if (o.baseline) {
    const b = loadPoint(o.baseline);
    if (typeof b === 'string' || b.kind !== 'baseline') throw new UsageError(`--baseline ${o.baseline}: ${typeof b === 'string' ? b : `a ${b.kind} document, not a baseline`}`);
    baseline = b;
  }
  const series = buildSeries(points, { metrics: o.metrics, thresholdPct: o.thresholdPct, baseline });
  if (series.length === 0) {
    const all = [...new Set(points.flatMap((p) => [...p.metrics.keys()]))];
    throw new UsageError(`--metric ${o.metrics.join(',')} matches none of the metrics in these files (${all.join(', ')})`);
  }
  const noCommit = points.filter((p) => !p.commit).length;
  const sources = `${points.length} point(s) from ${o.files.join(', ')}${noCommit ? `; ${noCommit} record no commit: ordered by their measurement date` : ''}`;
  if (o.json) {
    io.out(`${JSON.stringify({ schema: 'coro-bench/trend@1', sources, series: series.map((s) => ({ ...s, entries: s.entries.map((e) => ({ file: e.point.file, kind: e.point.kind, commit: e.point.commit, commit_date: e.point.commit_date, date: e.point.date, value: e.value, cost: e.cost, verdict: e.verdict })) })) }, null, 2)}\n`);
  } else if (!o.html || io.stdoutIsTTY) {
    const colour = io.stdoutIsTTY && process.env.NO_COLOR === undefined;
    io.out(`${trendTables(series).map((t) => renderTable(t, colour)).join('\n')}\n${sources}\n`);
  }
  if (o.html) {
    writeAtomic(o.html, trendHtml(series, sources));
    io.err(`wrote ${o.html}\n`);
  }
  const fails = series.reduce((n, s) => n + s.entries.filter((e) => e.verdict === 'regression').length, 0);
  if (fails > 0) io.err(`${fails} point(s) would have failed the gate (marked "WOULD FAIL")\n`);
  return 0;
}
