// `coro-bench soak`: runs the soak suite and reports.
import type { IO } from '../commands/io.js';
import type { SoakOptions } from '../commands/soak.js';
import { resolveBackends } from '../engine/configs.js';
import { requireEchoPrograms, requirePortFree } from '../engine/preflight.js';
import { defaultWarmupS, runSoakSuite, soakFileLimit } from '../engine/soak.js';
import { createProgress } from '../measure/progress.js';
import { makeDoc } from '../results/doc.js';
import type { ResultsDoc } from '../results/types.js';
import { installReaper } from '../workload/process.js';
import { emitDoc, savePartialOnInterrupt } from './output.js';

export async function soakAction(o: SoakOptions, io: IO): Promise<number> {
  const backends = resolveBackends(o.backends);
  requireEchoPrograms(backends.map((backend) => ({ server: 'coro', backend, tls: false })));
  await requirePortFree(o.port);
  const fileLimit = soakFileLimit(o.conns);
  installReaper();
  const warmupS = o.warmupS ?? defaultWarmupS(o.durationS);
  const started = new Date();
  const parameters = { duration_s: o.durationS, conns: o.conns, backends, warmup_s: warmupS, rss_slack_kib: o.rssSlackKib, port: o.port };
  let latest: ResultsDoc | undefined;
  savePartialOnInterrupt(o, io, () => latest);
  const out = await runSoakSuite(
    { backends, conns: o.conns, durationS: o.durationS, warmupS, rssSlackKib: o.rssSlackKib, port: o.port, fileLimit },
    createProgress(true),
  );
  const doc = makeDoc({ command: 'soak', parameters, pinning: 'not pinned', started, ...out });
  latest = doc;
  return emitDoc(doc, o, io);
}
