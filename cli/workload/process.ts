// Child processes that are always reaped. Every program is spawned as the
// leader of its own process group (detached), so killing -pgid also kills
// what it started (a shell wrapper, taskset's exec). Live children are kept in
// a registry so a Ctrl-C or an uncaught error kills them all before exit.
import { spawn, type ChildProcess } from 'node:child_process';

/** Keeps the last `limit` lines of a stream (for failure reports). */
export class LineTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly limit = 20) {}
  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) {
      this.lines.push(l.replace(/\r$/, ''));
      if (this.lines.length > this.limit) this.lines.shift();
    }
  }
  get(): string[] {
    return this.partial ? [...this.lines, this.partial].slice(-this.limit) : [...this.lines];
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  readonly stderrTail = new LineTail(20);
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  private spawnError: Error | undefined;
  private stdoutListeners: ((chunk: string) => void)[] = [];

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
    /** 'pipe': the caller writes to the program's stdin (child.stdin), e.g. a start barrier's "go". */
    stdin: 'ignore' | 'pipe' = 'ignore',
  ) {
    this.child = spawn(command, args, {
      detached: true,
      stdio: [stdin, 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    live.add(this);
    this.child.stdout?.setEncoding('utf8');
    this.child.stderr?.setEncoding('utf8');
    this.child.stdout?.on('data', (d: string) => {
      this.stdout += d;
      for (const l of this.stdoutListeners) l(d);
    });
    this.child.stderr?.on('data', (d: string) => this.stderrTail.push(d));
    this.exited = new Promise<Exit>((resolve) => {
      const done = (exit: Exit): void => {
        if (this.exit) return;
        this.exit = exit;
        live.delete(this);
        // Anything the program left in its group (a grandchild keeping the
        // pipes open, a forked worker) goes with it.
        this.killGroupAfterExit();
        resolve(exit);
      };
      this.child.on('error', (err) => {
        this.spawnError = err;
        done({ code: 127, signal: null });
      });
      // 'close' comes after stdio drained, so stdout is complete then. If a
      // leftover holds the pipes open, 'exit' plus a short grace settles it.
      this.child.on('close', (code, signal) => done({ code, signal }));
      this.child.on('exit', (code, signal) => {
        setTimeout(() => done({ code, signal }), 500).unref();
      });
    });
  }

  private killGroupAfterExit(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is already empty.
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get error(): Error | undefined {
    return this.spawnError;
  }

  onStdout(fn: (chunk: string) => void): void {
    this.stdoutListeners.push(fn);
  }

  /** Signals the whole process group; ignores an already-gone group. */
  signalGroup(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.exit) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        this.child.kill(sig);
      } catch {
        // Already gone.
      }
    }
  }

  /** Waits up to graceMs for a natural exit, then SIGTERMs, then SIGKILLs the group. */
  async reap(graceMs = 0): Promise<Exit> {
    if (this.exit) return this.exit;
    if (graceMs > 0 && (await withTimeout(this.exited, graceMs))) return this.exit as unknown as Exit;
    this.signalGroup('SIGTERM');
    if (await withTimeout(this.exited, 1000)) return this.exit as unknown as Exit;
    this.signalGroup('SIGKILL');
    return this.exited;
  }

  /** Waits for exit with a timeout; undefined when it did not exit in time. */
  async wait(timeoutMs: number): Promise<Exit | undefined> {
    return (await withTimeout(this.exited, timeoutMs)) ? this.exit : undefined;
  }

  describeExit(): string {
    if (this.spawnError) return `could not start: ${this.spawnError.message}`;
    if (!this.exit) return 'still running';
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit status ${this.exit.code}`;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const live = new Set<Proc>();

/** SIGKILLs every live child group synchronously (for signal handlers and exit). */
export function killAllChildren(): void {
  for (const p of live) p.signalGroup('SIGKILL');
}

export function liveChildren(): number {
  return live.size;
}

let installed = false;
let interruptHook: (() => void) | undefined;

/** Sets what runs on Ctrl-C after the children are killed (e.g. saving partial results). */
export function setInterruptHook(fn: (() => void) | undefined): void {
  interruptHook = fn;
}

/** Makes Ctrl-C / SIGTERM kill every child group before this process exits. */
export function installReaper(): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals): void => {
    killAllChildren();
    try {
      interruptHook?.();
    } finally {
      process.stderr.write(`\ninterrupted (${sig}): all child processes killed\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', killAllChildren);
}
