// The tables a results document is shown as: one per metric group, a
// comparison against a reference configuration, skipped workloads, failures.
// Terminal tables, Markdown and HTML all render this same model.
import type { EchoResult, Environment, Failure, IdleResult, LatencyCurveResult, ResultsDoc, RusageStats, ScaleRow, SmtpResult, SoakResult, SwitchResult } from '../results/types.js';
import { pairedTxnRatio } from '../stats/paired.js';
import { latencyTables } from './latency.js';
import { num, pct, ratio, stat } from './format.js';
import { clientHostsTable } from './hosts.js';

export interface Table {
  title: string;
  head: string[];
  rows: string[][];
  /** Optional note shown under the table. */
  note?: string;
}

/** "reads / writes" that had to wait, or "-" when the program does not count them. */
function blocks(u: RusageStats): string {
  return u.read_block && u.write_block ? `${num(u.read_block.median)} / ${num(u.write_block.median)}` : '-';
}

/** Why a read/write blocks cell is "-": the configurations whose server or client reported no counts. */
function blocksNote(rs: EchoResult[]): string | undefined {
  const missing = (side: 'server' | 'client'): string[] =>
    rs.filter((r) => {
      const u = side === 'server' ? r.server_rusage : r.client_rusage;
      return !u.read_block || !u.write_block;
    }).map((r) => r.name);
  const parts = (['server', 'client'] as const)
    .map((side) => [side, missing(side)] as const)
    .filter(([, names]) => names.length > 0)
    .map(([side, names]) => `${side} read/write blocks "-" for ${names.join(', ')}: that program does not count blocked reads and writes (its !bench json has no read_block or write_block)`);
  return parts.length > 0 ? parts.join('; ') + '.' : undefined;
}

/** txn/s ratio: paired (median of per-round ratios, with its interval) when the runs were interleaved in one suite. */
function txnRatioCell(r: EchoResult, ref: EchoResult, failures: Failure[] | undefined): string {
  const p = r === ref || !failures ? undefined : pairedTxnRatio(r, ref, failures, `compare/${r.name}`);
  if (!p) return ratio(r.txn_per_s.median / ref.txn_per_s.median);
  return p.interval ? `${ratio(p.ratio)} (${p.interval.low.toFixed(2)}..${p.interval.high.toFixed(2)})` : ratio(p.ratio);
}

