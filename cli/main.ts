#!/usr/bin/env node
// coro-bench: wires the commands; one top-level catch maps errors to exit
// statuses (2 for bad input or a missing build, 1 for failed runs).
import { Command, CommanderError } from 'commander';
import { checkCommand } from './commands/check.js';
import { compareCommand } from './commands/compare.js';
import { echoCommand } from './commands/echo.js';
import { infoCommand } from './commands/info.js';
import { latencyCommand } from './commands/latency.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { scaleCommand } from './commands/scale.js';
import { soakCommand } from './commands/soak.js';
import { switchCommand } from './commands/switch.js';
import { errorMessage, RunFailedError, UsageError } from './errors.js';
import { killAllChildren } from './workload/process.js';

// A reader that goes away (`coro-bench ... | head`) must not crash the
// command with a stack trace: later output is dropped and the command
// carries on (its --export file is still written).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

const program = new Command('coro-bench')
  .description('benchmarks for a stack-copying coroutine runtime (a coro++ re-creation)')
  .version('0.1.0')
  .showSuggestionAfterError(true)
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  coro-bench echo --conns 100 --txns 100 --size 100
  coro-bench echo --conns 100 --txns 100 --size 100 --raw
  coro-bench switch
  coro-bench info
  coro-bench run --list
  coro-bench report results/echo.json --html results/echo.html
  coro-bench check --baseline reports/baseline.json
  coro-bench compare --conns 50 --txns 200
  coro-bench soak --duration 180
  coro-bench latency --server coro,epoll,node --export curve.html
  coro-bench scale --server coro,epoll --export scale.html`,
  );

for (const cmd of [echoCommand(), switchCommand(), infoCommand(), runCommand(), reportCommand(), checkCommand(), compareCommand(), soakCommand(), scaleCommand(), latencyCommand()]) {
  program.addCommand(cmd.exitOverride().showSuggestionAfterError(true));
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  killAllChildren();
  if (err instanceof CommanderError) {
    // Commander has printed its own "error: ..." line (or the help/version).
    process.exitCode = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code) ? 0 : 2;
  } else if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof RunFailedError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    if (process.env.CORO_BENCH_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
