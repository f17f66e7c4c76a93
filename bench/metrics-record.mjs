#!/usr/bin/env node
// What recording one request in the proxy's Istio metrics costs, against prom-client's own
// Counter/Histogram children with the same 25 labels, in the same run. The proxy keeps its
// own series (packages/proxy/src/telemetry/series.ts) because of the difference shown here.
//
//   npm run build && node bench/metrics-record.mjs            # 5 runs of 300k requests each
//   node bench/metrics-record.mjs --runs 3 --requests 100000
//
// One process, no sockets; prints the median per-request time of each and their ratio.
import { performance } from 'node:perf_hooks';
import { Counter, Histogram, Registry } from 'prom-client';
import { createProxyMetrics } from '../packages/proxy/dist/telemetry/metrics.js';
import { ISTIO_LABEL_NAMES } from '../packages/proxy/dist/telemetry/istio-labels.js';
import { ISTIO_BUCKETS } from '../packages/proxy/dist/telemetry/series.js';
import { event, node, table } from './lib/metrics-fixture.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 5);
const N = arg('requests', 300_000);

const weft = createProxyMetrics({ node, table: () => table, processMetrics: false });

const registry = new Registry();
const labels = Object.fromEntries(ISTIO_LABEL_NAMES.map((n) => [n, `value-of-${n}`]));
const opts = { labelNames: [...ISTIO_LABEL_NAMES], registers: [registry] };
const counter = new Counter({ name: 'c_total', help: 'h', ...opts }).labels(labels);
const hists = ['d', 'q', 'r'].map((n) =>
  new Histogram({ name: n, help: 'h', buckets: ISTIO_BUCKETS, ...opts }).labels(labels),
);

function time(fn) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  return ((performance.now() - t0) * 1000) / N;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ours = [];
const theirs = [];
for (let r = 0; r < RUNS; r++) {
  ours.push(
    time((i) => {
      event.durationMs = i % 300;
      weft.record(event);
    }),
  );
  theirs.push(
    time((i) => {
      counter.inc();
      hists[0].observe(i % 300);
      hists[1].observe(120);
      hists[2].observe(900);
    }),
  );
}
weft.close();
const a = median(ours);
const b = median(theirs);
console.log(`weft series record:      ${a.toFixed(3)} µs/request (median of ${RUNS})`);
console.log(`prom-client children:    ${b.toFixed(3)} µs/request (median of ${RUNS})`);
console.log(`ratio prom-client/weft:  ${(b / a).toFixed(1)}x`);
