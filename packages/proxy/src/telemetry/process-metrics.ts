// prom-client's default process and Node.js metrics, less three gauges whose names end in
// `_total` (nodejs_active_{handles,requests,resources}_total): `promtool check metrics`
// rejects a `_total` suffix on anything but a counter, and the same numbers are exported
// without it (nodejs_active_handles, ...). The control plane does the same in its metrics/.
//
// The event-loop lag histogram samples every 100 ms, not prom-client's 10 ms: its timer woke
// an idle proxy 100 times a second, 6-7 ms of CPU per second doing nothing (1.5 ms at 100 ms:
// `node bench/event-loop-monitor-cost.mjs`), and cost a sidecar at 350 requests/s 3.5 % of
// its CPU (bench/telemetry-cost.mjs --isolate, docs/performance.md). A stall of the loop
// still shows: the next sample is late by it.

/** Resolution of the event-loop lag histogram, in ms (prom-client's default is 10). */
export const EVENT_LOOP_SAMPLE_MS = 100;

import { collectDefaultMetrics, type Registry } from 'prom-client';

const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function addProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
}
