// s2n-tls under a memlock limit (docs/tls.md): s2n mlock(2)s every
// session's buffers, so without CAP_IPC_LOCK a low `ulimit -l` lets only a
// few TLS sessions open. The server must say why in one line naming the way
// out (S2N_DONT_MLOCK=1), keep serving the sessions it has, and serve every
// connection with S2N_DONT_MLOCK=1. Only for an s2n build (`npm run
// test:s2n`); in the OpenSSL build there is nothing to lock.
import t from 'tap';
import { coroTlsLibrary } from '../cli/native/coro.js';
import { paths } from '../cli/paths.js';
import { installReaper } from '../cli/workload/process.js';
import { findOnPath } from '../cli/workload/tools.js';
import { echoClient, startServer } from './fault-helpers.js';
import { echoMissing } from './helpers.js';

installReaper();

const LIMIT_KIB = 512; // about 8 sessions of 56 KiB locked each, measured
const CONNS = 40;

function tlsLibrary(): string {
  try {
    return coroTlsLibrary();
  } catch {
    return '';
  }
}

const missing = echoMissing();
const setpriv = findOnPath('setpriv');
const library = missing ? '' : tlsLibrary();
const skip = missing ?? (!library.startsWith('s2n-tls') ? `not an s2n build (${library || 'unknown TLS library'})` : !setpriv ? 'setpriv (util-linux) is not installed' : false);

for (const dontLock of [false, true]) {
  const what = dontLock ? 'S2N_DONT_MLOCK=1: every TLS connection is served' : 'TLS sessions past the memlock limit fail with one clear line';
  t.test(`s2n memlock (ulimit -l ${LIMIT_KIB}, no CAP_IPC_LOCK): ${what}`, { skip }, async (t) => {
    const wrapper = `ulimit -l ${LIMIT_KIB} && exec ${dontLock ? 'env S2N_DONT_MLOCK=1 ' : ''}"$0" "$@"`;
    // setpriv drops CAP_IPC_LOCK (root's exemption from the limit); sh
    // lowers the limit and execs the server with its arguments.
    const srv = await startServer(t, ['--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', 'sh', '-c', wrapper, paths.echoServer, '-t'], {
      program: setpriv as string,
    });
    const r = await echoClient(srv.port, CONNS, 5, 64, ['-t'], 30_000);
    const stderr = srv.proc.stderrTail.get().join('\n');
    if (dontLock) {
      t.equal(r.code, 0, `echo_client exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
      t.match(r.json, { transactions: CONNS * 5, mismatches: 0, errors: 0 }, `${CONNS} connections served`);
      t.notMatch(stderr, /mlock/, 'no mlock error');
    } else {
      t.ok(r.json && r.json.errors > 0 && r.json.errors < CONNS, `some sessions fail, some are served (${r.json?.errors} of ${CONNS} failed)`);
      t.equal(r.json?.mismatches, 0, 'the sessions served echo every byte');
      t.match(stderr, /coro tls: cannot create a session: .*S2N_ERR_MLOCK.*set S2N_DONT_MLOCK=1/, 'the server says why and what to do');
      t.equal(srv.proc.exit, undefined, 'the server keeps running');
    }
  });
}
