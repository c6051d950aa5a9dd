// `coro-bench compare`: the same echo workload on every configuration
// (interleaved by the echo engine), ratios against a reference with their
// intervals, and the switch microbenchmark against its bound.
import type { CompareOptions } from '../commands/compare.js';
import { DEFAULT_REFERENCE } from '../commands/compare.js';
import type { IO } from '../commands/io.js';
import { comparisonRows, type ComparisonRow } from '../compare/ratios.js';
import { comparisonTable } from '../compare/table.js';
import { checkTargets, customConfigs, pinningWithTargets, readyPattern, requireUniqueNames, resolveConfigs } from '../engine/configs.js';
import { runEchoSuite } from '../engine/echo.js';
import { fileLimitFor, requirePortFree } from '../engine/preflight.js';
import { mergeOutputs, type SuiteOutput } from '../engine/suite.js';
import { runSwitchSuite } from '../engine/switch.js';
import { NativeMissingError, UsageError } from '../errors.js';
import { exportDoc } from '../export/exporter.js';
import { jsonExporter } from '../export/json.js';
import { createProgress } from '../measure/progress.js';
import { ensureRuntime, tlsLibraryOf } from '../native/coro.js';
import { buildLabel, paths } from '../paths.js';
import { loadProfile } from '../profiles/profile.js';
import { docTables, provenance } from '../render/model.js';
import { renderTable } from '../render/terminal.js';
import { makeDoc } from '../results/doc.js';
import type { EchoResult, ResultsDoc, Workload } from '../results/types.js';
import { describePinning, resolvePinning } from '../workload/launch.js';
import { installReaper, setInterruptHook } from '../workload/process.js';
import { configName, requireProgram, serverProgram, type ServerConfig } from '../workload/servers.js';
import { goUnavailable } from '../workload/go-peer.js';

interface EchoPlan {
  workload: Workload;
  runs: number;
  warmup: number;
  timeoutS: number;
}

interface SwitchPlan {
  coroutines: number;
  depths: number[];
  iterations: number;
  runs: number;
  warmup: number;
}

function plans(o: CompareOptions): { echo: EchoPlan[]; sw: SwitchPlan[] } {
  if (!o.profile) {
    const e = o.echo;
    return {
      echo: [{ workload: { conns: e.conns, txns: e.txns, size: e.size }, runs: e.runs, warmup: e.warmup, timeoutS: e.timeoutS }],
      sw: o.depths.length ? [{ coroutines: 2, depths: o.depths, iterations: o.iterations, runs: e.runs, warmup: e.warmup }] : [],
    };
  }
  const p = loadProfile(o.profile);
  const echo: EchoPlan[] = [];
  const sw: SwitchPlan[] = [];
  for (const w of p.workloads) {
    if (w.kind === 'echo' && !w.tls) echo.push({ workload: { conns: w.conns, txns: w.txns, size: w.size }, runs: w.runs, warmup: w.warmup, timeoutS: w.timeout_s });
    if (w.kind === 'switch') sw.push({ coroutines: w.coroutines, depths: w.depths, iterations: w.iterations, runs: w.runs, warmup: w.warmup });
  }
  if (echo.length === 0 && sw.length === 0) throw new UsageError(`profile ${o.profile} has no clear-text echo or switch workload to compare`);
  return { echo, sw };
}

const sameWorkload = (a: Workload, b: Workload): boolean => a.conns === b.conns && a.txns === b.txns && a.size === b.size;

function skipped(name: string, reason: string): SuiteOutput {
  return { results: [{ type: 'skipped', name, reason }], failures: [], warnings: [] };
}

