#!/usr/bin/env node
// The load balancers in a deterministic model of bench/lb-compare.mjs's scenarios: the same
// three instances and closed-loop clients, on a fake clock, with the proxy's event loop
// stalling for `--stall-ms` every `--stall-every` ms (what a busy, shared machine does to a Node
// process). It runs the real algorithms (packages/proxy/dist/lb) and separates what the
// balancer decides from the noise that moves lb-compare's figures on a shared VM. The default
// (PEAK_EWMA) is run twice: fed wall-clock samples (stalls included) and the event loop's idle
// time (stalls left out, as the proxy measures: upstream/loop-idle.ts). "All equal, N workers
// each" is where pricing requests in flight too cheaply would show: equal instances that queue.
//
// `--jitter-ms` adds an exponentially distributed extra service time with that mean to every
// answer (timer and scheduling jitter of instances on a shared machine); with 0.75 the model
// reproduces lb-compare's real figures (docs/performance.md).
//
//   npm run build && node bench/lb-sim.mjs
//   node bench/lb-sim.mjs --stall-ms 0          # no stalls: the algorithms alone
//   node bench/lb-sim.mjs --jitter-ms 0.75      # instances as jittery as on the shared VM

import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    'fast-ms': { type: 'string', default: '2' },
    'slow-ms': { type: 'string', default: '8' },
    workers: { type: 'string', default: '4' },
    'stall-ms': { type: 'string', default: '15' },
    'stall-every': { type: 'string', default: '1000' },
    'jitter-ms': { type: 'string', default: '0' },
    duration: { type: 'string', default: '60' },
    seeds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '2,4,16' },
  },
});

const dist = new URL('../packages/proxy/dist/lb/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const [{ makeEndpoints }, { simulateStalls, quantile }, rr, lr, ewma] = await Promise.all([
  load('conformance.js'),
  load('load-sim.js'),
  load('round-robin/index.js'),
  load('least-request/index.js'),
  load('peak-ewma/index.js'),
]);

const fast = Number(opts['fast-ms']);
const slow = Number(opts['slow-ms']);
const workers = Number(opts.workers);
const jitterMs = Number(opts['jitter-ms']);
const stallMs = Number(opts['stall-ms']);
const stall = stallMs > 0 ? { ms: stallMs, everyMs: Number(opts['stall-every']) } : undefined;
const POLICIES = [
  ['ROUND_ROBIN', rr.createLoadBalancer, 'wall'],
  ['LEAST_REQUEST', lr.createLoadBalancer, 'wall'],
  ['default, wall-clock samples', ewma.createLoadBalancer, 'wall'],
  ['default (idle-time samples)', ewma.createLoadBalancer, 'idle'],
];
const SCENARIOS = [
  ['one slow', [fast, fast, slow], 0],
  [`one slow, ${workers} workers each`, [fast, fast, slow], workers],
  ['all equal', [fast, fast, fast], 0],
  [`all equal, ${workers} workers each`, [fast, fast, fast], workers],
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(
  `lb-sim: ${opts.duration} s simulated per run, median of ${opts.seeds} seeds; stalls: ${stall ? `${stall.ms} ms every ${stall.everyMs} ms` : 'none'}; jitter: ${jitterMs > 0 ? `exponential, mean ${jitterMs} ms` : 'none'}`,
);
console.log(
  '| instances (latency) | clients | policy | req/s | p50 ms | p99 ms | to the slow one | p99 vs ROUND_ROBIN |',
);
console.log('|---|--:|---|--:|--:|--:|--:|--:|');
for (const [scenario, delays, limit] of SCENARIOS) {
  for (const concurrency of opts.concurrency.split(',').map(Number)) {
    let rrP99;
    for (const [policy, create, sample] of POLICIES) {
      const runs = [];
      for (let seed = 1; seed <= Number(opts.seeds); seed++) {
        const eps = makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 's' }]);
        const instances = {
          a: { latencyMs: delays[0], workers: limit, jitterMs },
          b: { latencyMs: delays[1], workers: limit, jitterMs },
          s: { latencyMs: delays[2], workers: limit, jitterMs },
        };
        const durationMs = Number(opts.duration) * 1000;
        const r = simulateStalls(create(eps), {
          concurrency,
          durationMs,
          instances,
          stall,
          sample,
          seed,
        });
        const total = [...r.picks.values()].reduce((x, y) => x + y, 0);
        runs.push({
          rps: r.latencies.length / (durationMs / 1000),
          p50: quantile(r.latencies, 0.5),
          p99: quantile(r.latencies, 0.99),
          slowShare: (r.picks.get('s') ?? 0) / total,
        });
      }
      const m = (k) => median(runs.map((r) => r[k]));
      if (policy === 'ROUND_ROBIN') rrP99 = m('p99');
      const slowCol = delays[2] !== delays[0] ? `${(m('slowShare') * 100).toFixed(1)}%` : '-';
      const ratio = policy === 'ROUND_ROBIN' ? '-' : `${(rrP99 / m('p99')).toFixed(2)}x`;
      console.log(
        `| ${scenario} (${delays.join('/')} ms) | ${concurrency} | ${policy} | ${m('rps').toFixed(0)} | ${m('p50').toFixed(1)} | ${m('p99').toFixed(1)} | ${slowCol} | ${ratio} |`,
      );
    }
  }
}
