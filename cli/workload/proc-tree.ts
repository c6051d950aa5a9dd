// What /proc says about a process and everything it started: CPU time, page
// faults, context switches and resident memory of the whole tree. For
// servers that do not report their own figures (`!bench json`), and for
// servers made of several processes (a worker per core), where one pid's
// figures would be a fraction of the truth.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const confCache = new Map<string, number>();
/** A getconf value (CLK_TCK, PAGESIZE), with the usual Linux value when getconf is missing. */
function conf(name: string, fallback: number): number {
  let v = confCache.get(name);
  if (v === undefined) {
    try {
      v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
    } catch {
      v = fallback;
    }
    confCache.set(name, v);
  }
  return v;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** Own plus waited-for children's, in clock ticks. */
  utime: number;
  stime: number;
  minflt: number;
  majflt: number;
  rss_pages: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state); field n is f[n - 3].
    const n = (field: number): number => Number(f[field - 3]);
    if (f[0] === 'Z') return undefined;
    return {
      pid,
      ppid: n(4),
      utime: n(14) + n(16),
      stime: n(15) + n(17),
      minflt: n(10) + n(11),
      majflt: n(12) + n(13),
      rss_pages: n(24),
    };
  } catch {
    return undefined;
  }
}

function switches(pid: number): { nvcsw: number; nivcsw: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    return {
      nvcsw: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0),
      nivcsw: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0),
    };
  } catch {
    return { nvcsw: 0, nivcsw: 0 };
  }
}

/** Pids of `root` and all its live descendants. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(st.pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

export interface TreeUsage {
  processes: number;
  utime_us: number;
  stime_us: number;
  minflt: number;
  majflt: number;
  nvcsw: number;
  nivcsw: number;
  /** Sum of the processes' resident sets now, and the largest one. */
  rss_kib: number;
  max_process_rss_kib: number;
}

/**
 * The tree's usage now. CPU and faults include children already reaped by a
 * process of the tree (the kernel adds them to the parent's c* fields);
 * context switches count live processes only.
 */
export function treeUsage(root: number): TreeUsage | undefined {
  const pids = treePids(root);
  const tick = 1_000_000 / conf('CLK_TCK', 100);
  const pageKib = conf('PAGESIZE', 4096) / 1024;
  const u: TreeUsage = { processes: 0, utime_us: 0, stime_us: 0, minflt: 0, majflt: 0, nvcsw: 0, nivcsw: 0, rss_kib: 0, max_process_rss_kib: 0 };
  for (const pid of pids) {
    const st = readStat(pid);
    if (!st) continue;
    const sw = switches(pid);
    u.processes++;
    u.utime_us += Math.round(st.utime * tick);
    u.stime_us += Math.round(st.stime * tick);
    u.minflt += st.minflt;
    u.majflt += st.majflt;
    u.nvcsw += sw.nvcsw;
    u.nivcsw += sw.nivcsw;
    const rss = st.rss_pages * pageKib;
    u.rss_kib += rss;
    u.max_process_rss_kib = Math.max(u.max_process_rss_kib, rss);
  }
  return u.processes > 0 ? u : undefined;
}

export interface TreePeaks {
  samples: number;
  peak_rss_kib: number;
  peak_cpu_percent: number;
}

/** Samples a process tree every ~50 ms, keeping the peaks of its summed RSS and CPU%. */
export class TreeSampler {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; cpu_us: number } | undefined;
  private peaks: TreePeaks = { samples: 0, peak_rss_kib: 0, peak_cpu_percent: 0 };
  /** CPU% needs two readings: a run shorter than one interval has none (NaN, shown "-", not 0). */
  private cpuWindows = 0;

  constructor(
    private readonly root: number,
    private readonly intervalMs = 50,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  sample(): TreeUsage | undefined {
    const u = treeUsage(this.root);
    if (!u) return undefined;
    const now = performance.now();
    const cpu = u.utime_us + u.stime_us;
    if (this.last && now > this.last.at) {
      const pct = ((cpu - this.last.cpu_us) / 1000 / (now - this.last.at)) * 100;
      this.peaks.peak_cpu_percent = Math.max(this.peaks.peak_cpu_percent, Math.round(pct));
      this.cpuWindows++;
    }
    this.last = { at: now, cpu_us: cpu };
    this.peaks.samples++;
    this.peaks.peak_rss_kib = Math.max(this.peaks.peak_rss_kib, u.rss_kib);
    return u;
  }

  stop(): TreePeaks {
    // A last reading closes the final window (once: stop may be called again).
    if (this.timer) this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return {
      ...this.peaks,
      peak_rss_kib: this.peaks.samples > 0 ? this.peaks.peak_rss_kib : Number.NaN,
      peak_cpu_percent: this.cpuWindows > 0 ? this.peaks.peak_cpu_percent : Number.NaN,
    };
  }
}
