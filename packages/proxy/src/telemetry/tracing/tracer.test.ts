import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { NO_HEADER_OPS } from '../../compile/header-ops.js';
import { buildRequestHeaders } from '../../upstream/headers.js';
import { SpanExport } from './export.js';
import { batchOptionsFromEnv } from './index.js';
import { Tracer, type RequestEndInfo, type TraceHop } from './tracer.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function tracer(percent: number, random = () => 0.5) {
  const spans: ReadableSpan[] = [];
  const t = new Tracer({
    node: {
      id: 'order-1.sidecar',
      namespace: 'default',
      canonicalService: 'order',
      canonicalRevision: 'v1',
      meshId: 'cluster.local',
    },
    samplingPercent: percent,
    sink: { push: (s) => spans.push(s) },
    random,
  });
  return { t, spans };
}

function build(raw: string[], hop: TraceHop | undefined) {
  return buildRequestHeaders(raw, {
    host: 'order',
    clientAddress: undefined,
    scheme: 'http',
    ops: NO_HEADER_OPS,
    newRequestId: () => 'rid-1',
    trace: hop,
  });
}

/** The header values as a map (first of each name). */
function headerMap(headers: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < headers.length; i += 2)
    if (!m.has(headers[i]!.toLowerCase())) m.set(headers[i]!.toLowerCase(), headers[i + 1]!);
  return m;
}

function endInfo(over: Partial<RequestEndInfo> = {}): RequestEndInfo {
  return {
    kind: 'gateway',
    method: 'GET',
    scheme: 'http',
    authority: 'my-service',
    path: '/order?x=1',
    status: 200,
    flags: undefined,
    cluster: 'outbound|80||order.default.svc.cluster.local',
    endpoint: '127.0.0.1:4000',
    requestId: 'rid-1',
    downstreamAddress: '127.0.0.1',
    userAgent: 'curl/8',
    attempts: 1,
    ...over,
  };
}

describe('tracing off', () => {
  it('passes trace headers through untouched and records nothing', () => {
    const raw = ['traceparent', 'garbage', 'x-b3-parentspanid', 'abc', 'b3', '0'];
    const r = build(raw, undefined);
    assert.equal(r.trace, undefined);
    const h = headerMap(r.headers);
    assert.equal(h.get('traceparent'), 'garbage');
    assert.equal(r.traceId, undefined);
    assert.equal(h.get('x-b3-parentspanid'), 'abc');
    assert.equal(h.get('b3'), '0');
  });
});

