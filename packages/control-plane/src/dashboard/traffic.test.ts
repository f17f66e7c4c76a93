import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProxyNode } from '@weft/model';
import { buildGraph, healthOf } from './graph.js';
import {
  bucketQuantile,
  flattenReading,
  trafficBetween,
  type JsonMetric,
  type Reading,
} from './traffic.js';

const gateway: ProxyNode = {
  id: 'gateway-1',
  role: 'gateway',
  namespace: 'default',
  labels: { istio: 'ingressgateway' },
};
const orderSidecar: ProxyNode = {
  id: 'order-1.sidecar',
  role: 'sidecar',
  namespace: 'default',
  labels: { app: 'order' },
  service: 'order',
};
const userSidecar: ProxyNode = { ...orderSidecar, id: 'user-1.sidecar', service: 'user' };

/** Metrics as a proxy serves them: `calls` is [reporter, destination, code, count, ms]. */
function metrics(calls: [string, string, number, number, number][]): JsonMetric[] {
  const bounds = [1, 5, 10, 50, 100, Infinity];
  return [
    {
      name: 'istio_requests_total',
      values: calls.map(([reporter, dest, code, count]) => ({
        value: count,
        labels: {
          reporter,
          destination_service_name: dest,
          destination_service_namespace: 'default',
          response_code: code,
        },
      })),
    },
    {
      name: 'istio_request_duration_milliseconds',
      values: calls.flatMap(([reporter, dest, , count, ms]) =>
        bounds.map((le) => ({
          metricName: 'istio_request_duration_milliseconds_bucket',
          value: ms <= le ? count : 0,
          labels: {
            reporter,
            destination_service_name: dest,
            destination_service_namespace: 'default',
            le: le === Infinity ? '+Inf' : le,
          },
        })),
      ),
    },
  ];
}

function round(atMs: number, readings: [ProxyNode, JsonMetric[]][]): Map<string, Reading> {
  return new Map(
    readings.map(([node, m]) => [node.id, flattenReading({ node, atMs, metrics: m })]),
  );
}

