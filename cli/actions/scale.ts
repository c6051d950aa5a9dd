// `coro-bench scale`: plans where every point runs, measures, and reports
// the scaling table (and chart, in an HTML export).
import { availableParallelism } from 'node:os';
import type { IO } from '../commands/io.js';
import type { ScaleOptions } from '../commands/scale.js';
import { customConfigs, readyPattern, requireUniqueNames, resolveConfigs } from '../engine/configs.js';
import { fileLimitFor, requireEchoPrograms, requirePortFree } from '../engine/preflight.js';
import { planPoints, powersUpTo, runScaleSuite, type ScaleOutput } from '../engine/scale.js';
import { createProgress } from '../measure/progress.js';
import { makeDoc } from '../results/doc.js';
import type { ResultsDoc } from '../results/types.js';
import { UsageError } from '../errors.js';
import { checkCpus, formatCpus, resolvePinning } from '../workload/launch.js';
import { goUnavailable } from '../workload/go-peer.js';
import { installReaper } from '../workload/process.js';
import { configName } from '../workload/servers.js';
import { emitDoc, savePartialOnInterrupt } from './output.js';

export async function scaleAction(o: ScaleOptions, io: IO): Promise<number> {
  // The Go peer is built on demand; without a toolchain it is left out with the reason (one warning line).
  const skippedGo = o.servers.includes('go') ? await goUnavailable() : undefined;
  const servers = skippedGo ? o.servers.filter((s) => s !== 'go') : o.servers;
  const configs = [...(servers.length ? resolveConfigs(servers, o.backends, false) : []), ...customConfigs(o.serverCmds, [], readyPattern(o.ready))];
  if (configs.length === 0) throw new UsageError(`nothing to scale: go ${skippedGo}`);
  requireUniqueNames(configs);
  requireEchoPrograms(configs);
  await requirePortFree(o.port);
  const cpus = availableParallelism();
  if (o.serverCpus) checkCpus('--server-cpus', o.serverCpus);
  if (o.clientCpus) checkCpus('--client-cpus', o.clientCpus);
  // Validates pinning (taskset present when CPUs are named) the way echo does.
  const pinned = Object.keys(resolvePinning(undefined, o.noPin, { server: o.serverCpus, clients: o.clientCpus })).length > 0;
  const serverCpus = o.serverCpus ?? [...Array(Math.min(cpus, Math.max(2, Math.floor(cpus / 2)))).keys()];
  const workerCounts = o.workers ?? powersUpTo(serverCpus.length);
  const maxClients = Math.max(...workerCounts.map((w) => o.clients ?? w));
  if (maxClients > o.conns) {
    throw new UsageError(`${maxClients} client processes (one per worker) for ${o.conns} connection(s): give more --conns or a smaller --clients`);
  }
  const planned = planPoints(workerCounts, serverCpus, o.clientCpus, cpus, o.clients, o.conns, pinned);
  const points = planned.points;
  const warnings = [...(skippedGo ? [`go left out: ${skippedGo}`] : []), ...planned.warnings];
  const fileLimit = fileLimitFor(o.conns);
  const workload = { conns: o.conns, txns: o.txns, size: o.size };
  installReaper();

  const started = new Date();
  const pinningText = pinned ? `server workers on CPUs ${formatCpus(serverCpus)} in order, clients on the others` : 'not pinned';
  const parameters = { ...workload, servers: configs.map(configName), workers: workerCounts, server_cpus: pinned ? formatCpus(serverCpus) : null, clients: o.clients ?? 'workers', runs: o.runs, warmup: o.warmup };
  const docOf = (out: ScaleOutput, partial = false): ResultsDoc => ({
    ...makeDoc({ command: 'scale', parameters, pinning: pinningText, started, results: out.results, failures: out.failures, warnings: [...warnings, ...out.warnings], partial }),
    scale: out.rows,
  });
  let latest: ResultsDoc | undefined;
  savePartialOnInterrupt(o, io, () => latest);
  const progress = createProgress(true);
  progress.note(`scale ${o.conns}x${o.txns}x${o.size}: ${configs.map(configName).join(', ')} at ${workerCounts.join(', ')} worker(s); ${o.warmup} warmup + ${o.runs} run(s) each; ${pinningText}`);
  for (const w of warnings) progress.note(`warning: ${w}`);
  const out = await runScaleSuite(
    { configs, points, workload, runs: o.runs, warmup: o.warmup, port: o.port, timeoutMs: o.timeoutS * 1000, fileLimit },
    progress,
    (p) => {
      latest = docOf(p, true);
    },
  );
  const doc = docOf(out);
  latest = doc;
  return emitDoc(doc, o, io);
}
