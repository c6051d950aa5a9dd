// Asks a running echo server for its figures (`!bench json`) and, when told,
// to stop (`!shutdown`), over one connection of its own. Used when several
// client processes share a server (none of them may stop it) and for servers
// the suite did not write, which may not know these commands at all: then
// the answer says why the figures are missing instead of inventing any.
import { connect } from 'node:net';
import { rusageFromJson, type Rusage } from '../rusage/parse.js';

export type BenchAnswer = { rusage: Rusage; missing?: undefined } | { rusage?: undefined; missing: string };

/**
 * Sends `!bench json`, waits up to timeoutMs for one line, then sends
 * `!shutdown` when `shutdown` (after a reply that was the figures: a server
 * that echoed the request would only echo that too) and closes.
 */
export function askBench(host: string, port: number, shutdown: boolean, timeoutMs = 5000): Promise<BenchAnswer> {
  return new Promise<BenchAnswer>((resolve) => {
    let buf = '';
    let settled = false;
    const sock = connect({ host, port });
    const finish = (a: BenchAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (a.rusage && shutdown) {
        sock.end('!shutdown\r\n');
      } else {
        sock.end();
      }
      // The server may close first or reset: nothing more to learn here.
      sock.on('error', () => undefined);
      setTimeout(() => sock.destroy(), 1000).unref();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ missing: `no answer to !bench json within ${timeoutMs / 1000} s` }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('!bench json\r\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 65_536) finish({ missing: 'the answer to !bench json is not one line' });
        return;
      }
      const line = buf.slice(0, nl).replace(/\r$/, '');
      if (line === '!bench json') {
        finish({ missing: 'the server does not know !bench (it echoed the request)' });
        return;
      }
      try {
        finish({ rusage: rusageFromJson(JSON.parse(line), '!bench json') });
      } catch (err) {
        finish({ missing: `the answer to !bench json is not the figures: ${(err as Error).message}` });
      }
    });
    sock.on('error', (err) => finish({ missing: `!bench json: ${err.message}` }));
    sock.on('close', () => finish({ missing: 'the server closed the connection without answering !bench json' }));
  });
}
