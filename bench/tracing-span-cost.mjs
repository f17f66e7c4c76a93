#!/usr/bin/env node
// What tracing costs the proxy per request, in-process (no sockets), and why the proxy builds
// its spans as plain records instead of OpenTelemetry SDK spans. Nanoseconds per request for:
//   off            buildRequestHeaders with tracing off (the baseline every request pays)
//   on, unsampled  tracing on, 1 % sampling, a request with no trace header (new ids written)
//   on, continued  tracing on, an incoming unsampled traceparent passed on
//   sampled        begin + end of a sampled gateway request: 2 spans built and queued
//   SDK sampled    the same 2 spans through @opentelemetry/sdk-trace's TracerProvider
//
//   npm run build && node bench/tracing-span-cost.mjs [--rounds 5] [--n 200000]
//
// Medians over --rounds; each round runs every case once, in a rotated order.

import { parseArgs } from 'node:util';
import { SpanKind, ROOT_CONTEXT, trace as otelTrace } from '@opentelemetry/api';
import { TracerProvider, AlwaysOnSampler } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NO_HEADER_OPS } from '../packages/proxy/dist/compile/header-ops.js';
import { buildRequestHeaders } from '../packages/proxy/dist/upstream/headers.js';
import { Tracer } from '../packages/proxy/dist/telemetry/tracing/tracer.js';
import { endInfo, tracerNode } from './lib/tracing-fixture.mjs';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, n: { type: 'string', default: '200000' } },
});
const ROUNDS = Number(values.rounds);
const N = Number(values.n);

const RAW = [
  'Host',
  'my-service',
  'User-Agent',
  'curl/8.5.0',
  'Accept',
  '*/*',
  'X-Forwarded-For',
  '10.0.0.1',
];
const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
let sunk = 0;
const sink = { push: () => void sunk++ };
const tracer1 = new Tracer({ node: tracerNode, samplingPercent: 1, sink });
const tracer100 = new Tracer({ node: tracerNode, samplingPercent: 100, sink });
const hop1 = tracer1.hop('gateway');
const hop100 = tracer100.hop('gateway');
const input = (trace) => ({
  host: 'my-service',
  clientAddress: '127.0.0.1',
  scheme: 'http',
  ops: NO_HEADER_OPS,
  newRequestId: () => '6f1c1b0e-2a8e-4f7e-9c51-0b8d3f2a9e11',
  trace,
});
const offInput = input(undefined);
const on1Input = input(hop1);
const on100Input = input(hop100);
const rawWithTp = [...RAW, 'traceparent', TP];

// The SDK, set up as a proxy would: always-on sampler (we decide before), one processor that
// hands ended spans to a queue.
const provider = new TracerProvider({
  sampler: new AlwaysOnSampler(),
  resource: resourceFromAttributes({ 'service.name': 'gateway.default' }),
  spanProcessors: [
    {
      onStart() {},
      onEnd: () => void sunk++,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  ],
});
const sdkTracer = provider.getTracer('weft-proxy', '0.1.0');
const nodeAttributes = {
  'istio.canonical_service': tracerNode.canonicalService,
  'istio.canonical_revision': tracerNode.canonicalRevision,
  'istio.mesh_id': tracerNode.meshId,
  'istio.namespace': tracerNode.namespace,
  node_id: tracerNode.id,
  component: 'proxy',
};

const cases = {
  off: () => buildRequestHeaders(RAW, offInput),
  'on, unsampled': () => buildRequestHeaders(RAW, on1Input),
  'on, continued': () => buildRequestHeaders(rawWithTp, on1Input),
  sampled: () => {
    const r = buildRequestHeaders(RAW, on100Input);
    hop100.end(r.trace, endInfo);
  },
  'SDK sampled': () => {
    // Headers as the "sampled" case writes them, then the spans through the SDK.
    const r = buildRequestHeaders(RAW, on100Input);
    const parent = otelTrace.setSpanContext(ROOT_CONTEXT, {
      traceId: r.trace.traceId,
      spanId: r.trace.serverSpanId,
      traceFlags: 1,
      isRemote: true,
    });
    const server = sdkTracer.startSpan('my-service/*', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    const client = sdkTracer.startSpan(
      'my-service/*',
      { kind: SpanKind.CLIENT },
      otelTrace.setSpan(parent, server),
    );
    const attrs = {
      'istio.canonical_service': nodeAttributes['istio.canonical_service'],
      'istio.canonical_revision': nodeAttributes['istio.canonical_revision'],
      'istio.mesh_id': nodeAttributes['istio.mesh_id'],
      'istio.namespace': nodeAttributes['istio.namespace'],
      node_id: nodeAttributes.node_id,
      component: 'proxy',
      'http.url': 'http://my-service/order',
      'http.method': 'GET',
      'http.protocol': 'HTTP/1.1',
      'http.status_code': '200',
      response_flags: '-',
      'guid:x-request-id': endInfo.requestId,
      upstream_cluster: endInfo.cluster,
      'upstream_cluster.name': endInfo.cluster,
      downstream_cluster: '-',
      'peer.address': '127.0.0.1',
      user_agent: 'curl/8.5.0',
      'upstream.address': endInfo.endpoint,
    };
    server.setAttributes(attrs);
    client.setAttributes(attrs);
    client.end();
    server.end();
  },
};

function measure(fn) {
  for (let i = 0; i < 2000; i++) fn(); // warm
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  return Number(process.hrtime.bigint() - t0) / N;
}

const names = Object.keys(cases);
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + r) % names.length];
    results[name].push(measure(cases[name]));
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(results.off);
process.stdout.write(
  `tracing cost per request, ns (median of ${ROUNDS} rounds x ${N}), node ${process.version}\n`,
);
process.stdout.write(`| case | ns/request | over tracing off |\n|---|---|---|\n`);
for (const n of names) {
  const m = median(results[n]);
  process.stdout.write(
    `| ${n} | ${m.toFixed(0)} | ${n === 'off' ? '-' : `+${(m - base).toFixed(0)}`} |\n`,
  );
}
if (sunk < 0) process.stdout.write('');
