#!/usr/bin/env node
// One process, every telemetry configuration: the gateway's data plane twice (two listeners on
// the same snapshot stream's content), without a tracer and with tracing at
// WEFT_BENCH_TRACE=URL,PERCENT, plus the metrics (not process metrics) and the access log
// (WEFT_BENCH_ACCESS_LOG=FILE, in batches as the CLI's proxies write it), which SIGUSR2 turns on
// and off. bench/telemetry-toggle.mjs compares the configurations inside one process, so the
// few points by which two processes of one configuration differ are not in its ratios.
//
//   node bench/lib/weft-toggle-gateway.mjs CONTROL_URL [ID]
//
// Ready line: { event: 'ready', role: 'gateway', port, tracedPort }; after each SIGUSR2:
// { event: 'telemetry', on }.

import {
  connectSnapshotStream,
  createDataPlane,
  createProxyMetrics,
  listen,
  subscribeAccessLog,
} from '@weft/proxy';
import { TELEMETRY_BATCH_MS } from '../../packages/proxy/dist/telemetry/batch.js';
import { createAccessLogSink } from '../../packages/proxy/dist/telemetry/access-log.js';
import { benchLog, benchTracing } from './bench-gateway.mjs';

const control = process.argv[2];
const id = process.argv[3] ?? 'bench-gw-toggle';
const log = benchLog;
const accessLogFile = process.env.WEFT_BENCH_ACCESS_LOG;
const tracing = await benchTracing(process.env.WEFT_BENCH_TRACE, `${id}-traced`);
if (tracing === undefined || accessLogFile === undefined) {
  process.stderr.write(
    'weft-toggle-gateway: set WEFT_BENCH_TRACE=URL,PERCENT and WEFT_BENCH_ACCESS_LOG\n',
  );
  process.exit(2);
}

const nodeOf = (suffix) => ({
  id: `${id}-${suffix}`,
  role: 'gateway',
  namespace: 'default',
  labels: { istio: 'ingressgateway' },
});
async function startPlane(suffix, tracer) {
  const node = nodeOf(suffix);
  const dp = createDataPlane({ node, log, tracer });
  const listener = await listen(dp.gatewayHandler(), {
    host: '127.0.0.1',
    port: 0,
    proxyId: node.id,
  });
  const stream = connectSnapshotStream({
    control,
    node,
    apply: (s) => dp.apply(s),
    version: () => dp.version(),
    log,
  });
  await stream.ready;
  return { node, dp, listener, stream };
}

const plain = await startPlane('plain', undefined);
const traced = await startPlane('traced', tracing.tracer);
const planes = [plain, traced];

// The telemetry `weft gateway` runs (admin/telemetry.ts), for both planes: one metrics registry
// per plane and one access log. Not prom-client's process metrics: they cannot be stopped once
// started (the lag monitor and the GC observer stay), so they would be in every configuration;
// bench/telemetry-cost.mjs --isolate measures them.
let stopTelemetry;
function telemetryOn() {
  const stops = [];
  const sink = createAccessLogSink(accessLogFile);
  for (const p of planes) {
    const metrics = createProxyMetrics({
      node: p.node,
      table: () => p.dp.table(),
      processMetrics: false,
    });
    stops.push(() => metrics.close());
    stops.push(
      subscribeAccessLog((line) => sink.write(line), {
        proxyId: p.node.id,
        batchMs: TELEMETRY_BATCH_MS,
        onBatch: () => sink.flush(),
      }),
    );
  }
  stops.push(() => void sink.close());
  return () => stops.forEach((s) => s());
}

process.on('SIGUSR2', () => {
  if (stopTelemetry === undefined) stopTelemetry = telemetryOn();
  else {
    stopTelemetry();
    stopTelemetry = undefined;
  }
  process.stdout.write(
    `${JSON.stringify({ event: 'telemetry', on: stopTelemetry !== undefined })}\n`,
  );
});

process.stdout.write(
  `${JSON.stringify({ event: 'ready', role: 'gateway', id, port: plain.listener.port, tracedPort: traced.listener.port })}\n`,
);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    stopTelemetry?.();
    for (const p of planes) p.stream.close();
    void Promise.all(planes.map((p) => p.listener.close()))
      .then(() => Promise.all(planes.map((p) => p.dp.close())))
      .then(() => tracing.close())
      .then(() => process.exit(0));
  });
