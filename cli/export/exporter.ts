// One interface for every export format; atomic writes so an export file is
// either the whole new content or untouched.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { ResultsDoc } from '../results/types.js';
import { csvExporter } from './csv.js';
import { htmlExporter } from './html.js';
import { jsonExporter } from './json.js';
import { markdownExporter } from './markdown.js';

export interface Exporter {
  /** Format name, e.g. "json". */
  name: string;
  /** File extensions (with the dot) that select this format. */
  extensions: string[];
  serialize(doc: ResultsDoc): string;
}

export const EXPORTERS: Exporter[] = [jsonExporter, markdownExporter, csvExporter, htmlExporter];

export function exporterFor(file: string): Exporter {
  const ext = extname(file).toLowerCase();
  const e = EXPORTERS.find((x) => x.extensions.includes(ext));
  if (!e) {
    const valid = EXPORTERS.flatMap((x) => x.extensions).join(', ');
    throw new UsageError(`cannot export to "${file}": unknown extension "${ext || '(none)'}" (valid: ${valid})`);
  }
  return e;
}

/** Writes to a temporary file beside `file`, then renames it into place. */
export function writeAtomic(file: string, content: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing was written.
    }
    throw err;
  }
}

export function exportDoc(doc: ResultsDoc, file: string): void {
  writeAtomic(file, exporterFor(file).serialize(doc));
}
