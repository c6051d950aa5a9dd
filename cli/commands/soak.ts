// `coro-bench soak`: options into SoakOptions.
import { Command } from 'commander';
import { soakAction } from '../actions/soak.js';
import { exportFile, int, LIMITS, optionalInt } from './parse.js';
import { parseBackends } from './echo.js';
import { stdio } from './io.js';

export interface SoakOptions {
  durationS: number;
  conns: number;
  /** [] = the library's default backend; ["all"] = each in turn. */
  backends: string[];
  /** undefined = a fifth of the duration, between 10 and 60 s. */
  warmupS?: number;
  rssSlackKib: number;
  port: number;
  json: boolean;
  export?: string;
}

export interface RawSoakOptions {
  duration: string;
  conns: string;
  backend?: string;
  warmupSeconds?: string;
  rssSlack: string;
  port: string;
  json?: boolean;
  export?: string;
}

/** Default bound on RSS growth after the warm-up, KiB (docs/cli.md, `coro-bench soak`, explains it). */
export const DEFAULT_RSS_SLACK_KIB = 4096;

export function parseSoakOptions(raw: RawSoakOptions): SoakOptions {
  const durationS = int('--duration', raw.duration, 10, 7 * 24 * 3600);
  return {
    durationS,
    conns: int('--conns', raw.conns, 100, LIMITS.conns.max),
    backends: parseBackends(raw.backend),
    warmupS: optionalInt('--warmup-seconds', raw.warmupSeconds, 0, durationS - 5),
    rssSlackKib: int('--rss-slack', raw.rssSlack, 0),
    port: int('--port', raw.port, LIMITS.port.min, LIMITS.port.max),
    json: raw.json === true,
    export: exportFile(raw.export),
  };
}

export function soakCommand(): Command {
  return new Command('soak')
    .description('a long mixed load (idle, slow, abusive and normal clients) on one echo server, checking echoes, RSS and fds stay sound')
    .option('--duration <seconds>', 'how long the load runs', '300')
    .option('--conns <n>', 'connections open at once', '10000')
    .option('--backend <name>', 'event backend: a name, a comma list (one soak each), or "all" (default: the fastest of this build)')
    .option('--warmup-seconds <s>', 'samples before this are not judged (default: a fifth of --duration, 10 to 60 s)')
    .option('--rss-slack <KiB>', 'largest RSS growth accepted between the first and the last window after the warm-up', String(DEFAULT_RSS_SLACK_KIB))
    .option('--port <n>', 'server port (0 = ephemeral)', '0')
    .option('--json', 'print only the JSON results document on stdout')
    .option('--export <file>', 'also save the results as .json, .md, .csv or .html')
    .addHelpText(
      'after',
      `
The process holds about --conns connections itself: its open-files limit must
allow it (\`npm run soak\` runs scripts/soak.sh, which raises it first).
Exit status 1 when any check fails (mismatches, errors, RSS growth, fds).

Examples:
  npm run soak                                  # 10,000 connections for 5 minutes
  npm run soak -- --duration 180
  coro-bench soak --conns 2000 --duration 60 --backend poll
  coro-bench soak --export results/soak.json`,
    )
    .action(async (raw: RawSoakOptions) => {
      process.exitCode = await soakAction(parseSoakOptions(raw), stdio());
    });
}
