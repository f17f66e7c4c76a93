// What the benches' own gateway scripts (weft-bare-gateway.mjs, weft-toggle-gateway.mjs) share:
// their log (warnings and errors to stderr; stdout carries the ready line) and their tracing,
// set as `weft gateway --otlp-endpoint URL --trace-sampling PERCENT` would set it.

import {
  batchOptionsFromEnv,
  createTracing,
} from '../../packages/proxy/dist/telemetry/tracing/index.js';

export const benchLog = (level, msg, fields) => {
  if (level !== 'info') process.stderr.write(`${JSON.stringify({ level, msg, ...fields })}\n`);
};

/** Tracing from WEFT_BENCH_TRACE's `URL,PERCENT` for proxy `id`; undefined without one. */
export function benchTracing(flag, id) {
  if (flag === undefined || flag === '') return Promise.resolve(undefined);
  const [otlpEndpoint, percent] = flag.split(',');
  return createTracing({
    otlpEndpoint,
    samplingPercent: Number(percent),
    node: {
      id,
      namespace: 'default',
      canonicalService: 'bench-gw',
      canonicalRevision: 'latest',
      meshId: 'cluster.local',
    },
    export: batchOptionsFromEnv(process.env),
    log: benchLog,
  });
}