describe('propagation through buildRequestHeaders', () => {
  it('continues a sampled W3C trace as a child of this hop, keeping x-request-id', () => {
    const { t } = tracer(0);
    const r = build(
      [
        'traceparent',
        `00-${TRACE}-${SPAN}-01`,
        'tracestate',
        'a=1',
        'tracestate',
        'b=2',
        'x-request-id',
        'keep-me',
      ],
      t.hop('inbound'),
    );
    assert.ok(r.trace, 'sampled by the caller, whatever our own rate');
    assert.equal(r.trace.traceId, TRACE);
    assert.equal(r.traceId, TRACE);
    assert.equal(r.trace.parentSpanId, SPAN);
    const h = headerMap(r.headers);
    assert.equal(h.get('x-request-id'), 'keep-me');
    assert.equal(h.get('traceparent'), `00-${TRACE}-${r.trace.serverSpanId}-01`);
    assert.equal(h.get('tracestate'), 'a=1,b=2');
    assert.equal(h.get('x-b3-traceid'), TRACE);
    assert.equal(h.get('x-b3-parentspanid'), SPAN);
    // One traceparent only: the incoming one is replaced, not forwarded beside ours.
    assert.equal(r.headers.filter((x) => x === 'traceparent').length, 1);
  });

  it('replaces a malformed traceparent with a new trace', () => {
    const { t } = tracer(100);
    const r = build(['traceparent', '00-zzzz-01', 'tracestate', 'a=1'], t.hop('gateway'));
    assert.ok(r.trace);
    assert.equal(r.trace.parentSpanId, undefined, 'a new root');
    const h = headerMap(r.headers);
    assert.match(h.get('traceparent')!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.notEqual(h.get('traceparent'), '00-zzzz-01');
    assert.equal(h.get('tracestate'), undefined, 'tracestate belongs to the context replaced');
    assert.equal(r.headers.filter((x) => x === 'traceparent').length, 1);
  });

  it('keeps an unsampled decision downstream and allocates no trace', () => {
    const { t } = tracer(100);
    const r = build(['traceparent', `00-${TRACE}-${SPAN}-00`], t.hop('outbound'));
    assert.equal(r.trace, undefined);
    assert.equal(headerMap(r.headers).get('traceparent'), `00-${TRACE}-${SPAN}-00`);
  });

  it('starts an unsampled trace when there is none, so later hops do not draw again', () => {
    const { t } = tracer(1, () => 0.99);
    const r = build([], t.hop('gateway'));
    assert.equal(r.trace, undefined);
    const h = headerMap(r.headers);
    assert.match(h.get('traceparent')!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.equal(h.get('x-b3-sampled'), '0');
    assert.equal(
      r.traceId,
      h.get('x-b3-traceid'),
      'the access log gets the unsampled trace id too',
    );
  });

  it('answers B3 single with B3 single and honours its debug flag', () => {
    const { t } = tracer(0);
    const r = build(['b3', `${TRACE}-${SPAN}-d`], t.hop('outbound'));
    assert.ok(r.trace);
    const h = headerMap(r.headers);
    assert.equal(h.get('b3'), `${TRACE}-${r.trace.clientSpanId}-1-${SPAN}`);
    assert.equal(h.get('x-b3-traceid'), undefined);
  });

  it('continues B3 multi, replacing every x-b3 header', () => {
    const { t } = tracer(0);
    const r = build(
      [
        'X-B3-TraceId',
        TRACE,
        'X-B3-SpanId',
        SPAN,
        'X-B3-ParentSpanId',
        'ffffffffffffffff',
        'X-B3-Sampled',
        '1',
      ],
      t.hop('gateway'),
    );
    assert.ok(r.trace);
    const names = r.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.equal(names.filter((n) => n === 'x-b3-spanid').length, 1);
    const h = headerMap(r.headers);
    assert.equal(h.get('x-b3-spanid'), r.trace.clientSpanId);
    assert.equal(h.get('x-b3-parentspanid'), r.trace.serverSpanId);
  });
});

describe('spans', () => {
  it('gateway: a server span (child of the caller) and a client span (child of it)', () => {
    const { t, spans } = tracer(0);
    const hop = t.hop('gateway');
    const r = build(['traceparent', `00-${TRACE}-${SPAN}-01`], hop);
    hop.end(r.trace!, endInfo());
    assert.equal(spans.length, 2);
    const [server, client] = spans as [ReadableSpan, ReadableSpan];
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.equal(server.spanContext().traceId, TRACE);
    assert.equal(server.parentSpanContext?.spanId, SPAN);
    assert.equal(server.parentSpanContext?.isRemote, true);
    assert.equal(client.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(client.parentSpanContext?.isRemote, false);
    const a = server.attributes;
    assert.equal(a['istio.canonical_service'], 'order');
    assert.equal(a['istio.canonical_revision'], 'v1');
    assert.equal(a['istio.mesh_id'], 'cluster.local');
    assert.equal(a['istio.namespace'], 'default');
    assert.equal(a.node_id, 'order-1.sidecar');
    assert.equal(a.component, 'proxy');
    assert.equal(a['guid:x-request-id'], 'rid-1');
    assert.equal(a['http.url'], 'http://my-service/order?x=1');
    assert.equal(a['http.method'], 'GET');
    assert.equal(a['http.status_code'], '200');
    assert.equal(a.upstream_cluster, 'outbound|80||order.default.svc.cluster.local');
    assert.equal(a.response_flags, '-');
    assert.equal(a['peer.address'], '127.0.0.1');
    assert.equal(server.status.code, SpanStatusCode.UNSET);
    assert.equal(server.resource.attributes['service.name'], 'order.default');
  });

  it('marks 5xx and proxy flags as errors', () => {
    const { t, spans } = tracer(100);
    const hop = t.hop('inbound');
    const r = build([], hop);
    hop.end(r.trace!, endInfo({ kind: 'inbound', status: 503, flags: 'UF' }));
    assert.equal(spans.length, 1);
    assert.equal(spans[0]!.status.code, SpanStatusCode.ERROR);
    assert.equal(spans[0]!.attributes.error, true);
    assert.equal(spans[0]!.attributes.response_flags, 'UF');
  });

  it('records a local reply as one span of the hop', () => {
    const { t, spans } = tracer(100);
    t.hop('gateway').local(
      { traceparent: `00-${TRACE}-${SPAN}-01` },
      0,
      endInfo({ status: 404, flags: 'NR', cluster: undefined }),
    );
    assert.equal(spans.length, 1);
    assert.equal(spans[0]!.kind, SpanKind.SERVER);
    assert.equal(spans[0]!.parentSpanContext?.spanId, SPAN);
    assert.equal(spans[0]!.attributes.response_flags, 'NR');
  });
});

/** An exporter the test controls: each export waits until the test settles it. */
function manualExporter() {
  const pending: { spans: ReadableSpan[]; done: (r: ExportResult) => void }[] = [];
  const exporter: SpanExporter = {
    export: (spans, done) => void pending.push({ spans, done }),
    shutdown: () => Promise.resolve(),
  };
  return { exporter, pending };
}

describe('SpanExport', () => {
  const span = (() => {
    const { t, spans } = tracer(100);
    const hop = t.hop('inbound');
    hop.end(build([], hop).trace!, endInfo({ kind: 'inbound' }));
    return spans[0]!;
  })();

  it('drops beyond the queue bound while an export is outstanding, and counts', async () => {
    const { exporter, pending } = manualExporter();
    const ex = new SpanExport({
      endpoint: 'http://127.0.0.1:1/v1/traces',
      exporter,
      maxQueueSize: 4,
      maxBatchSize: 2,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 2; i++) ex.push(span);
    const first = ex.flush();
    assert.equal(pending.length, 1);
    for (let i = 0; i < 10; i++) ex.push(span);
    assert.deepEqual(ex.stats(), { exported: 0, dropped: 6, failedExports: 0, queued: 4 });
    pending[0]!.done({ code: ExportResultCode.FAILED, error: new Error('ECONNREFUSED') });
    await first;
    assert.deepEqual(ex.stats(), { exported: 0, dropped: 8, failedExports: 1, queued: 4 });
    const second = ex.flush();
    pending[1]!.done({ code: ExportResultCode.SUCCESS });
    await second;
    assert.equal(ex.stats().exported, 2);
    const closing = ex.close();
    await new Promise((r) => setImmediate(r));
    pending[2]!.done({ code: ExportResultCode.SUCCESS });
    await closing;
    assert.deepEqual(ex.stats(), { exported: 4, dropped: 8, failedExports: 1, queued: 0 });
    ex.push(span);
    assert.equal(ex.stats().dropped, 9, 'closed: counted, not kept');
  });

  it('survives an exporter that throws', async () => {
    const exporter: SpanExporter = {
      export: () => {
        throw new Error('boom');
      },
      shutdown: () => Promise.resolve(),
    };
    const ex = new SpanExport({ endpoint: 'http://x/', exporter, flushIntervalMs: 60_000 });
    ex.push(span);
    await ex.flush();
    assert.deepEqual(ex.stats(), { exported: 0, dropped: 1, failedExports: 1, queued: 0 });
    await ex.close();
  });
});

describe('OTEL_BSP_* batch settings', () => {
  it('reads the variables an OpenTelemetry SDK reads, and leaves unset ones to the defaults', () => {
    assert.deepEqual(batchOptionsFromEnv({}), {});
    assert.deepEqual(
      batchOptionsFromEnv({
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
        OTEL_BSP_EXPORT_TIMEOUT: ' 3000 ',
      }),
      { flushIntervalMs: 200, maxQueueSize: 100, maxBatchSize: 10, timeoutMs: 3000 },
    );
  });

  it('refuses a value that is not a positive whole number, naming the variable', () => {
    for (const bad of ['5s', '-1', '0', '1.5'])
      assert.throws(
        () => batchOptionsFromEnv({ OTEL_BSP_SCHEDULE_DELAY: bad }),
        new RegExp(`^Error: OTEL_BSP_SCHEDULE_DELAY=${JSON.stringify(bad).replace('.', '\\.')}`),
      );
  });
});
