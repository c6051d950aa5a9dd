// Progress on stderr: a one-line bar with "run i of N" and an ETA on a TTY,
// plain lines otherwise (so logs stay readable). Silent when `enabled` is off.

export interface Progress {
  start(total: number): void;
  step(label: string): void;
  done(): void;
  note(line: string): void;
}

export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  let total = 0;
  let index = 0;
  let t0 = 0;
  const tty = stream.isTTY === true;
  let drawn = false;
  let lastLine = 0;
  const clear = (): void => {
    if (tty && drawn) {
      stream.write('\r\x1b[K');
      drawn = false;
    }
  };
  return {
    start(n: number): void {
      total = n;
      index = 0;
      t0 = Date.now();
      lastLine = t0;
    },
    step(label: string): void {
      index += 1;
      if (!enabled) return;
      const elapsed = (Date.now() - t0) / 1000;
      const eta = index > 1 ? ((elapsed / (index - 1)) * (total - index + 1)).toFixed(0) : '?';
      if (tty) {
        const width = 20;
        const filled = Math.round(((index - 1) / Math.max(total, 1)) * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        clear();
        stream.write(`[${bar}] run ${index} of ${total}  ${label}  ETA ${eta} s`);
        drawn = true;
      } else if (Date.now() - lastLine >= 1000) {
        // Plain lines at most once a second, and none for work under a second.
        lastLine = Date.now();
        stream.write(`run ${index} of ${total}: ${label} (ETA ${eta} s)\n`);
      }
    },
    done(): void {
      if (!enabled) return;
      clear();
      const took = (Date.now() - t0) / 1000;
      if (tty || took >= 1) stream.write(`${total} run(s) in ${took.toFixed(1)} s\n`);
    },
    note(line: string): void {
      if (!enabled) return;
      clear();
      stream.write(`${line}\n`);
    },
  };
}
