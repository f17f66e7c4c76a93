import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteTable } from '../compile/types.js';
import { requestEndChannel, type RequestEndEvent } from './channels.js';
import { workloadOf } from './istio-labels.js';
import { createProxyMetrics } from './metrics.js';
import { encodePeerMetadata, MAX_DISTINCT } from './peer-metadata.js';

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
  const sidecar = {
    id: 'user-1.sidecar',
    role: 'sidecar' as const,
    namespace: 'default',
    labels: { app: 'user', version: 'v1' },
    service: 'user',
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

  it('counts every request that ended before a read, whichever metric is read', async () => {
    // Events wait in a batch (telemetry/batch.ts); a read of any metric they feed takes them.
    const m = createProxyMetrics({ node, table: () => table, processMetrics: false });
    try {
      requestEndChannel.publish(event({ attempts: 3 }));
      const retries = await m.registry.getSingleMetric('weft_upstream_retries_total')!.get();
      assert.deepEqual(
        retries.values.map((v) => [v.labels.cluster, v.value]),
        [[CLUSTER, 2]],
      );
      requestEndChannel.publish(event({}));
      const routes = await m.registry.getSingleMetric('weft_route_requests_total')!.get();
      assert.equal(
        routes.values.reduce((n, v) => n + v.value, 0),
        2,
      );
    } finally {
      m.close();
    }
  });

  it('reports the sidecar inbound side as destination, with its own workload', async () => {
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

  describe('mesh peers', () => {
    const ORDER_ID = 'spiffe://cluster.local/ns/shop/sa/order';
    const orderMeta = encodePeerMetadata(
      workloadOf({ app: 'order', version: 'v2' }, 'order', 'shop'),
      'order',
    );
    const inbound = (over: Partial<RequestEndEvent>) =>
      event({
        proxyId: sidecar.id,
        kind: 'inbound',
        cluster: 'inbound|8080||',
        endpoint: '127.0.0.1:8080',
        mutualTls: true,
        peerPrincipal: ORDER_ID,
        ...over,
      });

    const sidecarMetrics = () =>
      createProxyMetrics({ node: sidecar, table: () => undefined, processMetrics: false });

    it('fills source_* on reporter=destination from metadata its caller proved, else from the certificate', async () => {
      const m = sidecarMetrics();
      try {
        m.record(inbound({ peerMetadata: orderMeta }));
        // Metadata another identity presents is not believed: the certificate's facts remain.
        m.record(
          inbound({
            peerMetadata: orderMeta,
            peerPrincipal: 'spiffe://cluster.local/ns/shop/sa/stock',
          }),
        );
        m.record(inbound({ mutualTls: false, peerPrincipal: undefined, peerMetadata: orderMeta }));
        const text = await m.registry.metrics();
        assert.equal(
          sample(text, 'istio_requests_total', {
            reporter: 'destination',
            source_workload: 'order-v2',
            source_workload_namespace: 'shop',
            source_principal: ORDER_ID,
            source_app: 'order',
            source_version: 'v2',
            source_canonical_service: 'order',
            source_canonical_revision: 'v2',
            destination_workload: 'user-v1',
            connection_security_policy: 'mutual_tls',
          }),
          1,
        );
        assert.equal(
          sample(text, 'istio_requests_total', {
            source_workload: 'stock',
            source_workload_namespace: 'shop',
            source_app: 'stock',
            source_version: 'unknown',
            source_canonical_service: 'stock',
          }),
          1,
        );
        assert.equal(
          sample(text, 'istio_requests_total', {
            source_workload: 'unknown',
            source_principal: 'unknown',
            connection_security_policy: 'none',
          }),
          1,
        );
      } finally {
        m.close();
      }
    });

    it('fills destination_principal on reporter=source from the identity the endpoint proved, and the workload from its answer', async () => {
      const USER_ID = 'spiffe://cluster.local/ns/default/sa/user';
      const m = createProxyMetrics({ node, table: () => table, processMetrics: false });
      try {
        m.record(event({ upstreamIdentity: USER_ID }));
        const answer = encodePeerMetadata(
          workloadOf({ app: 'user', version: 'canary' }, 'user', 'default'),
          'user',
        );
        m.record(event({ upstreamIdentity: USER_ID, upstreamPeerMetadata: answer }));
        const text = await m.registry.metrics();
        assert.equal(
          sample(text, 'istio_requests_total', {
            reporter: 'source',
            destination_workload: 'user-v1',
            destination_principal: USER_ID,
          }),
          1,
        );
        assert.equal(
          sample(text, 'istio_requests_total', {
            destination_workload: 'user-canary',
            destination_version: 'canary',
            destination_principal: USER_ID,
          }),
          1,
        );
      } finally {
        m.close();
      }
    });

    it('says grpc for gRPC requests, with their status, and http otherwise', async () => {
      const m = createProxyMetrics({ node, table: () => table, processMetrics: false });
      try {
        m.record(event({ grpc: true, grpcStatus: 14 }));
        m.record(event({ grpc: true, grpcStatus: 999 }));
        m.record(event({}));
        const text = await m.registry.metrics();
        assert.equal(
          sample(text, 'istio_requests_total', {
            request_protocol: 'grpc',
            grpc_response_status: '14',
          }),
          1,
        );
        assert.equal(
          sample(text, 'istio_requests_total', {
            request_protocol: 'grpc',
            grpc_response_status: '',
          }),
          1,
        );
        assert.equal(sample(text, 'istio_requests_total', { request_protocol: 'http' }), 1);
      } finally {
        m.close();
      }
    });

    it('does not let unauthenticated metadata use up the bound', async () => {
      const m = sidecarMetrics();
      try {
        for (let i = 0; i < MAX_DISTINCT + 10; i++) {
          // Plaintext callers, and an app's own header on its outbound requests.
          m.record(inbound({ mutualTls: false, peerPrincipal: undefined, peerMetadata: `p${i}` }));
          m.record(
            event({
              proxyId: sidecar.id,
              kind: 'outbound',
              upstreamIdentity: 'spiffe://cluster.local/ns/default/sa/user',
              peerMetadata: `o${i}`,
            }),
          );
        }
        m.record(inbound({ peerMetadata: orderMeta }));
        const text = await m.registry.metrics();
        assert.equal(sample(text, 'istio_requests_total', { source_workload: 'order-v2' }), 1);
      } finally {
        m.close();
      }
    });

    it('keeps label sets bounded when a peer varies its metadata', async () => {
      const m = sidecarMetrics();
      try {
        for (let i = 0; i < MAX_DISTINCT + 50; i++) {
          const meta = encodePeerMetadata(
            workloadOf({ app: 'order', version: `v${i}` }, 'order', 'shop'),
            'order',
          );
          m.record(inbound({ peerMetadata: meta }));
        }
        const text = await m.registry.metrics();
        const series = text.match(/^istio_requests_total\{/gm)?.length ?? 0;
        // One series per accepted value, and one for everything past the bound.
        assert.equal(series, MAX_DISTINCT + 1);
        assert.equal(sample(text, 'istio_requests_total', { source_version: 'unknown' }), 50);
      } finally {
        m.close();
      }
    });
  });
});
