// End-to-end tests of the demo programs as issue 3 lists them: the coro++
// README workload (100 x 100 x 100) against every backend, with and without
// TLS, ending with the client's !shutdown; 2,000 concurrent connections on
// epoll and poll; select refusing an fd over FD_SETSIZE with a clear message.
// (The SMTP conversation is native/tests/test_smtp_e2e; disconnects and
// over-long lines are in faults.test.ts.) Ephemeral ports; every process is
// reaped by a teardown.
import t from 'tap';
import { echoMissing } from './helpers.js';
import { assertServed, echoClient, serverBackends, startServer, waitFor } from './fault-helpers.js';

const missing = echoMissing();
if (missing) {
  t.fail(`demo programs missing: ${missing}`);
} else {
  const backends = serverBackends();
  t.ok(backends.length > 0, `backends: ${backends.join(', ')}`);

  for (const backend of backends) {
    for (const tls of [false, true]) {
      const name = `${backend}${tls ? ' + TLS' : ''}`;
      t.test(`README workload 100 x 100 x 100 on ${name}, then !shutdown`, async (t) => {
        const flags = ['-b', backend, ...(tls ? ['-t'] : [])];
        const srv = await startServer(t, flags);
        // The last connection asks !bench json and sends !shutdown (no --no-shutdown here).
        const r = await echoClient(srv.port, 100, 100, 100, flags, 60_000, true);
        t.equal(r.code, 0, `echo_client exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
        t.match(r.json, { transactions: 10_000, mismatches: 0, errors: 0 }, '10,000 transactions, 0 mismatches');
        const exit = await srv.proc.wait(10_000);
        t.equal(exit?.code, 0, 'the server stops cleanly after !shutdown');
        t.match(srv.proc.stdout, /exiting event loop\s+exiting main coroutine\s+read_block: \d+ {2}write_block: \d+/, 'coro++ exit lines');
      });
    }
  }

  for (const backend of backends.filter((b) => b !== 'select')) {
    t.test(`2,000 concurrent connections on ${backend}`, async (t) => {
      const srv = await startServer(t, ['-b', backend], { files: 8192 });
      await assertServed(t, srv.port, `${backend}: 2000 x 5 x 100`, 2000, 5, 100, ['-b', backend]);
    });
  }

  if (backends.includes('select')) {
    t.test('select refuses an fd over FD_SETSIZE with a clear message and keeps serving', async (t) => {
      const srv = await startServer(t, ['-b', 'select'], { files: 8192 });
      const r = await echoClient(srv.port, 1500, 2, 100, [], 30_000);
      t.not(r.code, 0, 'the client reports failed connections');
      t.ok(
        await waitFor(() => /select backend cannot watch fd \d+ \(limit FD_SETSIZE = 1024\)/.test(srv.proc.stderrTail.get().join('\n')), 5_000),
        'the server says which fd and why',
      );
      await assertServed(t, srv.port, 'select after the refusal', 4, 20, 64);
    });
  }
}
