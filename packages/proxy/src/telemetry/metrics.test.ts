import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteTable } from '../compile/types.js';
import { requestEndChannel, type RequestEndEvent } from './channels.js';
import { createProxyMetrics } from './metrics.js';

const CLUSTER = 'outbound|||user.default.svc.cluster.local';

// Only what the metrics read of a table: its version and clusters with endpoint labels.
const table = {
  version: 7,
  clusters: new Map([
    [
      CLUSTER,
      {
        name: CLUSTER,
        service: 'user.default.svc.cluster.local',
        endpoints: [
          {
            key: '10.0.0.1:80',
            labels: { app: 'user', version: 'v1' },
            outlier: { ejectedUntil: 0 },
          },
          {
            key: '10.0.0.2:80',
            labels: { app: 'user', version: 'v2' },
            outlier: { ejectedUntil: 0 },
          },
        ],
      },
    ],
  ]),
} as unknown as RouteTable;

function event(over: Partial<RequestEndEvent>): RequestEndEvent {
  return {
    proxyId: 'gateway',
    kind: 'gateway',
    method: 'GET',
    authority: 'shop.example.com',
    path: '/',
    routeId: 'default/shop#0',
    cluster: CLUSTER,
    endpoint: '10.0.0.1:80',
    status: 200,
    flag: undefined,
    durationMs: 30,
    attempts: 1,
    requestId: undefined,
    requestBytes: 120,
    responseBytes: 700,
    ...over,
  };
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('proxy metrics', () => {
  const node = {
    id: 'gateway',
    role: 'gateway' as const,
    namespace: 'default',
    labels: { istio: 'ingressgateway' },
  };

  it('counts requests under Istio labels from the endpoint that answered, never the path', async () => {
    const m = createProxyMetrics({ node, table: () => table, processMetrics: false });
    try {
      for (let i = 0; i < 100; i++)
        m.record(event({ path: `/items/${i}`, authority: `h${i}.example` }));
      m.record(event({ endpoint: '10.0.0.2:80', status: 503, flag: 'URX', attempts: 3 }));
      m.record(
        event({
          cluster: undefined,
          endpoint: undefined,
          routeId: undefined,
          status: 404,
          flag: 'NR',
        }),
      );
      const text = await m.registry.metrics();
      assert.equal(
        sample(text, 'istio_requests_total', {
          reporter: 'source',
          source_workload: 'istio-ingressgateway',
          destination_workload: 'user-v1',
          destination_service_name: 'user',
          response_code: '200',
          response_flags: '-',
        }),
        100,
      );
      assert.equal(
        sample(text, 'istio_requests_total', {
          destination_version: 'v2',
          response_code: '503',
          response_flags: 'URX',
        }),
        1,
      );
      assert.equal(
        sample(text, 'istio_requests_total', {
          destination_service: 'unknown',
          response_code: '404',
          response_flags: 'NR',
        }),
        1,
      );
      assert.ok(!text.includes('/items/'), 'a path became a label');
      assert.ok(!text.includes('.example"'), 'a Host header became a label');
      assert.equal(text.match(/^istio_requests_total\{/gm)?.length, 3);
      // 30 ms falls in Istio's (25, 50] bucket.
      const v1 = { destination_workload: 'user-v1', response_code: '200' };
      assert.equal(
        sample(text, 'istio_request_duration_milliseconds_bucket', { ...v1, le: '25' }),
        0,
      );
      assert.equal(
        sample(text, 'istio_request_duration_milliseconds_bucket', { ...v1, le: '50' }),
        100,
      );
      assert.equal(sample(text, 'istio_request_duration_milliseconds_sum', v1), 3000);
      assert.equal(sample(text, 'istio_request_bytes_sum', v1), 12000);
      assert.equal(sample(text, 'istio_response_bytes_bucket', { ...v1, le: '1000' }), 100);
      assert.equal(sample(text, 'weft_upstream_retries_total', { cluster: CLUSTER }), 2);
      assert.equal(
        sample(text, 'weft_route_requests_total', {
          route: 'default/shop#0',
          response_code: '200',
        }),
        100,
      );
      assert.match(text, /^weft_snapshot_version 7$/m);
    } finally {
      m.close();
    }
  });

  it('follows the request-end channel for its own proxy only', async () => {
    const m = createProxyMetrics({ node, table: () => table, processMetrics: false });
    try {
      requestEndChannel.publish(event({}));
      requestEndChannel.publish(event({ proxyId: 'someone-else' }));
      const text = await m.registry.metrics();
      assert.equal(sample(text, 'istio_requests_total', { response_code: '200' }), 1);
    } finally {
      m.close();
    }
    // Unsubscribed: nothing is recorded after close.
    assert.equal(requestEndChannel.hasSubscribers, false);
  });

  it('reports the sidecar inbound side as destination, with its own workload', async () => {
    const sidecar = {
      id: 'user-1.sidecar',
      role: 'sidecar' as const,
      namespace: 'default',
      labels: { app: 'user', version: 'v1' },
      service: 'user',
    };
    const m = createProxyMetrics({ node: sidecar, table: () => undefined, processMetrics: false });
    try {
      m.record(
        event({
          proxyId: sidecar.id,
          kind: 'inbound',
          cluster: 'inbound|8080||',
          endpoint: '127.0.0.1:8080',
        }),
      );
      const text = await m.registry.metrics();
      assert.equal(
        sample(text, 'istio_requests_total', {
          reporter: 'destination',
          destination_workload: 'user-v1',
          destination_service: 'user.default.svc.cluster.local',
          source_workload: 'unknown',
          connection_security_policy: 'none',
        }),
        1,
      );
    } finally {
      m.close();
    }
  });
});
