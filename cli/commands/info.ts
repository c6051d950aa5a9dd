// `coro-bench info`: --json, and --build to describe another build folder.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { infoAction } from '../actions/info.js';
import { stdio } from './io.js';

export interface InfoOptions {
  json: boolean;
  /** Another native build folder to describe (absolute), e.g. native/build-s2n. */
  build?: string;
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show the native library (version, arch, backends, stack, TLS, build flags), limits and where files were loaded from')
    .option('--json', 'print one JSON object')
    .option('--build <dir>', 'describe this native build folder instead of native/build (e.g. native/build-s2n: its TLS library)')
    .addHelpText(
      'after',
      `
Examples:
  coro-bench info
  coro-bench info --json
  coro-bench info --build native/build-s2n     # the s2n-tls build (npm run test:s2n makes it)`,
    )
    .action(async (raw: { json?: boolean; build?: string }) => {
      let build: string | undefined;
      if (raw.build !== undefined) {
        build = resolve(raw.build);
        if (!existsSync(join(build, 'libcoro.so'))) throw new UsageError(`--build ${raw.build}: no libcoro.so there (build one with \`make -C native BUILD=<folder>\`)`);
      }
      process.exitCode = await infoAction({ json: raw.json === true, build }, stdio());
    });
}
