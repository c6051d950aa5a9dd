// Assembles a results document.
import { environment } from './environment.js';
import { SCHEMA, type Failure, type Result, type ResultsDoc } from './types.js';

export function makeDoc(p: {
  command: string;
  profile?: string;
  parameters: Record<string, unknown>;
  pinning: string;
  started: Date;
  results: Result[];
  failures: Failure[];
  warnings: string[];
  partial?: boolean;
}): ResultsDoc {
  const doc: ResultsDoc = {
    schema: SCHEMA,
    command: p.command,
    parameters: p.parameters,
    environment: environment(p.pinning, p.started),
    results: p.results,
    failures: p.failures,
    warnings: p.warnings,
  };
  if (p.profile) doc.profile = p.profile;
  if (p.partial) doc.partial = true;
  return doc;
}
