// `coro-bench info`: no options beyond --json.
import { Command } from 'commander';
import { infoAction } from '../actions/info.js';
import { stdio } from './io.js';

export interface InfoOptions {
  json: boolean;
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show the native library (version, arch, backends, stack, TLS, build flags), limits and where files were loaded from')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench info
  coro-bench info --json`,
    )
    .action(async (raw: { json?: boolean }) => {
      process.exitCode = await infoAction({ json: raw.json === true }, stdio());
    });
}
