// Waiting for a server's ready line instead of sleeping.
import type { Proc } from './process.js';

export const READY_LINE = /echo_server starting on port (\d+)/;

/**
 * Resolves with the port printed in the server's ready line. Rejects when the
 * server exits first or nothing matching arrives within timeoutMs.
 */
export function waitForReady(proc: Proc, pattern: RegExp, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fn();
    };
    const check = (): void => {
      const m = pattern.exec(proc.stdout);
      if (m) finish(() => resolve(Number(m[1])));
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error(`${proc.label} printed no ready line within ${timeoutMs} ms`))),
      timeoutMs,
    );
    proc.onStdout(check);
    void proc.exited.then(() => {
      check();
      finish(() => reject(new Error(`${proc.label} ${proc.describeExit()} before it was ready`)));
    });
    check();
  });
}
