// `coro-bench switch`: runs the switch suite over FFI and reports.
import type { IO } from '../commands/io.js';
import type { SwitchOptions } from '../commands/switch.js';
import { runSwitchSuite } from '../engine/switch.js';
import { createProgress } from '../measure/progress.js';
import { ensureRuntime } from '../native/coro.js';
import { makeDoc } from '../results/doc.js';
import { pinSelf } from '../workload/launch.js';
import type { ResultsDoc } from '../results/types.js';
import { emitDoc, savePartialOnInterrupt } from './output.js';

export async function switchAction(o: SwitchOptions, io: IO): Promise<number> {
  ensureRuntime();
  const pinning = pinSelf(o.pin, o.noPin);
  const started = new Date();
  const parameters = { coroutines: o.coroutines, depths: o.depths, iterations: o.iterations, runs: o.runs, warmup: o.warmup };
  let latest: ResultsDoc | undefined;
  savePartialOnInterrupt(o, io, () => latest);
  const progress = createProgress(true);
  const out = await runSwitchSuite(o, progress, (p) => {
    latest = makeDoc({ command: 'switch', parameters, pinning, started, ...p, partial: true });
  });
  const doc = makeDoc({ command: 'switch', parameters, pinning, started, ...out });
  return emitDoc(doc, o, io);
}
