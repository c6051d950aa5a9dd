// Terminal rendering of the table model with cli-table3. Colours only when
// stdout is a TTY and NO_COLOR is not set.
import Table from 'cli-table3';
import type { ResultsDoc } from '../results/types.js';
import { docTables, provenance, type Table as TableModel } from './model.js';

export function useColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== undefined);
}

function bold(s: string, colour: boolean): string {
  return colour ? `\x1b[1m${s}\x1b[0m` : s;
}

function yellow(s: string, colour: boolean): string {
  return colour ? `\x1b[33m${s}\x1b[0m` : s;
}

export function renderTable(t: TableModel, colour: boolean): string {
  const table = new Table({
    head: t.head,
    style: { head: colour ? ['cyan'] : [], border: colour ? ['grey'] : [] },
  });
  for (const r of t.rows) table.push(r);
  return `${bold(t.title, colour)}\n${table.toString()}${t.note ? `\n${t.note}` : ''}\n`;
}

export function renderDoc(doc: ResultsDoc, opts: { colour: boolean; reference?: string }): string {
  const parts = docTables(doc, opts.reference).map((t) => renderTable(t, opts.colour));
  if (doc.warnings.length) {
    parts.push(`${yellow('Warnings', opts.colour)}\n${doc.warnings.map((w) => `  - ${w}`).join('\n')}\n`);
  }
  parts.push(`${provenance(doc)}\n`);
  return parts.join('\n');
}
