// Multi-core servers (issue 11): echo_server -w N and the epoll peer -w N
// (worker processes sharing the port with SO_REUSEPORT), the Node peer's
// cluster; !bench json sums the workers, !shutdown stops them all; the CLI's
// --workers / --server-cpus. Ephemeral ports; nothing is left running.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { paths } from '../cli/paths.js';
import { treePids } from '../cli/workload/proc-tree.js';
import { echoClient, serverBackends, startServer, waitFor } from './fault-helpers.js';
import { cliMissing, echoMissing, processesWithMarker, runCli } from './helpers.js';

const noEcho = echoMissing() ?? cliMissing();

const programs: [string, string, string[]][] = [
  ...serverBackends().map((b): [string, string, string[]] => [`echo_server -b ${b}`, paths.echoServer, ['-b', b]]),
  ['epoll peer', paths.epollEcho, []],
  ['node peer (cluster)', process.execPath, [paths.nodeEcho]],
];

for (const [name, program, args] of programs) {
  t.test(`${name} -w 2: README workload, !bench json sums both workers, !shutdown stops all`, { skip: noEcho }, async (t) => {
    const srv = await startServer(t, [...args, '-w', '2'], { program });
    // Worker 0 prints the ready line; the parent may still be forking
    // worker 1 then (seen once on a loaded machine), so wait for both.
    const workerPids = (): number[] => treePids(srv.pid).filter((p) => p !== srv.pid);
    await waitFor(() => workerPids().length >= 2, 5_000);
    const kids = workerPids();
    t.equal(kids.length, 2, 'two worker processes under the parent');
    const r = await echoClient(srv.port, 100, 100, 100, [], 60_000, true);
    t.equal(r.code, 0, `echo_client exits 0 ${r.stderr}`);
    t.match(r.json, { transactions: 10_000, mismatches: 0, errors: 0 });
    const server = (r.json as unknown as { server: Record<string, number> }).server;
    t.equal(server.workers, 2, '!bench json says 2 workers');
    t.ok(server.maxrss_total_kib > server.maxrss_kib, 'the total RSS is more than the largest worker\'s');
    if (program === paths.echoServer) t.ok(server.read_block >= 10_000, `read blocks of both workers add up (${server.read_block})`);
    const exit = await srv.proc.wait(10_000);
    t.equal(exit?.code, 0, 'the parent exits 0 after !shutdown');
    t.same(kids.filter((p) => spawnSync('kill', ['-0', String(p)]).status === 0), [], 'no worker left');
  });
}

t.test('-w bad values: exit 2 with a message', { skip: noEcho }, async (t) => {
  for (const [program, args] of [[paths.echoServer, []], [paths.epollEcho, []], [process.execPath, [paths.nodeEcho]]] as [string, string[]][]) {
    const r = spawnSync(program, [...args, '-P', '0', '-w', '0'], { encoding: 'utf8', timeout: 10_000 });
    t.equal(r.status, 2, `${program} -w 0: exit 2`);
    t.match(r.stderr, /-w wants a number of workers 1\.\.256/);
  }
});

t.test('echo --workers 2 --clients 2 on coro and the epoll peer: zero mismatches', { skip: noEcho }, async (t) => {
  const r = await runCli(['echo', '--server', 'coro,epoll', '--workers', '2', '--clients', '2', '--runs', '1', '--warmup', '0', '--json']);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-400)})`);
  const doc = JSON.parse(r.stdout);
  t.same(doc.results.map((x: { name: string }) => x.name.replace(/^coro\/\w+/, 'coro')), ['coro w2', 'epoll w2']);
  for (const x of doc.results) {
    t.equal(x.transactions.median, 10_000, `${x.name}: all transactions`);
    t.equal(x.mismatches, 0);
    t.ok(x.server_cpu_us_per_txn.median > 0, `${x.name}: server CPU summed over the workers`);
  }
  t.equal(doc.parameters.workers, 2);
  t.same(processesWithMarker(r.marker), []);
});

t.test('README workload with --clients 2 and with --workers 2 on every backend: zero mismatches', { skip: noEcho }, async (t) => {
  for (const flags of [['--clients', '2'], ['--workers', '2']]) {
    const r = await runCli(['echo', '--backend', 'all', ...flags, '--runs', '1', '--warmup', '0', '--json']);
    t.equal(r.code, 0, `${flags.join(' ')}: exit 0 (${r.stderr.slice(-400)})`);
    const doc = JSON.parse(r.stdout);
    t.equal(doc.results.length, serverBackends().length, 'one result per backend');
    for (const x of doc.results) t.match(x, { mismatches: 0, errors: 0, transactions: { median: 10_000 } }, `${flags.join(' ')}: ${x.name}`);
    t.same(processesWithMarker(r.marker), []);
  }
});

t.test('--workers / --server-cpus bad input', { skip: cliMissing() }, async (t) => {
  for (const [args, re] of [
    [['--workers', '0'], /--workers must be between 1 and 256/],
    [['--server-cpus', '9999'], /--server-cpus: CPU 9999 does not exist/],
    [['--server-cpus', '0', '--no-pin'], /--no-pin cannot be combined/],
  ] as [string[], RegExp][]) {
    const r = await runCli(['echo', ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr.trim(), re);
    t.equal(r.stderr.trim().split('\n').length, 1);
  }
});

