// A gateway as the tracer knows it, and what the end of one of its requests tells the tracer:
// what the tracing benches (tracing-span-cost.mjs, span-export-cost.mjs) record.

/** Who the proxy is (packages/proxy/src/telemetry/tracing/tracer.ts, TracerNode). */
export const tracerNode = {
  id: 'bench-gw',
  namespace: 'default',
  canonicalService: 'gateway',
  canonicalRevision: 'latest',
  meshId: 'cluster.local',
};

/** A finished request to order through the gateway (RequestEndInfo). */
export const endInfo = {
  kind: 'gateway',
  method: 'GET',
  scheme: 'http',
  authority: 'my-service',
  path: '/order',
  status: 200,
  flags: undefined,
  cluster: 'outbound|80||order.default.svc.cluster.local',
  endpoint: '127.0.0.1:4000',
  requestId: '6f1c1b0e-2a8e-4f7e-9c51-0b8d3f2a9e11',
  downstreamAddress: '127.0.0.1',
  userAgent: 'curl/8.5.0',
  attempts: 1,
};
