// The `read_block` / `write_block` counts of `!bench json` (docs/programs.md):
// a server reports real counts or leaves the keys out, and the CLI shows an
// absent count as "-" with the reason, never as 0.
//
//  - peers/epoll_echo counts like echo_server: a read that drained the
//    socket (the connection then waits for input) and a write the socket
//    did not take whole; in both of its modes;
//  - the Node and Go peers keep no such count: no keys;
//  - the tables: "-" and a note naming the configuration.
import t, { type Test } from 'tap';
import { aggregateEcho } from '../cli/results/aggregate.js';
import type { EchoSample } from '../cli/results/types.js';
import type { Rusage } from '../cli/rusage/parse.js';
import { docTables } from '../cli/render/model.js';
import { paths } from '../cli/paths.js';
import { installReaper } from '../cli/workload/process.js';
import { ensureGoEcho } from '../cli/workload/go-peer.js';
import { findOnPath } from '../cli/workload/tools.js';
import { benchJson, echoClient, sleep, Sockets, startServer } from './fault-helpers.js';
import { echoMissing } from './helpers.js';

installReaper();
const noEcho = echoMissing();

const CONNS = 4;
const TXNS = 50;

async function epollCounts(t: Test, mode: string): Promise<void> {
  const srv = await startServer(t, ['-T', mode], { program: paths.epollEcho });
  const socks = new Sockets(t);
  const before = await benchJson(srv.port, socks);
  t.type(before.read_block, 'number', 'read_block is reported');
  t.type(before.write_block, 'number', 'write_block is reported');

  // Each transaction is one line that the server reads whole (a short read:
  // the socket is drained) before the client sends the next.
  const r = await echoClient(srv.port, CONNS, TXNS, 64);
  t.equal(r.code, 0, `echo_client exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
  const mid = await benchJson(srv.port, socks);
  const reads = (mid.read_block as number) - (before.read_block as number);
  t.ok(reads >= CONNS * TXNS, `read_block grew by ${reads}: at least one drained read per transaction (${CONNS * TXNS})`);
  t.ok(reads <= 2 * CONNS * TXNS + 4 * CONNS, `read_block grew by ${reads}: not more than two per transaction`);

  // A peer that never reads: the echoes fill both socket buffers, the
  // socket stops taking writes, and write_block counts that.
  const stuck = await socks.connect(srv.port);
  stuck.pause();
  stuck.write(Buffer.from(`${'x'.repeat(1022)}\r\n`.repeat(8 * 1024), 'latin1')); // 8 MiB
  let wb = mid.write_block as number;
  for (let i = 0; i < 100 && wb === mid.write_block; i++) {
    await sleep(20);
    wb = (await benchJson(srv.port, socks)).write_block as number;
  }
  t.ok(wb > (mid.write_block as number), `write_block ${mid.write_block} -> ${wb} while a peer does not read`);
  stuck.destroy();
}

t.test('peers/epoll_echo counts blocked reads and writes (level mode)', { skip: noEcho }, (t) => epollCounts(t, 'level'));
t.test('peers/epoll_echo counts blocked reads and writes (edge mode)', { skip: noEcho }, (t) => epollCounts(t, 'edge'));

async function noBlockKeys(t: Test, program: string, args: string[]): Promise<void> {
  const srv = await startServer(t, args, { program });
  const socks = new Sockets(t);
  const r = await echoClient(srv.port, 2, 10, 64);
  t.equal(r.code, 0, 'echo_client exits 0');
  const bench = await benchJson(srv.port, socks);
  t.type(bench.utime_us, 'number', 'the rusage keys are there');
  t.notOk('read_block' in bench, 'no read_block key (no such count)');
  t.notOk('write_block' in bench, 'no write_block key (no such count)');
}

t.test('the Node peer leaves read_block/write_block out', { skip: noEcho }, (t) =>
  noBlockKeys(t, process.execPath, [paths.nodeEcho]));

const go = findOnPath('go');
t.test('the Go peer leaves read_block/write_block out', { skip: noEcho ?? (go ? false : 'no Go toolchain (`go` is not on PATH)') }, async (t) => {
  const program = await ensureGoEcho(go as string);
  await noBlockKeys(t, program, []);
});

// ---- the tables -------------------------------------------------------------

function rusage(extra: Partial<Rusage> = {}): Rusage {
  return {
    wall_us: 200000, utime_us: 1000, stime_us: 2000, maxrss_kib: 2000, ixrss: 0, idrss: 0, isrss: 0,
    minflt: 100, majflt: 0, nswap: 0, inblock: 0, oublock: 0, msgsnd: 0, msgrcv: 0, nsignals: 0,
    nvcsw: 7, nivcsw: 8, ...extra,
  };
}

function sample(serverBlocks: Partial<Rusage>): EchoSample {
  return {
    transactions: 100, mismatches: 0, errors: 0, wall_us: 10000, txn_per_s: 10000, bytes_moved: 20000,
    latency_us: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5 },
    server_rusage: rusage(serverBlocks), client_rusage: rusage(),
    client_read_block: 101, client_write_block: 0,
    server_peak_rss_kib: 2000, server_peak_cpu_percent: 50,
  };
}

t.test('an absent count is "-" with the reason, a count of 0 is 0', async (t) => {
  const w = { conns: 10, txns: 10, size: 100 };
  const one = (name: string, blocks: Partial<Rusage>) =>
    aggregateEcho({ name, server: name, backend: 'x', tls: false, workload: w },
      { name, samples: [sample(blocks), sample(blocks)], failures: [], failedMismatches: 0, failedErrors: 0 });
  const counted = one('epoll', { read_block: 100, write_block: 0 });
  const absent = one('node', {});
  t.same(counted.server_rusage.write_block?.median, 0, 'a real 0 stays 0');
  t.equal(absent.server_rusage.read_block, undefined, 'no read_block Stat when the server reports none');
  t.equal(absent.server_rusage.write_block, undefined, 'no write_block Stat when the server reports none');
  t.notOk('read_block' in JSON.parse(JSON.stringify(absent.server_rusage)), 'and none in the JSON document');

  const tables = docTables({
    schema: 'coro-bench/results@1', command: 'echo', parameters: {}, environment: {} as never,
    results: [counted, absent], failures: [], warnings: [],
  });
  const mem = tables.find((x) => x.title === 'Memory and scheduling');
  t.ok(mem, 'the memory table is there');
  const col = mem!.head.indexOf('server read/write blocks');
  t.equal(mem!.rows[0][col], '100 / 0', 'counted: the counts');
  t.equal(mem!.rows[1][col], '-', 'absent: "-"');
  t.match(mem!.note ?? '', /server read\/write blocks "-" for node: .*does not count/, 'the note says why');
  t.notMatch(mem!.note ?? '', /epoll/, 'and names only the configuration without counts');
});
