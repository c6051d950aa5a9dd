// The soak suite: one bounded run of cli/workload/soak.ts per backend, its
// figures turned into a SoakResult with pass/fail checks. A failed check is
// a failed run (exit status 1), with the check's detail as the error.
import { median, summarize } from '../stats/summary.js';
import type { Failure, SoakCheck, SoakPoint, SoakResult } from '../results/types.js';
import { UsageError } from '../errors.js';
import type { Progress } from '../measure/progress.js';
import { softFileLimit } from '../workload/launch.js';
import { fileLimitFor, filesNeeded } from './preflight.js';
import { RunFailure } from '../workload/echo.js';
import { runSoak, soakMix, type SoakFigures } from '../workload/soak.js';
import type { SuiteOutput } from './suite.js';

export interface SoakSpec {
  backends: string[];
  conns: number;
  durationS: number;
  warmupS: number;
  rssSlackKib: number;
  port: number;
  fileLimit: number | undefined;
}

/** Default warm-up: a fifth of the run, between 10 and 60 s (half of a run shorter than 20 s). */
export function defaultWarmupS(durationS: number): number {
  return Math.min(60, Math.max(Math.min(10, Math.floor(durationS / 2)), Math.round(durationS / 5)));
}

/** Least-squares slope of y over t, per minute. */
function slopePerMin(points: { t: number; y: number }[]): number {
  if (points.length < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * The stability figures and the checks. RSS: the median of the samples in
 * the first window after the warm-up against the median of the last window
 * (a window is a tenth of the measured time, at least 10 s); medians, so a
 * burst of abusive sessions holding line buffers at one instant does not
 * decide it.
 */
export function judgeSoak(spec: Omit<SoakSpec, 'backends' | 'port' | 'fileLimit'>, backend: string, f: SoakFigures): SoakResult {
  // The counts are reported as counted; the rest is judged or reshaped below.
  const { mix, peak_client_open: _peakClient, abuses, server_exit_code: _exitCode, samples, ...counts } = f;
  const post: SoakPoint[] = samples.filter((p) => p.t_s >= spec.warmupS);
  const span = Math.max(0, spec.durationS - spec.warmupS);
  const win = Math.max(10, span / 10);
  const first = post.filter((p) => p.t_s <= spec.warmupS + win).map((p) => p.rss_kib);
  const last = post.filter((p) => p.t_s >= spec.durationS - win).map((p) => p.rss_kib);
  const rssWarm = first.length ? median(first) : 0;
  const rssEnd = last.length ? median(last) : 0;
  const growth = rssEnd - rssWarm;
  const peakConns = Math.max(0, ...samples.map((p) => p.fds - f.fds_before));
  const fdsMax = Math.max(0, ...post.map((p) => p.fds));
  const fdBound = f.fds_before + Math.ceil(spec.conns * 1.1) + 64;

  const checks: SoakCheck[] = [
    { check: 'zero echo mismatches', ok: f.mismatches === 0, detail: `${fmt(f.mismatches)} mismatches in ${fmt(f.transactions)} verified echoes` },
    {
      check: 'no unexpected errors',
      ok: f.errors === 0,
      detail: f.errors === 0 ? 'none' : `${fmt(f.errors)}: ${f.error_examples.slice(0, 3).join('; ')}`,
    },
    {
      check: `reached ${fmt(spec.conns)} connections at once (90 %)`,
      ok: peakConns >= spec.conns * 0.9,
      detail: `at most ${fmt(peakConns)} open at the server at once`,
    },
    {
      check: 'stable RSS after the warm-up',
      ok: first.length > 0 && last.length > 0 && growth <= spec.rssSlackKib,
      detail: `${fmt(rssWarm)} -> ${fmt(rssEnd)} KiB (${growth >= 0 ? '+' : ''}${fmt(growth)}, bound +${fmt(spec.rssSlackKib)}), slope ${slopePerMin(post.map((p) => ({ t: p.t_s, y: p.rss_kib }))).toFixed(1)} KiB/min`,
    },
    {
      check: 'fd count bounded during the run',
      ok: post.length > 0 && fdsMax <= fdBound,
      detail: `at most ${fmt(fdsMax)} fds after the warm-up (bound ${fmt(fdBound)}: at rest + 110 % of the connections + 64)`,
    },
    {
      check: 'every fd released once the clients left',
      ok: f.fds_after === f.fds_before,
      detail: `${f.fds_after} fds after, ${f.fds_before} before the soak`,
    },
    { check: 'the server ran throughout and exits 0 on !shutdown', ok: f.server_exit_code === 0, detail: f.server_exit },
  ];

  return {
    type: 'soak',
    name: `coro/${backend} soak`,
    server: 'coro',
    backend,
    tls: false,
    workload: { conns: spec.conns, txns: 0, size: 0 },
    duration_s: spec.durationS,
    warmup_s: spec.warmupS,
    runs: 1,
    failed_runs: checks.every((c) => c.ok) ? 0 : 1,
    mix: { ...mix },
    ...counts,
    peak_server_connections: peakConns,
    abuses: { ...abuses },
    rss_kib: summarize(post.map((p) => p.rss_kib)),
    fds: summarize(post.map((p) => p.fds)),
    rss_warm_kib: rssWarm,
    rss_end_kib: rssEnd,
    rss_growth_kib: growth,
    rss_slack_kib: spec.rssSlackKib,
    rss_slope_kib_per_min: Math.round(slopePerMin(post.map((p) => ({ t: p.t_s, y: p.rss_kib }))) * 10) / 10,
    checks,
    samples,
  };
}

/** select cannot watch an fd >= FD_SETSIZE (1024 on Linux), and the server's
 * fds go past the connections (listener, backend, sessions still draining). */
const SELECT_FD_LIMIT = 1024;
const SELECT_MAX_CONNS = 750;

export async function runSoakSuite(spec: SoakSpec, progress: Progress): Promise<SuiteOutput> {
  const out: SuiteOutput = { results: [], failures: [], warnings: [] };
  const mix = soakMix(spec.conns);
  for (const backend of spec.backends) {
    const name = `coro/${backend} soak`;
    if (backend === 'select' && spec.conns > SELECT_MAX_CONNS) {
      const reason = `select watches fds below FD_SETSIZE (${SELECT_FD_LIMIT}) only; use --conns ${SELECT_MAX_CONNS} or fewer`;
      out.results.push({ type: 'skipped', name, reason });
      out.warnings.push(`${name} skipped: ${reason}`);
      continue;
    }
    progress.note(
      `${name}: ${spec.conns.toLocaleString('en-US')} connections for ${spec.durationS} s (warm-up ${spec.warmupS} s): ` +
        `${mix.idle} idle (${mix.silent} silent), ${mix.slow} slow, ${mix.abusive} abusive, ${mix.normalLoops} x ${mix.normalConns} normal (echo_client)`,
    );
    try {
      const f = await runSoak({
        backend,
        conns: spec.conns,
        durationS: spec.durationS,
        warmupS: spec.warmupS,
        port: spec.port,
        fileLimit: spec.fileLimit,
        note: (l) => progress.note(l),
      });
      const r = judgeSoak(spec, backend, f);
      out.results.push(r);
      for (const c of r.checks.filter((c) => !c.ok)) {
        out.failures.push({ config: name, run: 1, warmup: false, error: `${c.check}: ${c.detail}`, stderr_tail: [] });
      }
    } catch (err) {
      const failure: Failure = {
        config: name,
        run: 1,
        warmup: false,
        error: (err as Error).message,
        stderr_tail: err instanceof RunFailure ? err.stderrTail : [],
      };
      out.failures.push(failure);
    }
  }
  return out;
}

/**
 * Open-files limits for a soak of `conns` connections. This process holds
 * nearly all of them itself, and a Node process cannot raise its own limit,
 * so it must already be high enough (scripts/soak.sh raises it before
 * starting the CLI). Returns the limit to start the server with (undefined:
 * the current one is enough); throws a UsageError that says what to do.
 */
export function soakFileLimit(conns: number): number | undefined {
  const need = filesNeeded(conns);
  const soft = softFileLimit();
  if (!(soft >= need)) {
    throw new UsageError(
      `a soak of ${conns} connections holds them in this process and needs ${need} open files, but its limit is ${soft}: ` +
        'raise it first (`ulimit -n 65536`; `npm run soak` does that) or use fewer --conns',
    );
  }
  // The server: the connections, those closing (draining up to 1 s), and
  // echo_client's, with room to spare.
  return fileLimitFor(Math.ceil(conns * 1.2));
}