/** Why the Go peer cannot run here, or undefined once it is built. */
export async function compareAction(o: CompareOptions, io: IO): Promise<number> {
  const { echo: echoPlans, sw: switchPlans } = plans(o);
  const all = echoPlans.length ? resolveConfigs(o.echo.servers, o.echo.backends, o.echo.tls, o.echo.builds) : [];
  // A server that is not built is skipped with the reason; the others still run.
  const configs: ServerConfig[] = [];
  const pre: SuiteOutput[] = [];
  for (const c of all) {
    if (c.server === 'go') {
      const why = await goUnavailable();
      if (why) {
        pre.push(skipped(configName(c), why));
        continue;
      }
    }
    try {
      const program = serverProgram(c);
      if (program) requireProgram(program, `${configName(c)} server`);
      configs.push(c);
    } catch (err) {
      if (!(err instanceof NativeMissingError)) throw err;
      pre.push(skipped(configName(c), err.message));
    }
  }
  // Servers the suite did not write join the built-in ones (targets checked before any run).
  if (echoPlans.length) {
    const custom = customConfigs(o.echo.serverCmds, o.echo.targets, readyPattern(o.echo.ready));
    await checkTargets(custom);
    configs.push(...custom);
    requireUniqueNames(configs);
  }
  if (echoPlans.length) requireProgram(paths.echoClient, 'echo_client');
  if (switchPlans.length) ensureRuntime();
  const names = configs.map(configName);
  const explicitRef = o.echo.reference !== DEFAULT_REFERENCE;
  if (explicitRef && configs.length && !names.includes(o.echo.reference as string)) {
    throw new UsageError(`--reference "${o.echo.reference}" is not one of the configurations (${names.join(', ')})`);
  }
  const reference = names.includes(o.echo.reference as string) ? (o.echo.reference as string) : names[0];
  await requirePortFree(o.echo.port);
  const pinning = resolvePinning(o.echo.pin, o.echo.noPin, { clients: o.echo.clientCpus });
  installReaper();

  const started = new Date();
  // Which TLS library each --build folder has, in the results and on stderr.
  const builds = o.echo.builds.map((dir) => ({ build: buildLabel(dir), dir, tls_library: tlsLibraryOf(dir) }));
  for (const b of builds) io.err(`${b.build}: ${b.tls_library} (${b.dir})\n`);
  const parameters = { profile: o.profile, echo: echoPlans, switch: switchPlans, servers: o.echo.servers, backends: o.echo.backends, tls: o.echo.tls, builds, reference, port: o.echo.port };
  const done: SuiteOutput[] = [...pre];
  const docOf = (outs: SuiteOutput[], partial = false): ResultsDoc =>
    makeDoc({ command: 'compare', profile: o.profile, parameters, pinning: pinningWithTargets(describePinning(pinning), configs), started, ...mergeOutputs(outs), partial });
  let latest: SuiteOutput[] = done;
  setInterruptHook(() => {
    if (!o.export) return;
    exportDoc(docOf(latest, true), o.export);
    io.err(`\nsaved partial results to ${o.export}\n`);
  });
  const progress = createProgress(true);
  for (const p of echoPlans) {
    if (configs.length === 0) break;
    const w = p.workload;
    progress.note(`compare ${w.conns}x${w.txns}x${w.size}: ${names.join(', ')} interleaved; ${p.warmup} warmup + ${p.runs} run(s) each; ${pinningWithTargets(describePinning(pinning), configs)}`);
    done.push(
      await runEchoSuite(
        { configs, workload: w, runs: p.runs, warmup: p.warmup, port: o.echo.port, pinning, timeoutMs: p.timeoutS * 1000, fileLimit: fileLimitFor(w.conns), clients: o.echo.clients },
        progress,
        (part) => {
          latest = [...done, part];
        },
      ),
    );
  }
  for (const s of switchPlans) {
    progress.note(`compare: switch at ${s.depths.join(', ')} B against the register-switch + memcpy bound`);
    done.push(await runSwitchSuite(s, progress));
  }
  latest = done;
  const doc = docOf(done);
  const echoResults = doc.results.filter((r): r is EchoResult => r.type === 'echo');
  const comparison: ComparisonRow[] = [];
  for (const p of echoPlans) comparison.push(...comparisonRows(echoResults.filter((r) => sameWorkload(r.workload, p.workload)), reference, doc.failures));
  const full = { ...doc, comparison };

  if (o.json) io.out(jsonExporter.serialize(full as ResultsDoc));
  else {
    const colour = io.stdoutIsTTY && process.env.NO_COLOR === undefined;
    const parts: string[] = [];
    for (const p of echoPlans) {
      const rows = comparison.filter((r) => sameWorkload(r.workload, p.workload));
      if (rows.length) parts.push(renderTable(comparisonTable(rows), colour));
    }
    // The switch table, skipped configurations and failed runs come from the shared model.
    const rest = { ...doc, results: doc.results.filter((r) => r.type !== 'echo') };
    parts.push(...docTables(rest).map((t) => renderTable(t, colour)));
    if (doc.warnings.length) parts.push(`Warnings\n${doc.warnings.map((x) => `  - ${x}`).join('\n')}\n`);
    parts.push(`${provenance(doc)}\n`);
    io.out(parts.join('\n'));
  }
  if (o.export) {
    exportDoc(full as ResultsDoc, o.export);
    io.err(`saved ${o.export}\n`);
  }
  const failed = doc.failures.filter((f) => !f.warmup).length;
  if (failed > 0) io.err(`${failed} measured run(s) failed; see "Failed runs"\n`);
  return failed > 0 ? 1 : 0;
}
