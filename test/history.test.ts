// The CLI's history and pinning surface: `report --trend` over the committed
// reports/ (tables, HTML with a chart per metric, bad input), every result
// recording its commit, and `switch` pinning itself unless told not to.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT } from '../cli/paths.js';
import { cliMissing, libraryMissing, runCli, type CliRun } from './helpers.js';

const noCli = cliMissing();
if (noCli) t.fail(noCli);

function oneError(t: Test, r: CliRun, re: RegExp): void {
  t.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${r.stderr}`);
  t.match(lines[0], /^error: /);
  t.match(lines[0], re);
}

t.test('report --trend over reports/: a table per metric, an HTML chart per metric', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-trend-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const reports = join(ROOT, 'reports');
  const r = await runCli(['report', '--trend', reports, '--metric', 'instructions_per_txn/coro/epoll']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /instructions per transaction, coro\/epoll server \(instructions; lower is better; threshold /);
  t.match(r.stdout, /reference/);
  const rows = r.stdout.split('\n').filter((l) => /\d{4}-\d\d-\d\d \d\d:\d\d/.test(l));
  t.ok(rows.length >= 4, `one row per saved baseline (${rows.length})`);
  const html = join(dir, 'trend.html');
  const h = await runCli(['report', '--trend', reports, '--html', html]);
  t.equal(h.code, 0, h.stderr);
  const page = readFileSync(html, 'utf8');
  t.match(page, /<svg [^>]*role="img" aria-label="instructions per transaction, coro\/epoll server"/);
  t.match(page, /gate band/);
  t.match(page, /commit \(oldest left\)/, 'x axis labelled');
  const j = JSON.parse((await runCli(['report', '--trend', reports, '--json', '--metric', 'bytes_copied_per_switch/0B'])).stdout);
  t.equal(j.schema, 'coro-bench/trend@1');
  t.equal(j.series[0].threshold_pct, 0, 'bytes copied: any change');

  oneError(t, await runCli(['report', '--trend', reports, '--metric', 'nope']), /--metric nope matches none of the metrics in these files \(/);
  oneError(t, await runCli(['report', '--trend', join(ROOT, 'package.json')]), /package\.json: not a coro-bench results, check or baseline file/);
  oneError(t, await runCli(['report', '--trend', join(dir, 'none')]), /cannot read .*none: ENOENT/);
  oneError(t, await runCli(['report', join(reports, 'baseline.json'), '--metric', 'x']), /--metric, --threshold and --baseline belong to --trend/);
  oneError(t, await runCli(['report', '--trend', reports, '--threshold', '0']), /--threshold must be above 0/);
  oneError(t, await runCli(['report', '--trend', reports, '--html', join(dir, 'no', 'x.html')]), /cannot write --html .*x\.html: folder .*no does not exist/);
  oneError(t, await runCli(['report', '--trend', reports, '--baseline', join(ROOT, 'reports', 'echo-interleaved-2026-12-06.json')]), /--baseline .*: a results document, not a baseline/);
});

t.test('switch: pinned to CPU 0 by default, --no-pin opts out; the result records its commit', { skip: libraryMissing() }, async (t) => {
  const run = async (extra: string[]) => JSON.parse((await runCli(['switch', '--depth', '0', '--iters', '2000', '--runs', '1', '--warmup', '0', '--json', ...extra])).stdout);
  const pinned = await run([]);
  t.match(pinned.environment.pinning, /^in-process, (pinned to CPU 0|not pinned \(taskset)/);
  t.equal((await run(['--no-pin'])).environment.pinning, 'in-process, not pinned (--no-pin)');
  t.match(pinned.environment.commit, /^[0-9a-f]{40}(\+dirty)?$/, 'the commit measured');
  t.ok(!Number.isNaN(Date.parse(pinned.environment.commit_date)), 'and its date');
  oneError(t, await runCli(['switch', '--pin', '4096']), /--pin must be|--pin: CPU 4096 does not exist/);
});
