// `coro-bench report FILE...`: options into ReportOptions.
import { Command } from 'commander';
import { reportAction } from '../actions/report.js';
import { UsageError } from '../errors.js';
import { stdio } from './io.js';
import { exportFile } from './parse.js';

export interface ReportOptions {
  files: string[];
  html?: string;
  export?: string;
  json: boolean;
  reference?: string;
}

export function parseReportOptions(files: string[], raw: { html?: string; export?: string; json?: boolean; reference?: string }): ReportOptions {
  if (files.length === 0) throw new UsageError('report needs at least one results FILE (saved with --export FILE.json)');
  if (raw.html !== undefined && !/\.html?$/i.test(raw.html)) throw new UsageError(`--html wants a .html file name, got "${raw.html}"`);
  return { files, html: raw.html, export: exportFile(raw.export), json: raw.json === true, reference: raw.reference };
}

export function reportCommand(): Command {
  return new Command('report')
    .description('render saved results (JSON exports) as tables again, merged side by side, or as an HTML page with charts')
    .argument('<file...>', 'results files saved with --export FILE.json')
    .option('--html <out>', 'write a self-contained HTML page with charts and tables')
    .option('--export <file>', 'write the (merged) results as .json, .md, .csv or .html')
    .option('--json', 'print the (merged) results document as JSON')
    .option('--reference <config>', 'configuration the comparison ratios are against')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench report results/echo.json
  coro-bench report before.json after.json            # side by side, ratios against the first
  coro-bench report results/*.json --html results/report.html`,
    )
    .action(async (files: string[], raw: { html?: string; export?: string; json?: boolean; reference?: string }) => {
      process.exitCode = await reportAction(parseReportOptions(files, raw), stdio());
    });
}