describe('dashboard traffic', () => {
  it('turns two readings into per-edge rates, success and latency', () => {
    const before = round(0, [
      [gateway, metrics([['source', 'order', 200, 100, 3]])],
      [
        orderSidecar,
        metrics([
          ['destination', 'order', 200, 100, 3],
          ['source', 'user', 200, 50, 3],
        ]),
      ],
    ]);
    const after = round(10_000, [
      [
        gateway,
        metrics([
          ['source', 'order', 200, 290, 3],
          ['source', 'order', 503, 10, 3],
        ]),
      ],
      [
        orderSidecar,
        metrics([
          ['destination', 'order', 200, 300, 3],
          ['source', 'user', 200, 150, 40],
        ]),
      ],
    ]);
    const t = trafficBetween(before, after);
    const edge = t.edges.get('gateway:default/ingressgateway->service:default/order')!;
    assert.equal(edge.tally.requests, 20, 'per second');
    assert.equal(edge.tally.errors, 1);
    const g = buildGraph({
      instances: [],
      proxies: [gateway],
      traffic: t,
      version: 7,
      generatedAt: '2026-12-03T00:00:00.000Z',
      unreachable: [],
    });
    const e = g.edges.find((x) => x.source === 'gateway:default/ingressgateway')!;
    assert.equal(e.signals.rps, 20);
    assert.equal(e.signals.successRate, 0.95);
    assert.equal(e.health, 'degraded', 'exactly 95% success is degraded, not yet unhealthy');
    const toUser = g.edges.find((x) => x.target === 'service:default/user')!;
    assert.equal(toUser.signals.rps, 10);
    // Every one of the 100 new requests took 40 ms: the 10..50 bucket.
    assert.ok(
      toUser.signals.p99Ms! > 10 && toUser.signals.p99Ms! <= 50,
      String(toUser.signals.p99Ms),
    );
    assert.equal(t.instances.get('order-1')!.requests, 20);
    const order = g.nodes.find((n) => n.id === 'service:default/order')!;
    assert.equal(order.inbound.rps, 20, "order's own sidecar reports what it received");
    const user = g.nodes.find((n) => n.id === 'service:default/user')!;
    assert.equal(user.inbound.rps, 10, 'without its own sidecar, a node sums its callers');
  });

  it('treats a counter that went down as a restarted proxy', () => {
    const before = round(0, [[userSidecar, metrics([['destination', 'user', 200, 500, 1]])]]);
    const after = round(5_000, [[userSidecar, metrics([['destination', 'user', 200, 20, 1]])]]);
    assert.equal(trafficBetween(before, after).instances.get('user-1')!.requests, 4);
  });

  it('gives no rate for a proxy without an earlier reading, not its whole history', () => {
    const after = round(5_000, [[userSidecar, metrics([['destination', 'user', 200, 500, 1]])]]);
    assert.equal(trafficBetween(new Map(), after).instances.size, 0);
  });

  it('reads which endpoints a proxy has ejected', () => {
    const r = flattenReading({
      node: gateway,
      atMs: 0,
      metrics: [
        {
          name: 'weft_outlier_endpoint_ejected',
          values: [
            { value: 1, labels: { cluster: 'outbound|||user', endpoint: '127.0.0.1:9001' } },
          ],
        },
      ],
    });
    assert.deepEqual([...r.ejected], ['127.0.0.1:9001']);
  });

  it('shows ServiceEntry hosts as external nodes before any traffic', () => {
    const g = buildGraph({
      instances: [],
      externalHosts: ['api.example.com'],
      proxies: [],
      traffic: undefined,
      version: null,
      generatedAt: '2026-12-03T00:00:00.000Z',
      unreachable: [],
    });
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.kind, n.name, n.health]),
      [['external:api.example.com', 'external', 'api.example.com', 'idle']],
    );
  });

  it('interpolates quantiles inside a bucket and says null for no traffic', () => {
    const buckets = new Map([
      [10, 50],
      [20, 100],
      [Infinity, 100],
    ]);
    assert.equal(bucketQuantile(0.5, buckets), 10);
    assert.equal(bucketQuantile(0.75, buckets), 15);
    assert.equal(bucketQuantile(0.5, new Map()), null);
  });

  it('marks health from instances first, then success', () => {
    const ok = { rps: 1, successRate: 1, p50Ms: 1, p99Ms: 1 };
    assert.equal(healthOf(ok, { total: 2, healthy: 0 }), 'unhealthy');
    assert.equal(healthOf(ok, { total: 2, healthy: 1 }), 'degraded');
    assert.equal(healthOf({ ...ok, successRate: 0.98 }, { total: 2, healthy: 2 }), 'degraded');
    assert.equal(healthOf(ok, { total: 2, healthy: 2 }), 'healthy');
    assert.equal(
      healthOf({ rps: 0, successRate: null, p50Ms: null, p99Ms: null }, undefined),
      'idle',
    );
  });

  it('puts registered services and connected gateways in the graph before any traffic', () => {
    const g = buildGraph({
      instances: [
        {
          id: 'user-1',
          service: 'user',
          namespace: 'default',
          address: '127.0.0.1',
          port: 1,
          labels: { version: 'v1' },
          healthy: true,
          weight: 1,
          leaseId: 1,
          revision: 1,
        },
      ],
      proxies: [gateway],
      traffic: undefined,
      version: null,
      generatedAt: '2026-12-03T00:00:00.000Z',
      unreachable: [],
    });
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.health, n.versions]),
      [
        ['gateway:default/ingressgateway', 'idle', []],
        ['service:default/user', 'healthy', ['v1']],
      ],
    );
    assert.deepEqual(g.edges, []);
  });
});
