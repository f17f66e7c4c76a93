#!/usr/bin/env node
// What one read of a proxy's metrics costs it: the dashboard's `/stats/json?name=` (collecting
// the three metrics the control plane's collector names, and encoding them) and a full
// Prometheus scrape (`/stats/prometheus`), each timed in-process, --gap ms apart (the collector
// reads every 10 s, so its reads run cold). --series: label sets recorded (routes × codes).
//
//   npm run build && node bench/metrics-read-cost.mjs [--series 1] [--reads 8] [--gap 300]

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { requestEndChannel } from '../packages/proxy/dist/telemetry/channels.js';
import { createProxyMetrics } from '../packages/proxy/dist/telemetry/metrics.js';
import { TRAFFIC_METRICS } from '../packages/control-plane/dist/dashboard/traffic.js';
import { event, node, table } from './lib/metrics-fixture.mjs';

const { values: opts } = parseArgs({
  options: {
    series: { type: 'string', default: '1' },
    reads: { type: 'string', default: '8' },
    gap: { type: 'string', default: '300' },
  },
});
const metrics = createProxyMetrics({ node, table: () => table });
for (let s = 0; s < Number(opts.series); s++)
  for (let i = 0; i < 100; i++)
    requestEndChannel.publish({
      ...event,
      routeId: `default/shop#${Math.floor(s / 3)}`,
      status: [200, 404, 503][s % 3],
      durationMs: i / 10,
    });
process.stdout.write(
  `${opts.series} series, reads ${opts.gap} ms apart (ms, wall clock, nothing else running in this process):\n`,
);
for (let k = 0; k < Number(opts.reads); k++) {
  const t0 = performance.now();
  const picked = await Promise.all(
    TRAFFIC_METRICS.flatMap((n) => metrics.registry.getSingleMetric(n)?.get() ?? []),
  );
  const t1 = performance.now();
  const json = JSON.stringify(picked);
  const t2 = performance.now();
  const text = await metrics.registry.metrics();
  const t3 = performance.now();
  process.stdout.write(
    `  dashboard read ${(t1 - t0).toFixed(2)} + encode ${(t2 - t1).toFixed(2)} (${json.length} B); ` +
      `full scrape ${(t3 - t2).toFixed(2)} (${text.length} B)\n`,
  );
  await new Promise((r) => setTimeout(r, Number(opts.gap)));
}
metrics.close();
