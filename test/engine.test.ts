// The engine without native programs: interleaving, failure recording,
// ready-line waiting and process-group reaping, using small Node scripts.
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { measure, type Job } from '../cli/measure/runner.js';
import { createProgress } from '../cli/measure/progress.js';
import { RunFailure } from '../cli/workload/echo.js';
import { LineTail, Proc } from '../cli/workload/process.js';
import { READY_LINE, waitForReady } from '../cli/workload/ready.js';
import { launch } from '../cli/workload/launch.js';

const quiet = createProgress(false);

/** Live (non-zombie) processes in process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(d));
    } catch {
      // Gone.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('runs are interleaved A B A B after warmup', async (t) => {
  const order: string[] = [];
  const job = (name: string): Job<number> => ({ name, run: async () => (order.push(name), order.length) });
  const out = await measure([job('A'), job('B')], { warmup: 1, runs: 2 }, quiet);
  t.same(order, ['A', 'B', 'A', 'B', 'A', 'B']);
  t.same(out[0].samples, [3, 5], 'warmup samples are dropped');
  t.same(out[1].samples, [4, 6]);
});

t.test('a failed run is recorded and the others still count', async (t) => {
  let n = 0;
  const flaky: Job<number> = {
    name: 'flaky',
    run: async () => {
      n += 1;
      if (n === 2) throw new RunFailure('echo_client killed by SIGSEGV', ['line 1', 'boom'], 3, 1);
      return n;
    },
  };
  const steady: Job<number> = { name: 'steady', run: async () => 7 };
  const seen: number[] = [];
  const out = await measure([flaky, steady], { warmup: 0, runs: 3 }, quiet, (o) => seen.push(o[0].samples.length));
  t.same(out[0].samples, [1, 3]);
  t.same(out[1].samples, [7, 7, 7]);
  t.equal(out[0].failures.length, 1);
  t.match(out[0].failures[0], { config: 'flaky', run: 2, warmup: false, error: 'echo_client killed by SIGSEGV', stderr_tail: ['line 1', 'boom'] });
  t.equal(out[0].failedMismatches, 3);
  t.equal(out[0].failedErrors, 1);
  t.equal(seen.length, 6, 'partial results after every run');
});

t.test('LineTail keeps the last lines', async (t) => {
  const tail = new LineTail(2);
  tail.push('a\nb\r\nc');
  tail.push('d\ne');
  t.same(tail.get(), ['cd', 'e']);
});

const FAKE_SERVER = `
const net = require('net');
const srv = net.createServer((s) => s.pipe(s));
srv.listen(0, '127.0.0.1', () => {
  setTimeout(() => process.stdout.write('echo_server starting on port ' + srv.address().port + '\\n'), 100);
});
process.on('SIGTERM', () => {});  // must be SIGKILLed
`;

t.test('ready line with the real port, then the whole group is reaped', async (t) => {
  // A shell parent with the server as its child: killing the group kills both.
  const spec = launch(['sh', '-c', `${process.execPath} -e "$0" & wait`, FAKE_SERVER], undefined);
  const p = new Proc('fake', spec.command, spec.args);
  const port = await waitForReady(p, READY_LINE, 5000);
  t.ok(port > 0 && port < 65536, `port ${port}`);
  const pid = p.pid as number;
  const exit = await p.reap(0);
  t.ok(exit.signal === 'SIGKILL' || exit.signal === 'SIGTERM', `group killed (${exit.signal})`);
  t.notOk(alive(pid), 'leader gone');
  // Zombies waiting for init to reap them hold nothing; count the others.
  const t0 = Date.now();
  while (groupMembers(pid).length > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
  t.same(groupMembers(pid), [], 'no process of the group survives, not even a SIGTERM-ignoring grandchild');
});

t.test('no ready line: timeout, or the program exiting first', async (t) => {
  const silent = new Proc('silent', process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
  await t.rejects(waitForReady(silent, READY_LINE, 300), /printed no ready line within 300 ms/);
  await silent.reap();
  const dies = new Proc('dies', process.execPath, ['-e', 'console.error("bind: Address in use"); process.exit(3)']);
  await t.rejects(waitForReady(dies, READY_LINE, 5000), /dies exit status 3 before it was ready/);
  t.same(dies.stderrTail.get(), ['bind: Address in use']);
  const missing = new Proc('missing', '/nonexistent/program', []);
  await t.rejects(waitForReady(missing, READY_LINE, 5000), /could not start/);
});