/** failures: the suite's failed runs when the results are one interleaved suite (paired ratios); undefined for merged files. */
function echoTables(rs: EchoResult[], reference: string | undefined, failures?: Failure[]): Table[] {
  const w = (r: EchoResult): string => `${r.workload.conns}x${r.workload.txns}x${r.workload.size}`;
  const tables: Table[] = [
    {
      title: 'Throughput',
      head: ['config', 'workload', 'txn/s', 'min', 'max', 'spread', 'wall ms', 'transactions', 'mismatches', 'runs'],
      rows: rs.map((r) => [
        r.name,
        w(r),
        num(r.txn_per_s.median),
        num(r.txn_per_s.min),
        num(r.txn_per_s.max),
        pct(r.txn_per_s.spread),
        stat(r.wall_us, 1 / 1000),
        num(r.transactions.median),
        String(r.mismatches),
        r.failed_runs > 0 ? `${r.runs} (+${r.failed_runs} failed)` : String(r.runs),
      ]),
    },
    {
      title: 'CPU (user/sys in ms, per transaction in us)',
      head: ['config', 'server user', 'server sys', 'server us/txn', 'client user', 'client sys', 'client us/txn', 'server peak CPU%'],
      rows: rs.map((r) => [
        r.name,
        stat(r.server_rusage.utime_us, 1 / 1000),
        stat(r.server_rusage.stime_us, 1 / 1000),
        stat(r.server_cpu_us_per_txn),
        stat(r.client_rusage.utime_us, 1 / 1000),
        stat(r.client_rusage.stime_us, 1 / 1000),
        stat(r.client_cpu_us_per_txn),
        stat(r.server_peak_cpu_percent),
      ]),
    },
    {
      title: 'Memory and scheduling',
      head: ['config', 'server maxrss KiB', 'server peak RSS KiB', 'server nvcsw', 'server nivcsw', 'server read/write blocks', 'client nvcsw', 'client nivcsw', 'client read/write blocks'],
      rows: rs.map((r) => [
        r.name,
        stat(r.server_rusage.maxrss_kib),
        stat(r.server_peak_rss_kib),
        stat(r.server_rusage.nvcsw),
        stat(r.server_rusage.nivcsw),
        blocks(r.server_rusage),
        stat(r.client_rusage.nvcsw),
        stat(r.client_rusage.nivcsw),
        blocks(r.client_rusage),
      ]),
      ...(blocksNote(rs) ? { note: blocksNote(rs) } : {}),
    },
    {
      title: 'Latency per transaction (us, client side)',
      head: ['config', 'p50', 'p90', 'p99', 'p99.9', 'max'],
      rows: rs.map((r) => [
        r.name,
        stat(r.latency_us.p50),
        stat(r.latency_us.p90),
        stat(r.latency_us.p99),
        stat(r.latency_us.p999),
        stat(r.latency_us.max),
      ]),
    },
  ];
  const open = rs.filter((r) => r.open_loop);
  if (open.length > 0) {
    tables.push({
      title: 'Open loop (--rate): latency from the due time beside the service time from the send (us)',
      head: ['config', 'offered/s', 'achieved/s', 'p50 / service', 'p99 / service', 'p99.9 / service', 'lag p99 / max', 'client hiccups p99 / max', 'kept schedule'],
      rows: open.map((r) => {
        const o = r.open_loop as NonNullable<EchoResult['open_loop']>;
        return [
          r.name,
          num(o.offered_per_s),
          stat(o.achieved_per_s),
          `${stat(r.latency_us.p50)} / ${stat(o.service_us.p50)}`,
          `${stat(r.latency_us.p99)} / ${stat(o.service_us.p99)}`,
          `${stat(r.latency_us.p999)} / ${stat(o.service_us.p999)}`,
          `${stat(o.lag_p99_us)} / ${stat(o.lag_max_us)}`,
          `${stat(o.client_hiccup_p99_us)} / ${stat(o.client_hiccup_max_us)}`,
          `${o.runs_kept_schedule} of ${r.runs} runs`,
        ];
      }),
      note: `Lag: send minus due time (any cause). Client hiccups: how late a 1 ms timer in the client woke (its own stalls: descheduled or busy); the client kept its schedule when their p99 stayed within ${open[0].open_loop?.kept_schedule_p99_us} us.`,
    });
  }
  const measured = rs.filter((r) => r.runs > 0);
  if (measured.length > 1) {
    const ref = measured.find((r) => r.name === reference) ?? measured[0];
    tables.push({
      title: failures ? `Comparison against ${ref.name} (txn/s: median of per-round ratios, 95% CI; others: ratios of medians)` : `Comparison (ratios of medians against ${ref.name})`,
      head: ['config', 'txn/s', 'server us/txn', 'client us/txn', 'p99 latency', 'server maxrss'],
      rows: measured.map((r) => [
        r.name,
        txnRatioCell(r, ref, failures),
        ratio(r.server_cpu_us_per_txn.median / ref.server_cpu_us_per_txn.median),
        ratio(r.client_cpu_us_per_txn.median / ref.client_cpu_us_per_txn.median),
        ratio(r.latency_us.p99.median / ref.latency_us.p99.median),
        ratio(r.server_rusage.maxrss_kib.median / ref.server_rusage.maxrss_kib.median),
      ]),
      note: 'txn/s above 1x is faster than the reference; the other columns above 1x cost more.',
    });
  }
  return tables;
}

