// Shared ending of the measuring commands: print (tables or JSON), export,
// and the exit status (1 when any measured run failed, 0 otherwise).
import type { IO } from '../commands/io.js';
import { exportDoc } from '../export/exporter.js';
import { jsonExporter } from '../export/json.js';
import { renderDoc } from '../render/terminal.js';
import type { ResultsDoc } from '../results/types.js';
import { setInterruptHook } from '../workload/process.js';

export interface OutputOptions {
  json: boolean;
  export?: string;
  reference?: string;
}

export function emitDoc(doc: ResultsDoc, o: OutputOptions, io: IO): number {
  if (o.json) io.out(jsonExporter.serialize(doc));
  else io.out(renderDoc(doc, { colour: io.stdoutIsTTY && process.env.NO_COLOR === undefined, reference: o.reference }));
  if (o.export) {
    exportDoc(doc, o.export);
    io.err(`saved ${o.export}\n`);
  }
  const failedMeasured = doc.failures.filter((f) => !f.warmup).length;
  const measured = doc.results.some((r) => r.type !== 'skipped' && r.runs > 0);
  if (failedMeasured > 0) io.err(`${failedMeasured} measured run(s) failed; see "Failed runs"\n`);
  return failedMeasured > 0 || (!measured && doc.results.length > 0 && doc.results.every((r) => r.type !== 'skipped')) ? 1 : 0;
}

/** On Ctrl-C, save what finished so far to the export file (if any). */
export function savePartialOnInterrupt(o: OutputOptions, io: IO, latest: () => ResultsDoc | undefined): void {
  setInterruptHook(() => {
    const doc = latest();
    if (!doc || !o.export) return;
    try {
      exportDoc({ ...doc, partial: true }, o.export);
      io.err(`\nsaved partial results to ${o.export}\n`);
    } catch (err) {
      io.err(`\ncould not save partial results: ${(err as Error).message}\n`);
    }
  });
}
