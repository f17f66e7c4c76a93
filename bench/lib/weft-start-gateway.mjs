#!/usr/bin/env node
// `weft gateway` without the CLI around it: @weft/proxy's startGateway, as the CLI calls it, with
// the full telemetry (access log to WEFT_BENCH_ACCESS_LOG, tracing to WEFT_BENCH_TRACE=URL,PERCENT)
// and, with WEFT_BENCH_MTLS=0, no mesh identity. bench/telemetry-cost.mjs --gateway-split uses
// it to tell what the CLI process and the mesh identity add from what the telemetry costs.
//
//   node bench/lib/weft-start-gateway.mjs CONTROL_URL [ID]

import { startGateway } from '@weft/proxy';

const control = process.argv[2];
const id = process.argv[3] ?? 'bench-gw-start';
const [otlpEndpoint, percent] = (process.env.WEFT_BENCH_TRACE ?? '').split(',');
const gw = await startGateway({
  control,
  host: '127.0.0.1',
  port: 0,
  id,
  namespace: 'default',
  labels: { istio: 'ingressgateway' },
  ...(process.env.WEFT_BENCH_ACCESS_LOG !== undefined
    ? { accessLog: process.env.WEFT_BENCH_ACCESS_LOG }
    : {}),
  ...(otlpEndpoint ? { tracing: { otlpEndpoint, samplingPercent: Number(percent) } } : {}),
  mtls: process.env.WEFT_BENCH_MTLS !== '0',
});
await gw.ready;
process.stdout.write(`${JSON.stringify({ event: 'ready', role: 'gateway', id, port: gw.port })}\n`);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => void gw.close().then(() => process.exit(0)));
