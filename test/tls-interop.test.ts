// TLS interoperability of the demo echo server (echo_server -t) with two
// independent TLS clients, OpenSSL's `openssl s_client` and Python's `ssl`
// module, each pinned to TLS 1.2 and then to TLS 1.3: the handshake
// completes, the negotiated version is the one asked for, a line comes back
// byte for byte, and `!quit` closes the session. It runs against whichever
// build the test helpers point at (native/build, OpenSSL, in `npm test`;
// CORO_BENCH_NATIVE_BUILD=native/build-s2n in `npm run test:s2n`).
import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { paths } from '../cli/paths.js';
import { installReaper } from '../cli/workload/process.js';
import { findOnPath } from '../cli/workload/tools.js';
import { HOST, startServer } from './fault-helpers.js';
import { echoMissing } from './helpers.js';

installReaper();

const LINE = 'interop line 0123456789 abcdefghijklmnopqrstuvwxyz';
const VERSIONS = ['1.2', '1.3'] as const;

interface ClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client program with `input` on stdin; killed after 15 s. With
 * `then`, stdin stays open until stdout shows `input` back, then `then` is
 * written and stdin closed (s_client ends the session at the end of stdin,
 * which must not come before the echo).
 */
function run(cmd: string, args: string[], input: string, then?: string): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = then === undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!sent && stdout.includes(input)) {
        sent = true;
        child.stdin.end(then);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (then === undefined) child.stdin.end(input);
    else child.stdin.write(input);
  });
}

// Python: connect, check the version, send the line, read it back, !quit,
// then expect the server to close (recv returns b'' or the session ends).
const PY = `
import socket, ssl, sys
host, port, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
line = sys.stdin.read().encode()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
v = ssl.TLSVersion.TLSv1_2 if want == '1.2' else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = v
ctx.maximum_version = v
with socket.create_connection((host, port), timeout=10) as raw:
    with ctx.wrap_socket(raw) as s:
        print('version', s.version(), s.cipher()[0])
        s.sendall(line)
        got = b''
        while not got.endswith(b'\\r\\n'):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        print('echo', 'same' if got == line else 'different: %r' % got)
        s.sendall(b'!quit\\r\\n')
        try:
            rest = s.recv(4096)
        except (ssl.SSLError, OSError) as e:
            rest = b''
        print('closed', 'yes' if rest == b'' else 'no: %r' % rest)
`;

async function server(t: Test): Promise<number> {
  const srv = await startServer(t, ['-t']);
  return srv.port;
}

const noEcho = echoMissing();
if (noEcho) {
  t.fail(`demo programs missing: ${noEcho}`);
} else {
  const openssl = findOnPath('openssl');
  const python = findOnPath('python3');

  for (const v of VERSIONS) {
    t.test(`TLS ${v}: openssl s_client against ${paths.echoServer} -t`, { skip: openssl ? false : 'openssl is not on PATH' }, async (t) => {
      const port = await server(t);
      // -quiet prints only the data; -no_ign_eof ends the session at the end of stdin.
      const r = await run(
        openssl as string,
        ['s_client', '-connect', `${HOST}:${port}`, `-tls${v.replace('.', '_')}`, '-brief', '-quiet', '-no_ign_eof'],
        `${LINE}\r\n`,
        '!quit\r\n',
      );
      t.match(r.stderr, new RegExp(`Protocol version: TLSv${v.replace('.', '\\.')}`), `TLSv${v} negotiated`, { stderr: r.stderr });
      t.equal(r.stdout, `${LINE}\r\n`, 'the line comes back byte for byte');
      // The demo server ends a !quit session by closing, without close_notify
      // (both TLS builds), so s_client may report "unexpected eof" and exit 1:
      // what matters is that the session ended rather than hung.
      t.not(r.code, null, `!quit ends the session (s_client exited ${r.code}, not killed at 15 s)`);
    });

    t.test(`TLS ${v}: Python ssl against ${paths.echoServer} -t`, { skip: python ? false : 'python3 is not on PATH' }, async (t) => {
      const port = await server(t);
      const r = await run(python as string, ['-c', PY, HOST, String(port), v], `${LINE}\r\n`);
      t.equal(r.code, 0, `python exits 0${r.code === 0 ? '' : `: ${r.stderr}`}`);
      t.match(r.stdout, new RegExp(`^version TLSv${v.replace('.', '\\.')} `, 'm'), `TLSv${v} negotiated`);
      t.match(r.stdout, /^echo same$/m, 'the line comes back byte for byte');
      t.match(r.stdout, /^closed yes$/m, '!quit closes the session');
    });
  }
}
