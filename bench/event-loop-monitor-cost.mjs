#!/usr/bin/env node
// What node:perf_hooks' event-loop delay histogram costs an idle process, by resolution: the
// reason the proxy's and control plane's nodejs_eventloop_lag_* sample every 100 ms instead of
// prom-client's 10 ms (telemetry/process-metrics.ts). Each case runs in its own process, idle
// for --seconds, and prints its CPU per second.
//
//   node bench/event-loop-monitor-cost.mjs [--seconds 5]

import { execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  options: { seconds: { type: 'string', default: '5' } },
  allowPositionals: true,
});
const seconds = Number(opts.seconds);

if (positionals[0] === 'child') {
  const resolution = Number(positionals[1]);
  if (resolution > 0) monitorEventLoopDelay({ resolution }).enable();
  const c0 = process.cpuUsage();
  setTimeout(() => {
    const c = process.cpuUsage(c0);
    process.stdout.write(`${((c.user + c.system) / 1000 / seconds).toFixed(2)}\n`);
    process.exit(0);
  }, seconds * 1000);
} else {
  const self = new URL(import.meta.url).pathname;
  process.stdout.write(`idle CPU, ms per second, node ${process.version}\n`);
  for (const resolution of [0, 10, 100]) {
    const out = execFileSync(process.execPath, [
      self,
      'child',
      String(resolution),
      '--seconds',
      String(seconds),
    ]);
    const name = resolution === 0 ? 'no histogram' : `resolution ${resolution} ms`;
    process.stdout.write(`${name.padEnd(18)} ${out.toString().trim()}\n`);
  }
}
