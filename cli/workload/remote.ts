// echo_client processes on other hosts, started over ssh (OpenSSH, as load
// harnesses such as memtier's do; no agent of our own): how each is started,
// the start barrier they all pass before their transactions (so that their
// measured intervals overlap), each host's clock offset, how well the
// intervals overlapped, and what a failure means, in one line naming the host.
//
// No remote client outlives its run: each runs `echo_client --barrier`, which
// exits as soon as its stdin closes; stdin is the ssh channel, so closing our
// end of it, killing ssh, or losing the connection ends the remote process.
import { execFile } from 'node:child_process';
import { UsageError } from '../errors.js';
import { Proc, type Exit } from './process.js';

export interface SshSpec {
  /** `-o` options the user gave (--ssh-option), passed to ssh before ours: ssh keeps the first value of each. */
  options: string[];
  /** The echo_client binary on the hosts (--remote-client). */
  clientPath: string;
}

/** Our ssh defaults: never prompt; give up on a silent host or a dead connection within seconds. */
const SSH_DEFAULTS = ['BatchMode=yes', 'ConnectTimeout=10', 'ServerAliveInterval=2', 'ServerAliveCountMax=3'];

/** A host as ssh takes it ([user@]name or address); nothing ssh could read as an option. */
export function checkHost(host: string): string {
  if (!/^[A-Za-z0-9_.@:%\[\]-]+$/.test(host) || host.startsWith('-')) {
    throw new UsageError(`--client-hosts: "${host}" is not a host name or address ([user@]host)`);
  }
  return host;
}

/** One `-o` option as ssh takes it: Keyword=value (or "Keyword value"). */
export function checkSshOption(opt: string): string {
  if (!/^[A-Za-z][A-Za-z0-9]*(=|\s+)\S/.test(opt)) throw new UsageError(`--ssh-option wants Keyword=value (an ssh -o option), got "${opt}"`);
  return opt;
}

/** Quotes one word for the remote shell (ssh hands the command to it as one string). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** ssh's arguments to run `remote` (argv) on `host`, replacing the remote shell (exec). */
export function sshArgs(spec: SshSpec, host: string, remote: string[]): string[] {
  const opts = [...spec.options, ...SSH_DEFAULTS].flatMap((o) => ['-o', o]);
  return ['-T', ...opts, host, '--', `exec ${remote.map(shellQuote).join(' ')}`];
}

/** Why ssh (exit 255) or the remote command failed, in words, from its exit and last stderr lines. */
export function describeRemoteFailure(exit: Exit | undefined, stderr: string[], clientPath: string, started: boolean): string {
  const last = stderr.filter((l) => l.trim().length > 0).slice(-1)[0]?.trim() ?? '';
  const said = last ? `: ${last}` : '';
  const all = stderr.join('\n');
  if (!exit) return `did not answer in time${said}`;
  if (exit.code === 255) {
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(all)) {
      return `ssh does not trust the host's key (put it in known_hosts: \`ssh HOST true\` once by hand)${said}`;
    }
    if (/Permission denied|Too many authentication failures/i.test(all)) {
      return `ssh refused the login (key not accepted)${said}`;
    }
    if (/Could not resolve|Connection refused|timed out|No route to host|Network is unreachable|Connection closed by|kex_exchange_identification/i.test(all) && !started) {
      return `cannot be reached over ssh${said}`;
    }
    return `${started ? 'ssh connection lost during the run' : 'ssh failed'}${said}`;
  }
  if (exit.code === 126 || exit.code === 127 || /not found|No such file/.test(all)) {
    return `no runnable echo_client at ${clientPath} there (give its path with --remote-client)${said}`;
  }
  if (exit.signal) return `ssh killed by ${exit.signal}${said}`;
  return `echo_client there ended with exit status ${exit.code}${said}`;
}

/**
 * Checks, before any run, that every host can be logged into and has the
 * client binary: one ssh round each, all at once. Throws one error line
 * naming the first host that fails.
 */
export async function preflightHosts(hosts: string[], spec: SshSpec, timeoutMs = 20_000): Promise<void> {
  const probe = (host: string): Promise<string | undefined> =>
    new Promise((resolve) => {
      const args = sshArgs(spec, host, ['test', '-x', spec.clientPath]);
      execFile('ssh', args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, _out, stderr) => {
        if (!err) return resolve(undefined);
        const e = err as Error & { code?: number | string; killed?: boolean; signal?: string };
        if (e.code === 'ENOENT') return resolve('ssh (OpenSSH client) is not installed here');
        if (e.killed) return resolve(`did not answer within ${timeoutMs / 1000} s`);
        const code = typeof e.code === 'number' ? e.code : null;
        // `test -x` says nothing and exits 1 when the binary is not there.
        const exit: Exit = { code: code === 1 ? 127 : code, signal: (e.signal as NodeJS.Signals) ?? null };
        resolve(describeRemoteFailure(exit, String(stderr).split('\n'), spec.clientPath, false));
      });
    });
  const answers = await Promise.all(hosts.map(probe));
  const bad = answers.findIndex((a) => a !== undefined);
  if (bad >= 0) throw new UsageError(`client host ${hosts[bad]}: ${answers[bad]}`);
}

