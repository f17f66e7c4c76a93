#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `gateway-overhead.mjs --profile <peer>`): where the proxy's
// CPU time goes, by function (self time) and by area (Weft package, node internals, GC, ...).
//   node bench/profile-summary.mjs bench/results/profiles/weft-*.cpuprofile [top=25]

import { readFileSync } from 'node:fs';

const [file, topArg = '25'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]\n');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
// Self time per node: samples x the interval that followed each sample.
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self]
  .filter(([id]) => byId.get(id).callFrame.functionName === '(idle)')
  .reduce((a, [, v]) => a + v, 0);
const busy = total - idle;

function area(cf) {
  const u = cf.url || '';
  if (!u) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  const m = /packages\/([^/]+)\/dist\/(.+?)\.js/.exec(u);
  if (m) return `weft/${m[1]}/${m[2]}`;
  if (u.startsWith('node:')) return u;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1];
  return u;
}

const fn = new Map();
const ar = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  if (cf.functionName === '(idle)') continue;
  const key = `${cf.functionName || '(anonymous)'}  ${area(cf)}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const a = area(cf);
  ar.set(a, (ar.get(a) ?? 0) + t);
}
const pct = (t) => ((100 * t) / busy).toFixed(1).padStart(5) + '%';
const top = Number(topArg);
console.log(
  `${file}\nbusy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled\n\nself time by area:`,
);
for (const [k, t] of [...ar].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(t)}  ${k}`);
console.log('\nself time by function:');
for (const [k, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(t)}  ${k}`);
