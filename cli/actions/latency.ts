// `coro-bench latency`: runs the latency curves and reports them.
import type { IO } from '../commands/io.js';
import type { LatencyOptions } from '../commands/latency.js';
import { checkTargets, customConfigs, pinningWithTargets, readyPattern, requireUniqueNames, resolveConfigs } from '../engine/configs.js';
import { runLatencyCurves } from '../engine/latency.js';
import { fileLimitFor, requireEchoPrograms, requirePortFree } from '../engine/preflight.js';
import { createProgress } from '../measure/progress.js';
import { makeDoc } from '../results/doc.js';
import type { ResultsDoc } from '../results/types.js';
import { clientCpuWarning, describePinning, resolvePinning } from '../workload/launch.js';
import { installReaper } from '../workload/process.js';
import { configName } from '../workload/servers.js';
import { emitDoc, savePartialOnInterrupt } from './output.js';

export async function latencyAction(o: LatencyOptions, io: IO): Promise<number> {
  const e = o.echo;
  const configs = [...(e.servers.length ? resolveConfigs(e.servers, e.backends, false) : []), ...customConfigs(e.serverCmds, e.targets, readyPattern(e.ready))];
  requireUniqueNames(configs);
  requireEchoPrograms(configs);
  await requirePortFree(e.port);
  await checkTargets(configs);
  const pinning = resolvePinning(e.pin, e.noPin, { clients: e.clientCpus });
  installReaper();

  const started = new Date();
  const parameters = {
    conns: e.conns,
    size: e.size,
    servers: e.servers,
    backends: configs.filter((c) => c.server === 'coro').map((c) => c.backend),
    ...(o.fractions ? { fractions: o.fractions, max_runs: o.maxRuns, max_txns: o.maxTxns } : { rates: o.rates }),
    duration_s: o.durationS,
    spectrum: o.spectrum,
    port: e.port,
    ...(e.clients > 1 ? { clients: e.clients } : {}),
  };
  let latest: ResultsDoc | undefined;
  savePartialOnInterrupt(e, io, () => latest);
  const docOf = (out: { results: ResultsDoc['results']; failures: ResultsDoc['failures']; warnings: string[] }, partial = false): ResultsDoc =>
    makeDoc({ command: 'latency', parameters, pinning: pinningWithTargets(describePinning(pinning, e.clients), configs), started, ...out, partial });

  const progress = createProgress(true);
  const levels = o.fractions ? `${o.fractions.map((f) => `${+(f * 100).toFixed(3)}`).join(',')} % of the closed-loop maximum` : `${o.rates?.join(',')} txn/s`;
  progress.note(`latency ${e.conns} conns x ${e.size} B, ${o.durationS} s per point at ${levels}: ${configs.map(configName).join(', ')}; ${pinningWithTargets(describePinning(pinning, e.clients), configs)}`);
  const shared = clientCpuWarning(pinning, e.clients);
  if (shared) progress.note(`warning: ${shared}`);
  const out = await runLatencyCurves(
    {
      configs,
      conns: e.conns,
      size: e.size,
      fractions: o.fractions,
      rates: o.rates,
      durationS: o.durationS,
      maxRuns: o.maxRuns,
      maxTxns: o.maxTxns,
      port: e.port,
      pinning,
      timeoutMs: e.timeoutS * 1000,
      fileLimit: fileLimitFor(e.conns),
      clients: e.clients,
    },
    progress,
    (p) => {
      latest = docOf(p, true);
    },
  );
  const doc = docOf(out);
  latest = doc;
  return emitDoc(doc, e, io);
}
