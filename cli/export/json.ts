// The JSON export: the results document itself (see docs/json.md).
import type { ResultsDoc } from '../results/types.js';
import type { Exporter } from './exporter.js';

/** JSON has no Infinity/NaN: they become null. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

export const jsonExporter: Exporter = {
  name: 'json',
  extensions: ['.json'],
  serialize(doc: ResultsDoc): string {
    return `${JSON.stringify(doc, replacer, 2)}\n`;
  },
};
