// A collector that is down or hangs costs the requests nothing: they are answered as usual,
// and what cannot be exported is dropped and counted (never queued without bound). A real
// control plane, a real gateway with tracing at 100 %, a fake upstream, and a collector URL
// where nothing listens or where a server accepts and never answers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import {
  SPAN_EXPORT_CHANNEL,
  startGateway,
  type RunningGateway,
  type SpanExportEvent,
} from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';

const HOST = 'shop.example.com';
const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [${HOST}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
spec:
  hosts: [${HOST}]
  gateways: [edge]
  http:
    - route: [{ destination: { host: ratings } }]
`;

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timeout: the request was held')));
    req.on('error', reject);
    req.end();
  });
}

/** A port where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves with the first export event (of this proxy's endpoint) that satisfies `pred`. */
function exportEvent(
  endpoint: string,
  pred: (e: SpanExportEvent) => boolean,
): Promise<SpanExportEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      diagnosticsChannel.unsubscribe(SPAN_EXPORT_CHANNEL, on);
      reject(new Error('timed out waiting for an export event'));
    }, 20_000);
    const on = (m: unknown) => {
      const e = m as SpanExportEvent;
      if (!e.endpoint.startsWith(endpoint) || !pred(e)) return;
      clearTimeout(timer);
      diagnosticsChannel.unsubscribe(SPAN_EXPORT_CHANNEL, on);
      resolve(e);
    };
    diagnosticsChannel.subscribe(SPAN_EXPORT_CHANNEL, on);
  });
}

describe('tracing with a collector that is down or hangs', { timeout: 90_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let ratings: FakeUpstream;
  let hanging: Server;
  const gateways: RunningGateway[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-tracing-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    ratings = await startFakeUpstream('ratings');
    const reg = await fetch(`${cp.url}/v1/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: 'ratings',
        address: ratings.address,
        port: ratings.port,
        id: 'ratings-1',
        ttlSeconds: 60,
      }),
    });
    assert.equal(reg.status, 201, await reg.text());
    const res = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'shop.yaml', content: YAML }] }),
    });
    assert.equal(res.status, 200, await res.text());
    // Accepts connections and request bodies, never answers.
    hanging = createServer((req) => req.resume());
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    for (const g of gateways) await g.close();
    hanging?.closeAllConnections();
    await new Promise<void>((r) => (hanging ? hanging.close(() => r()) : r()));
    await ratings?.close();
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function gatewayExportingTo(endpoint: string, id: string) {
    const gw = await startGateway({
      control: cp.url,
      port: 0,
      id,
      tracing: {
        otlpEndpoint: endpoint,
        samplingPercent: 100,
        export: { maxQueueSize: 8, maxBatchSize: 4, flushIntervalMs: 50, timeoutMs: 500 },
      },
    });
    gateways.push(gw);
    await gw.ready;
    return gw;
  }

  it('an unreachable collector: every request answered, every span dropped and counted', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const gw = await gatewayExportingTo(endpoint, 'down-gw');
    const requests = 30;
    // Two spans (server and client) per request at the gateway.
    const spans = requests * 2;
    const settled = exportEvent(endpoint, (e) => e.exported + e.dropped >= spans && e.queued === 0);
    const statuses: number[] = [];
    for (let i = 0; i < requests; i++) statuses.push(await get(gw.port));
    assert.deepEqual(new Set(statuses), new Set([200]));
    const e = await settled;
    assert.equal(e.exported, 0);
    assert.equal(e.dropped, spans, 'each span lost is counted once');
    assert.ok(e.failedExports >= 1);
    assert.ok(e.queued <= 8, 'the queue stays within its bound');
    assert.match(e.error ?? '', /ECONNREFUSED|connect/i);
    // The counter is what an operator sees: the proxy's Prometheus endpoint.
    const metrics = await (await fetch(`http://${gw.adminAddress}/stats/prometheus`)).text();
    assert.match(
      metrics,
      new RegExp(`^weft_tracing_spans_total\\{outcome="dropped"\\} ${spans}$`, 'm'),
    );
    assert.match(metrics, /^weft_tracing_spans_total\{outcome="exported"\} 0$/m);
  });

  it('a collector that never answers holds no request, and the queue stays bounded', async () => {
    const endpoint = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/v1/traces`;
    const gw = await gatewayExportingTo(endpoint, 'hang-gw');
    const requests = 30;
    const spans = requests * 2;
    const settled = exportEvent(endpoint, (e) => e.exported + e.dropped >= spans && e.queued === 0);
    const sent = [];
    // Concurrent, so that spans pile up while the first export hangs.
    for (let i = 0; i < requests; i++) sent.push(get(gw.port));
    const statuses = await Promise.all(sent);
    assert.deepEqual(new Set(statuses), new Set([200]));
    const e = await settled;
    assert.equal(e.exported, 0);
    assert.equal(e.dropped, spans);
    assert.ok(e.queued <= 8);
  });
});
