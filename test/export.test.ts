// Each exporter against a golden file. Regenerate after an intended format
// change with: UPDATE_GOLDEN=1 npx tap test/export.test.ts
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { EXPORTERS, exportDoc, exporterFor } from '../cli/export/exporter.js';
import { UsageError } from '../cli/errors.js';
import { loadDoc, mergeDocs } from '../cli/results/load.js';
import { fixtureDoc } from './fixtures/doc.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const ext: Record<string, string> = { json: 'json', markdown: 'md', csv: 'csv', html: 'html' };

for (const e of EXPORTERS) {
  t.test(`${e.name} exporter matches golden`, async (t) => {
    const file = join(GOLDEN, `fixture.${ext[e.name]}`);
    const got = e.serialize(fixtureDoc());
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, got);
    t.equal(got, readFileSync(file, 'utf8'));
  });
}

t.test('format details', async (t) => {
  const doc = fixtureDoc();
  const csv = exporterFor('x.csv').serialize(doc).split('\n');
  t.equal(csv[0], 'name,type,server,backend,tls,conns,txns,size,depth_bytes,metric,median,min,max,spread,n');
  t.ok(csv.some((l) => l.startsWith('coro/epoll,echo,coro,epoll,false,100,100,100,,txn_per_s,50000,49000,52000,')));
  t.ok(csv.some((l) => l.startsWith('switch/1024B,switch,,,,,,,1024,ratio_to_bound,')));
  const json = JSON.parse(exporterFor('x.json').serialize(doc));
  t.equal(json.results[0].txn_per_s.median, 50000);
  t.equal(json.results[0].mismatches, 0);
  t.ok('bytes_per_idle_conn' in json.results[3]);
  const html = exporterFor('x.html').serialize(doc);
  t.match(html, /<svg /);
  t.notMatch(html, /<script|\s(src|href)=/, 'self-contained: no scripts, nothing fetched');
  t.throws(() => exporterFor('x.txt'), UsageError);
});

t.test('exports are written atomically and read back by report', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-bench-export-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'r.json');
  exportDoc(fixtureDoc(), file);
  t.same(readdirSync(dir), ['r.json'], 'no temporary file left behind');
  const back = loadDoc(file);
  t.equal(back.results.length, 5);
  const merged = mergeDocs([file, file], [back, back]);
  t.equal(merged.results[0].name, 'r#1: coro/epoll');
  t.equal(merged.sources?.length, 2);
  writeFileSync(join(dir, 'bad.json'), '{"x":1}');
  t.throws(() => loadDoc(join(dir, 'bad.json')), /not a coro-bench results file/);
  t.throws(() => exportDoc(fixtureDoc(), join(dir, 'nodir', 'x.json')));
  t.same(readdirSync(dir).sort(), ['bad.json', 'r.json'], 'a failed export leaves nothing behind');
});
