// Reads saved results documents (the JSON export) back, and merges several
// into one for side-by-side tables.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { UsageError } from '../errors.js';
import { SCHEMA, type ResultsDoc } from './types.js';

export function loadDoc(file: string): ResultsDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON (report reads files saved with --export FILE.json or --json)`);
  }
  const d = doc as Partial<ResultsDoc>;
  if (typeof d !== 'object' || d === null || d.schema !== SCHEMA || !Array.isArray(d.results) || typeof d.environment !== 'object') {
    throw new UsageError(`${file} is not a coro-bench results file (want "schema": "${SCHEMA}")`);
  }
  d.failures ??= [];
  d.warnings ??= [];
  return d as ResultsDoc;
}

/** One document; with several, result names get a "label: " prefix from each file name. */
export function mergeDocs(files: string[], docs: ResultsDoc[]): ResultsDoc {
  if (docs.length === 1) return docs[0];
  const labels = files.map((f) => basename(f, extname(f)));
  const unique = labels.map((l, i) => (labels.indexOf(l) !== i || labels.lastIndexOf(l) !== i ? `${l}#${i + 1}` : l));
  return {
    schema: SCHEMA,
    command: 'report',
    parameters: { files },
    environment: docs[0].environment,
    results: docs.flatMap((d, i) => d.results.map((r) => ({ ...r, name: `${unique[i]}: ${r.name}` }))),
    failures: docs.flatMap((d, i) => d.failures.map((f) => ({ ...f, config: `${unique[i]}: ${f.config}` }))),
    warnings: docs.flatMap((d, i) => d.warnings.map((w) => `${unique[i]}: ${w}`)),
    sources: docs.map((d, i) => ({ file: files[i], command: d.command, profile: d.profile, environment: d.environment })),
  };
}
