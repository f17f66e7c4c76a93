// prom-client's default process and Node.js metrics, less three gauges whose names end in
// `_total` (nodejs_active_{handles,requests,resources}_total): `promtool check metrics`
// rejects a `_total` suffix on anything but a counter, and the same numbers are exported
// without it (nodejs_active_handles, ...). The control plane does the same in its metrics/.

import { collectDefaultMetrics, type Registry } from 'prom-client';

const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function addProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
}
