#!/usr/bin/env node
// The Weft gateway's data plane with no telemetry at all: the same snapshot stream, compile,
// request handler and listener as `weft gateway`, but no admin listener, no metrics registry,
// no access log and no tracer, so nobody subscribes to the proxy's diagnostics channels. The
// "telemetry off" reference of bench/telemetry-cost.mjs (the CLI always serves metrics).
//
//   node bench/lib/weft-bare-gateway.mjs CONTROL_URL [ID]
//
// WEFT_BENCH_METRICS=series: subscribe the proxy's metrics (telemetry/metrics.ts) without
// process metrics; =all: with them (prom-client's default collectors). Used by
// telemetry-cost.mjs --isolate to tell the metrics subscriber from the rest of `weft gateway`.
// WEFT_BENCH_ACCESS_LOG=FILE: the access log too; WEFT_BENCH_TRACE=URL,PERCENT: tracing too (the
// same telemetry as `weft gateway`'s flags, without the CLI's other parts: admin listener,
// mesh identity).

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
const id = process.argv[3] ?? 'bench-gw-bare';
const node = { id, role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } };
const log = benchLog;
const tracing = await benchTracing(process.env.WEFT_BENCH_TRACE, id);
const dp = createDataPlane({ node, log, tracer: tracing?.tracer });
if (process.env.WEFT_BENCH_ACCESS_LOG !== undefined) {
  const sink = createAccessLogSink(process.env.WEFT_BENCH_ACCESS_LOG);
  // As the CLI's proxies do (packages/proxy/src/admin/telemetry.ts): lines formatted in batches.
  subscribeAccessLog((line) => sink.write(line), {
    proxyId: id,
    batchMs: TELEMETRY_BATCH_MS,
    onBatch: () => sink.flush(),
  });
}
const metricsMode = process.env.WEFT_BENCH_METRICS;
if (metricsMode === 'series' || metricsMode === 'all')
  createProxyMetrics({ node, table: () => dp.table(), processMetrics: metricsMode === 'all' });
const listener = await listen(dp.gatewayHandler(), { host: '127.0.0.1', port: 0, proxyId: id });
const stream = connectSnapshotStream({
  control,
  node,
  apply: (s) => dp.apply(s),
  version: () => dp.version(),
  log,
});
await stream.ready;
process.stdout.write(
  `${JSON.stringify({ event: 'ready', role: 'gateway', id, port: listener.port })}\n`,
);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    stream.close();
    void listener.close().then(() => dp.close().then(() => process.exit(0)));
  });
