// Samples a process's RSS and CPU% every ~50 ms with pidusage while a
// workload runs, keeping the peaks.
import pidusage from 'pidusage';

export interface SamplerResult {
  samples: number;
  peak_rss_kib: number;
  peak_cpu_percent: number;
  last_rss_kib: number;
}

export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private result: SamplerResult = { samples: 0, peak_rss_kib: 0, peak_cpu_percent: 0, last_rss_kib: 0 };

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 50,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    void this.sample();
    return this;
  }

  /** Takes one sample now (also used for before/after readings). Resolves to RSS in KiB or undefined. */
  async sample(): Promise<number | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const s = await pidusage(this.pid);
      const rss = Math.round(s.memory / 1024);
      this.result.samples += 1;
      this.result.last_rss_kib = rss;
      this.result.peak_rss_kib = Math.max(this.result.peak_rss_kib, rss);
      this.result.peak_cpu_percent = Math.max(this.result.peak_cpu_percent, s.cpu);
      return rss;
    } catch {
      // The process may have exited between two samples.
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  stop(): SamplerResult {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    pidusage.clear();
    return { ...this.result };
  }
}

/** Resident set size of a process now, in KiB, from /proc (undefined if gone). */
export async function rssKib(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
