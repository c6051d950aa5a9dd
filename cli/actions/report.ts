// `coro-bench report`: saved results back as tables, HTML or another format.
import type { IO } from '../commands/io.js';
import type { ReportOptions } from '../commands/report.js';
import { exportDoc } from '../export/exporter.js';
import { htmlExporter } from '../export/html.js';
import { writeAtomic } from '../export/exporter.js';
import { jsonExporter } from '../export/json.js';
import { renderDoc } from '../render/terminal.js';
import { loadDoc, mergeDocs } from '../results/load.js';

export async function reportAction(o: ReportOptions, io: IO): Promise<number> {
  const doc = mergeDocs(o.files, o.files.map(loadDoc));
  if (o.json) io.out(jsonExporter.serialize(doc));
  else if (!o.html || io.stdoutIsTTY) io.out(renderDoc(doc, { colour: io.stdoutIsTTY && process.env.NO_COLOR === undefined, reference: o.reference }));
  if (o.html) {
    writeAtomic(o.html, htmlExporter.serialize(doc));
    io.err(`wrote ${o.html}\n`);
  }
  if (o.export) {
    exportDoc(doc, o.export);
    io.err(`wrote ${o.export}\n`);
  }
  return 0;
}
