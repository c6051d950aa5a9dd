// `coro-bench echo`: runs the echo suite (or one raw coro++ run) and reports.
import type { EchoOptions } from '../commands/echo.js';
import type { IO } from '../commands/io.js';
import { checkTargets, customConfigs, pinningWithTargets, readyPattern, requireUniqueNames, resolveConfigs } from '../engine/configs.js';
import { runEchoSuite } from '../engine/echo.js';
import { fileLimitFor, requireEchoPrograms, requirePortFree } from '../engine/preflight.js';
import { UsageError } from '../errors.js';
import { createProgress } from '../measure/progress.js';
import { tlsLibraryOf } from '../native/coro.js';
import { buildLabel } from '../paths.js';
import { makeDoc } from '../results/doc.js';
import type { ResultsDoc } from '../results/types.js';
import { runEchoRaw } from '../workload/echo.js';
import { clientCpuWarning, defaultServerCpus, describePinning, resolvePinning, workerCpuWarning } from '../workload/launch.js';
import { installReaper } from '../workload/process.js';
import { configName } from '../workload/servers.js';
import { emitDoc, savePartialOnInterrupt } from './output.js';
import { remoteClients, remotePinning } from './hosts.js';

export async function echoAction(o: EchoOptions, io: IO): Promise<number> {
  const configs = [...(o.servers.length ? resolveConfigs(o.servers, o.backends, o.tls, o.builds) : []), ...customConfigs(o.serverCmds, o.targets, readyPattern(o.ready))].map((c) =>
    o.workers > 1 && c.server !== 'target' ? { ...c, workers: o.workers } : c,
  );
  requireUniqueNames(configs);
  if (o.reference && !configs.some((c) => configName(c) === o.reference)) {
    throw new UsageError(`--reference "${o.reference}" is not one of the configurations (${configs.map(configName).join(', ')})`);
  }
  requireEchoPrograms(configs);
  await requirePortFree(o.port);
  await checkTargets(configs);
  const fileLimit = fileLimitFor(o.conns);
  const pinning = resolvePinning(o.pin, o.noPin, {
    clients: o.clientCpus,
    server: o.serverCpus ?? (o.pin || o.noPin ? undefined : defaultServerCpus(o.workers)),
  });
  const workload = { conns: o.conns, txns: o.txns, size: o.size };
  installReaper();
  const remote = o.clientHosts ? await remoteClients(o) : undefined;

  if (o.raw) {
    if (configs.length !== 1) {
      throw new UsageError(`--raw runs one configuration, got ${configs.length} (${configs.map(configName).join(', ')}): pick one --server and --backend`);
    }
    const lines = await runEchoRaw({ config: configs[0], workload, port: o.port, pinning, timeoutMs: o.timeoutS * 1000, fileLimit });
    io.out(`${lines.join('\n')}\n`);
    return 0;
  }

  const started = new Date();
  // Which TLS library each --build folder has, in the results and on stderr.
  const builds = o.builds.map((dir) => ({ build: buildLabel(dir), dir, tls_library: tlsLibraryOf(dir) }));
  for (const b of builds) io.err(`${b.build}: ${b.tls_library} (${b.dir})\n`);
  const parameters = {
    ...workload,
    servers: o.servers,
    backends: configs.filter((c) => c.server === 'coro').map((c) => c.backend),
    tls: o.tls,
    ...(builds.length ? { builds } : {}),
    runs: o.runs,
    warmup: o.warmup,
    port: o.port,
    ...(o.clients > 1 ? { clients: o.clients } : {}),
    ...(o.bind ? { bind: o.bind } : {}),
    ...(remote ? { client_hosts: remote.hosts } : {}),
    ...(o.rate !== undefined ? { rate: o.rate } : {}),
    ...(o.workers > 1 ? { workers: o.workers } : {}),
  };
  const pinningText = pinningWithTargets(remote ? remotePinning(pinning, remote.hosts, o.clients) : describePinning(pinning, o.clients), configs);
  let latest: ResultsDoc | undefined;
  savePartialOnInterrupt(o, io, () => latest);
  const docOf = (out: { results: ResultsDoc['results']; failures: ResultsDoc['failures']; warnings: string[] }, partial = false): ResultsDoc =>
    makeDoc({ command: 'echo', parameters, pinning: pinningText, started, ...out, partial });

  const progress = createProgress(true);
  progress.note(`echo ${o.conns}x${o.txns}x${o.size}${o.rate !== undefined ? ` at ${o.rate} txn/s (open loop)` : ''}: ${configs.map(configName).join(', ')}; ${o.warmup} warmup + ${o.runs} run(s) each; ${pinningText}`);
  for (const w of [remote ? undefined : clientCpuWarning(pinning, o.clients), workerCpuWarning(pinning, o.workers)]) if (w) progress.note(`warning: ${w}`);
  const out = await runEchoSuite(
    { configs, workload, runs: o.runs, warmup: o.warmup, port: o.port, pinning, timeoutMs: o.timeoutS * 1000, fileLimit, clients: o.clients, bind: o.bind, remote, rate: o.rate },
    progress,
    (p) => {
      latest = docOf(p, true);
    },
  );
  const doc = docOf(out);
  latest = doc;
  return emitDoc(doc, o, io);
}