function switchTable(rs: SwitchResult[]): Table {
  return {
    title: 'Context switch (ns per switch; bound = register switch + memcpy of the bytes copied, same run)',
    head: ['depth bytes', 'coros', 'ns/switch', 'bytes copied/switch', 'reg switch ns', 'memcpy ns', 'bound ns', 'ratio to bound', 'runs'],
    rows: rs.map((r) => [
      num(r.depth_bytes),
      String(r.coroutines),
      stat(r.ns_per_switch),
      stat(r.bytes_copied_per_switch),
      stat(r.regswitch_ns),
      stat(r.memcpy_ns),
      stat(r.bound_ns),
      r.runs > 0 ? ratio(r.ratio_to_bound.median) : '-',
      r.failed_runs > 0 ? `${r.runs} (+${r.failed_runs} failed)` : String(r.runs),
    ]),
  };
}

function idleTable(rs: IdleResult[]): Table {
  return {
    title: 'Idle connections (server RSS)',
    head: ['config', 'conns', 'idle s', 'RSS before KiB', 'RSS idle KiB', 'bytes/idle conn', 'runs'],
    rows: rs.map((r) => [
      r.name,
      num(r.workload.conns),
      String(r.idle_s),
      stat(r.rss_before_kib),
      stat(r.rss_after_kib),
      stat(r.bytes_per_idle_conn),
      r.failed_runs > 0 ? `${r.runs} (+${r.failed_runs} failed)` : String(r.runs),
    ]),
  };
}

function smtpTable(rs: SmtpResult[]): Table {
  return {
    title: 'SMTP',
    head: ['config', 'conns', 'msgs/conn', 'bytes', 'msg/s', 'errors', 'runs'],
    rows: rs.map((r) => [
      r.name,
      num(r.workload.conns),
      num(r.workload.txns),
      num(r.workload.size),
      stat(r.msg_per_s),
      String(r.errors),
      r.failed_runs > 0 ? `${r.runs} (+${r.failed_runs} failed)` : String(r.runs),
    ]),
  };
}

function soakTables(rs: SoakResult[]): Table[] {
  return [
    {
      title: 'Soak',
      head: ['config', 'conns', 'seconds', 'opened', 'verified echoes', 'mismatches', 'errors', 'RSS KiB warm -> end', 'RSS slope KiB/min', 'fds rest / max / after', 'server CPU s', 'checks'],
      rows: rs.map((r) => [
        r.name,
        num(r.workload.conns),
        String(r.duration_s),
        num(r.connections_opened),
        num(r.transactions),
        String(r.mismatches),
        String(r.errors),
        `${num(r.rss_warm_kib)} -> ${num(r.rss_end_kib)} (${r.rss_growth_kib >= 0 ? '+' : ''}${num(r.rss_growth_kib)}, bound +${num(r.rss_slack_kib)})`,
        String(r.rss_slope_kib_per_min),
        `${num(r.fds_before)} / ${num(r.fds.max)} / ${num(r.fds_after)}`,
        num(r.server_cpu_s),
        r.checks.every((c) => c.ok) ? 'all passed' : `${r.checks.filter((c) => !c.ok).length} FAILED`,
      ]),
    },
    {
      title: 'Soak load (counts over the run)',
      head: ['config', 'idle / silent / slow / abusive / normal conns', 'idle pings', 'slow lines', 'echo_client runs', 'their transactions', 'abusive actions'],
      rows: rs.map((r) => [
        r.name,
        `${num(r.mix.idle)} / ${num(r.mix.silent)} / ${num(r.mix.slow)} / ${num(r.mix.abusive)} / ${num(r.mix.normalLoops * r.mix.normalConns)}`,
        num(r.idle_pings),
        num(r.slow_lines),
        num(r.normal_runs),
        num(r.normal_transactions),
        Object.entries(r.abuses)
          .map(([k, v]) => `${k} ${num(v)}`)
          .join('\n'),
      ]),
    },
    {
      title: 'Soak checks',
      head: ['config', 'check', 'result', 'detail'],
      rows: rs.flatMap((r) => r.checks.map((c) => [r.name, c.check, c.ok ? 'ok' : 'FAILED', c.detail])),
    },
  ];
}

