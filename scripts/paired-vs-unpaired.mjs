#!/usr/bin/env node
// How much narrower a paired interval is than an unpaired one, on a saved
// results file of interleaved echo runs (docs/gate.md, "Paired statistics").
// For every configuration against the reference (the first one, or argv[3]):
//   unpaired  median(A) / median(B), each side resampled on its own
//   paired    median of the per-round ratios A_k / B_k, rounds resampled
// both 95 % percentile bootstraps with the same seed and resample count.
// Usage: node scripts/paired-vs-unpaired.mjs RESULTS.json [REFERENCE]
import { readFileSync } from 'node:fs';
import { bootstrapRatioOfMedians } from '../dist/cli/gate/bootstrap.js';
import { seededRandom, seedFor } from '../dist/cli/gate/rng.js';
import { pairedTxnRatio } from '../dist/cli/stats/paired.js';
import { median } from '../dist/cli/stats/summary.js';

const [file, refName] = process.argv.slice(2);
if (!file) {
  console.error('error: usage: node scripts/paired-vs-unpaired.mjs RESULTS.json [REFERENCE]');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, 'utf8'));
const echo = doc.results.filter((r) => r.type === 'echo' && r.runs > 1);
const ref = echo.find((r) => r.name === (refName ?? echo[0]?.name));
if (!ref) {
  console.error(`error: no echo result named ${refName ?? '(any)'} with 2+ runs in ${file}`);
  process.exit(2);
}
const pct = (x) => `${((x - 1) * 100).toFixed(1)} %`;
console.log(`${file}: ${doc.command} ${ref.workload.conns}x${ref.workload.txns}x${ref.workload.size}, measured ${doc.environment.date} on ${doc.environment.host}; reference ${ref.name}`);
console.log('| config | runs | unpaired ratio | unpaired 95 % CI | width | paired ratio | paired 95 % CI | width | paired / unpaired width |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of echo.filter((x) => x !== ref)) {
  const a = r.samples.map((s) => s.txn_per_s);
  const b = ref.samples.map((s) => s.txn_per_s);
  const u = bootstrapRatioOfMedians(a, b, { random: seededRandom(seedFor(`compare/${r.name}`)) });
  const p = pairedTxnRatio(r, ref, doc.failures, `compare/${r.name}`);
  const uw = u.high - u.low;
  const pw = p.interval.high - p.interval.low;
  console.log(`| ${r.name} | ${p.pairs} | ${(median(a) / median(b)).toFixed(3)} | ${u.low.toFixed(3)}..${u.high.toFixed(3)} | ${uw.toFixed(3)} | ${p.ratio.toFixed(3)} | ${p.interval.low.toFixed(3)}..${p.interval.high.toFixed(3)} | ${pw.toFixed(3)} | ${(pw / uw).toFixed(2)} |`);
}