/** One echo_client on a host behind its ssh process, speaking the start barrier (docs/programs.md). */
export class RemoteClient {
  readonly proc: Proc;
  /** Connections open at "ready", and the client's clock then. */
  ready?: { connected: number; ns: number };
  /** Our clock when "go" was sent and when its acknowledgement came, and the client's clock at "go". */
  go?: { sentNs: number; ackNs: number; clientNs: number };
  /** The same for each "sync" exchange. */
  readonly syncs: ClockExchange[] = [];
  private goSentNs = 0;
  private syncSentNs = 0;
  private linesSeen = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly host: string,
    readonly label: string,
    readonly spec: SshSpec,
    remoteArgv: string[],
  ) {
    this.proc = new Proc(label, 'ssh', sshArgs(spec, host, remoteArgv), undefined, 'pipe');
    // A closed ssh stdin (the remote end gone) must not throw here.
    this.proc.child.stdin?.on('error', () => undefined);
    this.proc.onStdout(() => this.scan());
    void this.proc.exited.then(() => this.wake());
  }

  private scan(): void {
    const now = nowNs();
    const lines = this.proc.stdout.split('\n').slice(0, -1);
    for (const line of lines.slice(this.linesSeen)) {
      const r = /^ready (\d+) (\d+)$/.exec(line);
      if (r && !this.ready) this.ready = { connected: Number(r[1]), ns: Number(r[2]) };
      const k = /^sync (\d+)$/.exec(line);
      if (k) this.syncs.push({ sentNs: this.syncSentNs, ackNs: now, clientNs: Number(k[1]) });
      const g = /^go (\d+)$/.exec(line);
      if (g && !this.go) this.go = { sentNs: this.goSentNs, ackNs: now, clientNs: Number(g[1]) };
    }
    this.linesSeen = lines.length;
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Resolves true when `cond` holds, false when the process ended first or the time ran out. */
  waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (cond()) return done(true);
        if (this.proc.exit) return done(false);
        this.waiters.push(check);
      };
      const timer = setTimeout(() => done(false), Math.max(1, timeoutMs));
      let settled = false;
      const done = (v: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      check();
    });
  }

  /**
   * `rounds` clock exchanges, one after the other (after "ready", before
   * "go"): the quickest gives the best offset estimate. False when the
   * client stopped answering.
   */
  async syncClock(rounds: number, timeoutMs: number): Promise<boolean> {
    for (let i = 0; i < rounds; i++) {
      const want = this.syncs.length + 1;
      this.syncSentNs = nowNs();
      this.proc.child.stdin?.write('sync\n');
      if (!(await this.waitFor(() => this.syncs.length >= want, timeoutMs))) return false;
    }
    return true;
  }

  sendGo(): void {
    this.goSentNs = nowNs();
    this.proc.child.stdin?.write('go\n');
  }

  /** The client's clock offset to ours (add it to the client's readings) and its uncertainty, from the "go" exchange. */
  clockOffset(): { offsetNs: number; uncertaintyNs: number } | undefined {
    const xs = [...this.syncs, ...(this.go ? [this.go] : [])];
    if (xs.length === 0) return undefined;
    const best = xs.reduce((a, x) => (x.ackNs - x.sentNs < a.ackNs - a.sentNs ? x : a));
    const mid = (best.sentNs + best.ackNs) / 2;
    return { offsetNs: Math.round(mid - best.clientNs), uncertaintyNs: Math.round((best.ackNs - best.sentNs) / 2) };
  }

  /** The JSON report: echo_client's last stdout line. */
  reportText(): string {
    const lines = this.proc.stdout.split('\n').filter((l) => l.trim().length > 0);
    return lines[lines.length - 1] ?? '';
  }

  failure(started: boolean): string {
    return describeRemoteFailure(this.proc.exit, this.proc.stderrTail.get(), this.spec.clientPath, started);
  }

  /** Ends the remote client: close its stdin (it exits at once), then ssh goes; killed after graceMs. */
  async end(graceMs = 3000): Promise<void> {
    this.proc.child.stdin?.end();
    await this.proc.reap(graceMs);
  }
}

/** Our clock when a request was sent and its answer came, and the client's clock in the answer. */
export interface ClockExchange {
  sentNs: number;
  ackNs: number;
  clientNs: number;
}

/** CLOCK_MONOTONIC in ns, the clock echo_client's readings use (on Linux, also Node's hrtime). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export interface Interval {
  start_ns: number;
  end_ns: number;
}

/**
 * How well the clients' measured intervals (on one clock) overlapped: the
 * time all of them were running over the time any of them was, in percent
 * (100: they started and ended together; the merged txn/s covers the whole
 * span, so a low figure means part of it had fewer clients loading), and the
 * spread of their start times.
 */
export function overlapOf(xs: Interval[]): { overlap_percent: number; start_spread_us: number; end_spread_us: number } {
  const starts = xs.map((x) => x.start_ns);
  const ends = xs.map((x) => x.end_ns);
  const union = Math.max(...ends) - Math.min(...starts);
  const common = Math.min(...ends) - Math.max(...starts);
  return {
    overlap_percent: union > 0 ? Math.round((Math.max(0, common) / union) * 1000) / 10 : 100,
    start_spread_us: Math.round((Math.max(...starts) - Math.min(...starts)) / 1000),
    end_spread_us: Math.round((Math.max(...ends) - Math.min(...ends)) / 1000),
  };
}