/** `coro-bench scale`: one row per configuration and number of workers. */
function scaleTable(rows: ScaleRow[]): Table {
  return {
    title: 'Scaling (medians; efficiency = txn/s at N / (N x txn/s at 1 worker))',
    head: ['config', 'workers', 'clients', 'server CPUs', 'client CPUs', 'txn/s', 'server us/txn', 'efficiency'],
    rows: rows.map((r) => [
      r.config,
      String(r.workers),
      String(r.clients),
      r.server_cpus,
      r.client_cpus,
      r.txn_per_s === null ? '-' : num(r.txn_per_s),
      r.server_cpu_us_per_txn === null ? '-' : num(r.server_cpu_us_per_txn),
      r.efficiency === null ? '-' : `${Math.round(r.efficiency * 100)} %`,
    ]),
    note: 'A row with "-" had no successful run (see "Failed runs").',
  };
}

export function docTables(doc: ResultsDoc, reference?: string): Table[] {
  const tables: Table[] = [];
  if (doc.scale) tables.push(scaleTable(doc.scale));
  const echo = doc.results.filter((r): r is EchoResult => r.type === 'echo');
  const sw = doc.results.filter((r): r is SwitchResult => r.type === 'switch');
  const idle = doc.results.filter((r): r is IdleResult => r.type === 'idle');
  const smtp = doc.results.filter((r): r is SmtpResult => r.type === 'smtp');
  const soak = doc.results.filter((r): r is SoakResult => r.type === 'soak');
  const latency = doc.results.filter((r): r is LatencyCurveResult => r.type === 'latency');
  const skipped = doc.results.filter((r) => r.type === 'skipped');
  // Echo results of different workloads are compared only within a workload.
  const byWorkload = new Map<string, EchoResult[]>();
  for (const r of echo) {
    const k = `${r.workload.conns}x${r.workload.txns}x${r.workload.size}`;
    byWorkload.set(k, [...(byWorkload.get(k) ?? []), r]);
  }
  for (const [k, rs] of byWorkload) {
    // Merged files (report a.json b.json) were not interleaved: no pairs.
    for (const t of echoTables(rs, reference, doc.sources ? undefined : doc.failures)) {
      tables.push(byWorkload.size > 1 ? { ...t, title: `${t.title} - ${k}` } : t);
    }
  }
  const hosts = clientHostsTable(echo);
  if (hosts) tables.push(hosts);
  if (sw.length) tables.push(switchTable(sw));
  if (idle.length) tables.push(idleTable(idle));
  if (smtp.length) tables.push(smtpTable(smtp));
  if (soak.length) tables.push(...soakTables(soak));
  if (latency.length) tables.push(...latencyTables(latency));
  if (skipped.length) {
    tables.push({ title: 'Skipped', head: ['workload', 'reason'], rows: skipped.map((r) => [r.name, r.type === 'skipped' ? r.reason : '']) });
  }
  if (doc.failures.length) {
    tables.push({
      title: 'Failed runs',
      head: ['config', 'run', 'error', 'last stderr lines'],
      rows: doc.failures.map((f) => [f.config, f.warmup ? 'warmup' : String(f.run), f.error, f.stderr_tail.slice(-5).join('\n')]),
    });
  }
  return tables;
}

function where(command: string, profile: string | undefined, e: Environment): string {
  return (
    `${command}${profile ? ` ${profile}` : ''} on ${e.host} (${e.cpu_model}, ${e.cpus} CPUs, ${e.os}), ` +
    `${e.date}, node ${e.node}, coro ${e.coro_version ?? 'n/a'} ${e.coro_arch ?? ''} [${e.build_flags ?? 'n/a'}], ${e.pinning}`
  );
}

/** Provenance: when, where and with what each part was measured. */
export function provenance(doc: ResultsDoc): string {
  const partial = doc.partial ? ' - PARTIAL (interrupted)' : '';
  if (doc.sources && doc.sources.length > 0) {
    return doc.sources.map((s) => `${s.file}: ${where(s.command, s.profile, s.environment)}`).join('\n') + partial;
  }
  return `Measured: ${where(doc.command, doc.profile, doc.environment)}${partial}`;
}
