// The Markdown export: the same tables as the terminal, as GitHub tables.
import { docTables, provenance } from '../render/model.js';
import type { ResultsDoc } from '../results/types.js';
import type { Exporter } from './exporter.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, '<br>');
}

export const markdownExporter: Exporter = {
  name: 'markdown',
  extensions: ['.md', '.markdown'],
  serialize(doc: ResultsDoc): string {
    const out: string[] = [`# coro-bench ${doc.command}${doc.profile ? ` ${doc.profile}` : ''}`, '', provenance(doc), ''];
    for (const t of docTables(doc)) {
      out.push(`## ${t.title}`, '');
      out.push(`| ${t.head.map(cell).join(' | ')} |`);
      out.push(`|${t.head.map(() => ' --- ').join('|')}|`);
      for (const r of t.rows) out.push(`| ${r.map(cell).join(' | ')} |`);
      if (t.note) out.push('', t.note);
      out.push('');
    }
    if (doc.warnings.length) {
      out.push('## Warnings', '', ...doc.warnings.map((w) => `- ${w}`), '');
    }
    return out.join('\n');
  },
};
