// Distributed tracing through the seed's mesh, as real processes: `weft demo` with every proxy
// exporting OTLP/HTTP to a receiver on 127.0.0.1 that decodes with OpenTelemetry's protobuf
// definitions. One request to /order must give one trace: the gateway's server and client
// spans, order's inbound span, its two outbound calls, and user's and stock's inbound spans,
// each the child of the hop before it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startDemo, type RunningDemo } from '@weft/cli';
import {
  OTLP_KIND_CLIENT,
  OTLP_KIND_SERVER,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from './tracing-otlp-receiver.js';

function get(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: 'my-service', ...headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const SPANS_PER_ORDER = 7;

function ofTrace(spans: ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === traceId);
}

function only(spans: ReceivedSpan[], what: string, pred: (s: ReceivedSpan) => boolean) {
  const found = spans.filter(pred);
  assert.equal(found.length, 1, `one ${what}, found ${found.length}: ${describeSpans(spans)}`);
  return found[0]!;
}

function describeSpans(spans: ReceivedSpan[]): string {
  return JSON.stringify(
    spans.map((s) => ({
      service: s.service,
      kind: s.kind,
      span: s.spanId,
      parent: s.parentSpanId,
      url: s.attributes['http.url'],
      cluster: s.attributes.upstream_cluster,
    })),
  );
}

/** Checks the tree of one /order request and returns its spans. */
function checkOrderTrace(spans: ReceivedSpan[], rootParent: string | undefined): void {
  assert.equal(spans.length, SPANS_PER_ORDER, describeSpans(spans));
  const gwServer = only(
    spans,
    'gateway server span',
    (s) => s.service === 'gateway.default' && s.kind === OTLP_KIND_SERVER,
  );
  const gwClient = only(
    spans,
    'gateway client span',
    (s) => s.service === 'gateway.default' && s.kind === OTLP_KIND_CLIENT,
  );
  const orderIn = only(
    spans,
    'order inbound span',
    (s) => s.service === 'order.default' && s.kind === OTLP_KIND_SERVER,
  );
  const toUser = only(
    spans,
    'order -> user client span',
    (s) =>
      s.service === 'order.default' &&
      s.kind === OTLP_KIND_CLIENT &&
      String(s.attributes.upstream_cluster).includes('user.'),
  );
  const toStock = only(
    spans,
    'order -> stock client span',
    (s) =>
      s.service === 'order.default' &&
      s.kind === OTLP_KIND_CLIENT &&
      String(s.attributes.upstream_cluster).includes('stock.'),
  );
  const userIn = only(spans, 'user inbound span', (s) => s.service === 'user.default');
  const stockIn = only(spans, 'stock inbound span', (s) => s.service === 'stock.default');

  assert.equal(gwServer.parentSpanId, rootParent);
  assert.equal(gwClient.parentSpanId, gwServer.spanId);
  assert.equal(orderIn.parentSpanId, gwClient.spanId);
  assert.equal(toUser.parentSpanId, orderIn.spanId);
  assert.equal(toStock.parentSpanId, orderIn.spanId);
  assert.equal(userIn.parentSpanId, toUser.spanId);
  assert.equal(userIn.kind, OTLP_KIND_SERVER);
  assert.equal(stockIn.parentSpanId, toStock.spanId);
  assert.equal(stockIn.kind, OTLP_KIND_SERVER);

  // Istio's attributes, and one request id across the whole trace (the apps forward it).
  const rid = gwServer.attributes['guid:x-request-id'];
  assert.match(String(rid), /^[0-9a-f-]{36}$/);
  for (const s of spans) {
    assert.equal(s.attributes['guid:x-request-id'], rid, `request id on ${s.service}`);
    assert.equal(s.attributes.component, 'proxy');
    assert.equal(s.attributes['istio.mesh_id'], 'cluster.local');
    assert.equal(s.attributes['istio.namespace'], 'default');
    assert.equal(s.attributes['http.method'], 'GET');
    assert.equal(s.attributes['http.status_code'], '200');
    assert.equal(s.attributes.response_flags, '-');
    assert.equal(s.scope, 'weft-proxy');
    assert.ok(s.endNs >= s.startNs, 'a span ends after it starts');
  }
  assert.equal(orderIn.attributes['istio.canonical_service'], 'order');
  assert.match(String(orderIn.attributes['istio.canonical_revision']), /^v[12]$/);
  assert.match(String(gwClient.attributes.upstream_cluster), /^outbound\|\d*\|\|order\./);
  assert.equal(gwServer.attributes['http.url'], 'http://my-service/order');
  // Children start within their parent: the gateway's span covers the whole request.
  assert.ok(gwServer.startNs <= gwClient.startNs && gwClient.startNs <= orderIn.startNs);
}

describe('tracing through the demo mesh', { timeout: 120_000 }, () => {
  let receiver: OtlpReceiver;
  let demo: RunningDemo;

  before(async () => {
    receiver = await startOtlpReceiver();
    // The demo's proxies inherit this: a batch every 200 ms instead of the default 5 s, so each
    // wait below is short (OpenTelemetry's own variable; this test file runs in its own process).
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    // 100 % here so that a request without trace headers is sampled; the default is 1 %.
    demo = await startDemo({
      port: 0,
      tracing: { otlpEndpoint: receiver.url, samplingPercent: 100 },
    });
  });
  after(async () => {
    await demo?.stop();
    await receiver?.close();
  });

  it('one /order request gives one trace through gateway, order, user and stock', async () => {
    const before = new Set(receiver.spans.map((s) => s.traceId));
    const r = await get(demo.gatewayPort, '/order', {});
    assert.equal(r.status, 200, r.body);
    await receiver.waitFor('the spans of /order', (spans) => {
      const fresh = spans.filter((s) => !before.has(s.traceId));
      return fresh.length >= SPANS_PER_ORDER;
    });
    const fresh = receiver.spans.filter((s) => !before.has(s.traceId));
    const traces = new Set(fresh.map((s) => s.traceId));
    assert.equal(traces.size, 1, `one trace, got ${traces.size}: ${describeSpans(fresh)}`);
    checkOrderTrace(fresh, undefined);
    assert.deepEqual(receiver.rejected, []);
  });

  it("continues a caller's W3C trace and honours its sampled flag", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = 'b7ad6b7169203331';
    const r = await get(demo.gatewayPort, '/order', {
      traceparent: `00-${traceId}-${parent}-01`,
      tracestate: 'vendor=opaque',
    });
    assert.equal(r.status, 200, r.body);
    await receiver.waitFor(
      'the spans of the traced /order',
      (spans) => ofTrace(spans, traceId).length >= SPANS_PER_ORDER,
    );
    checkOrderTrace(ofTrace(receiver.spans, traceId), parent);
  });

  it('continues a B3 multi-header trace', async () => {
    const traceId = '463ac35c9f6413ad48485a3953bb6124';
    const parent = '0020000000000001';
    const r = await get(demo.gatewayPort, '/order', {
      'x-b3-traceid': traceId,
      'x-b3-spanid': parent,
      'x-b3-sampled': '1',
    });
    assert.equal(r.status, 200, r.body);
    await receiver.waitFor(
      'the spans of the B3 /order',
      (spans) => ofTrace(spans, traceId).length >= SPANS_PER_ORDER,
    );
    checkOrderTrace(ofTrace(receiver.spans, traceId), parent);
  });

  it('records nothing for a request its caller did not sample, in any hop', async () => {
    const unsampled = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const sampled = 'f1e2d3c4b5a60718293a4b5c6d7e8f91';
    const r1 = await get(demo.gatewayPort, '/order', {
      traceparent: `00-${unsampled}-1111111111111111-00`,
    });
    assert.equal(r1.status, 200, r1.body);
    // A sampled request after it: once its spans are in, the gateway's spans for the unsampled
    // one would be too (a proxy exports in order), so their absence is not a matter of time.
    const r2 = await get(demo.gatewayPort, '/order', {
      traceparent: `00-${sampled}-2222222222222222-01`,
    });
    assert.equal(r2.status, 200, r2.body);
    await receiver.waitFor(
      'the spans of the sampled /order',
      (spans) => ofTrace(spans, sampled).length >= SPANS_PER_ORDER,
    );
    assert.deepEqual(ofTrace(receiver.spans, unsampled), []);
  });

  it('replaces a malformed traceparent with a new trace instead of passing it on', async () => {
    const seen = new Set(receiver.spans.map((s) => s.traceId));
    const r = await get(demo.gatewayPort, '/order', { traceparent: '00-not-a-valid-header-01' });
    assert.equal(r.status, 200, r.body);
    await receiver.waitFor('the spans of the /order with a bad traceparent', (spans) =>
      [...new Set(spans.map((s) => s.traceId))]
        .filter((t) => !seen.has(t))
        .some((t) => ofTrace(spans, t).length >= SPANS_PER_ORDER),
    );
    const fresh = receiver.spans.filter((s) => !seen.has(s.traceId));
    const traceId = fresh.find((s) => s.service === 'gateway.default')!.traceId;
    checkOrderTrace(ofTrace(receiver.spans, traceId), undefined);
  });
});
