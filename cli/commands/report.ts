// `coro-bench report FILE...`: options into ReportOptions.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { reportAction } from '../actions/report.js';
import { trendAction } from '../actions/trend.js';
import { UsageError } from '../errors.js';
import { stdio } from './io.js';
import { exportFile } from './parse.js';
import { DEFAULT_THRESHOLD_PCT, percent } from './check.js';

export interface ReportOptions {
  files: string[];
  html?: string;
  export?: string;
  json: boolean;
  reference?: string;
  /** --trend: FILEs and DIRs are points of a trend (trend/). */
  trend: boolean;
  /** --trend: metric ids or id prefixes to show ([] = all). */
  metrics: string[];
  /** --trend: the threshold of metrics without their own (percent). */
  thresholdPct: number;
  /** --trend: judge every point against this baseline instead of the oldest point. */
  baseline?: string;
}

interface RawReportOptions {
  html?: string;
  export?: string;
  json?: boolean;
  reference?: string;
  trend?: boolean;
  metric?: string;
  threshold?: string;
  baseline?: string;
}

export function parseReportOptions(files: string[], raw: RawReportOptions): ReportOptions {
  if (files.length === 0) throw new UsageError('report needs at least one results FILE (saved with --export FILE.json)');
  if (raw.html !== undefined && !/\.html?$/i.test(raw.html)) throw new UsageError(`--html wants a .html file name, got "${raw.html}"`);
  if (raw.html !== undefined && !existsSync(dirname(resolve(raw.html)))) throw new UsageError(`cannot write --html ${raw.html}: folder ${dirname(resolve(raw.html))} does not exist`);
  const trend = raw.trend === true;
  if (!trend && (raw.metric !== undefined || raw.threshold !== undefined || raw.baseline !== undefined)) {
    throw new UsageError('--metric, --threshold and --baseline belong to --trend');
  }
  if (trend && (raw.export !== undefined || raw.reference !== undefined)) throw new UsageError('--export and --reference do not apply to --trend (use --html or --json)');
  return {
    files,
    html: raw.html,
    export: trend ? undefined : exportFile(raw.export),
    json: raw.json === true,
    reference: raw.reference,
    trend,
    metrics: raw.metric === undefined ? [] : raw.metric.split(',').filter((m) => m !== ''),
    thresholdPct: raw.threshold === undefined ? DEFAULT_THRESHOLD_PCT : percent('--threshold', raw.threshold),
    baseline: raw.baseline,
  };
}

export function reportCommand(): Command {
  return new Command('report')
    .description('render saved results (JSON exports) as tables again, merged side by side, or as an HTML page with charts; with --trend, metrics across many saved results')
    .argument('<file...>', 'results files saved with --export FILE.json (with --trend: results, check and baseline files, or folders of them)')
    .option('--html <out>', 'write a self-contained HTML page with charts and tables')
    .option('--export <file>', 'write the (merged) results as .json, .md, .csv or .html')
    .option('--json', 'print the (merged) results document as JSON')
    .option('--reference <config>', 'configuration the comparison ratios are against')
    .option('--trend', 'one point per file, in commit order: a table per metric, and with --html a line chart with the gate\'s threshold band')
    .option('--metric <ids>', 'with --trend: metric ids or prefixes, comma-separated (e.g. instructions_per_txn,txn_per_s_vs_epoll)')
    .option('--threshold <pct>', `with --trend: threshold of the metrics without their own (default ${DEFAULT_THRESHOLD_PCT})`)
    .option('--baseline <file>', 'with --trend: judge every point against this baseline instead of the oldest point')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench report results/echo.json
  coro-bench report before.json after.json            # side by side, ratios against the first
  coro-bench report results/*.json --html results/report.html
  coro-bench report --trend reports/ --html results/trend.html
  coro-bench report --trend artifacts/ --metric instructions_per_txn,syscalls_per_txn`,
    )
    .action(async (files: string[], raw: RawReportOptions) => {
      const o = parseReportOptions(files, raw);
      process.exitCode = await (o.trend ? trendAction(o, stdio()) : reportAction(o, stdio()));
    });
}
