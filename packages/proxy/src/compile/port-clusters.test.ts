import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterName, type Cluster, type ProxyNode, type Route, type Snapshot } from '@weft/model';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { explainRequest } from '../explain/explain.js';
import { compileSnapshot } from './compile-snapshot.js';
import { clusterForPort } from './port-clusters.js';
import type { CompiledDestination, ForwardAction, RouteTable } from './types.js';

const FQDN = 'ratings.default.svc.cluster.local';
const endpoint = {
  id: 'r1',
  address: '10.0.0.1',
  port: 8080,
  labels: {},
  healthy: true,
  weight: 1,
};
const cluster = (port?: number, lb: Cluster['lb'] = 'PEAK_EWMA'): Cluster => ({
  name: clusterName(FQDN, undefined, port),
  service: FQDN,
  ...(port !== undefined ? { port } : {}),
  lb,
  endpoints: [endpoint],
});
const toRatings = (id: string, port?: number): Route => ({
  id,
  matches: [{ headers: { 'x-route': { exact: id } } }],
  action: {
    type: 'route',
    destinations: [
      {
        cluster: clusterName(FQDN),
        weight: 1,
        host: FQDN,
        ...(port !== undefined ? { port } : {}),
      },
    ],
    ...(port !== undefined
      ? { mirrors: [{ cluster: clusterName(FQDN), host: FQDN, port, percent: 100 }] }
      : {}),
  },
});
const vhost = {
  name: 'ratings',
  domains: ['ratings'],
  routes: [toRatings('p9090', 9090), toRatings('any')],
};
const snapshot: Snapshot = {
  version: 1,
  clusters: [cluster(), cluster(9080, 'ROUND_ROBIN'), cluster(9090, 'RANDOM')],
  mesh: { virtualHosts: [vhost] },
  gateways: [
    {
      name: 'default/edge',
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: 9080, protocol: 'HTTP' }, hosts: ['*'] }],
      virtualHosts: [vhost],
    },
  ],
};

const sidecar: ProxyNode = { id: 's', role: 'sidecar', namespace: 'default', labels: {} };
const gateway: ProxyNode = {
  id: 'g',
  role: 'gateway',
  namespace: 'default',
  labels: { istio: 'ingressgateway' },
};
const compile = (node: ProxyNode) =>
  compileSnapshot(snapshot, { node, health: createHealthTracker() });

function forward(table: RouteTable, which: 'mesh' | 'gateway', id: string): ForwardAction {
  const route = table[which].lookup('ratings')!.routes.find((r) => r.id === id)!;
  assert.equal(route.action.type, 'route');
  return route.action as ForwardAction;
}
const only = (a: ForwardAction): CompiledDestination => a.destinations[0]!;

describe('portLevelSettings clusters in the data plane', () => {
  it('a destination that names a port uses that port cluster, on every listener', () => {
    for (const [node, which] of [
      [sidecar, 'mesh'],
      [gateway, 'gateway'],
    ] as const) {
      const a = forward(compile(node), which, 'p9090');
      assert.equal(only(a).clusterName, clusterName(FQDN, undefined, 9090));
      assert.equal(only(a).cluster?.policy, 'RANDOM');
      assert.equal(only(a).byPort, undefined, 'nothing left to decide per request');
      assert.equal(a.mirrors?.[0]?.cluster?.name, clusterName(FQDN, undefined, 9090));
    }
  });

  it("on a sidecar a destination without a port goes by the request's port", () => {
    const d = only(forward(compile(sidecar), 'mesh', 'any'));
    assert.equal(d.cluster?.name, clusterName(FQDN));
    assert.equal(clusterForPort(d, 9080)?.policy, 'ROUND_ROBIN');
    assert.equal(clusterForPort(d, 9090)?.policy, 'RANDOM');
    assert.equal(clusterForPort(d, 80)?.name, clusterName(FQDN), 'no port cluster: portless');
  });

  it("on a gateway the listener's port picks nothing", () => {
    const d = only(forward(compile(gateway), 'gateway', 'any'));
    assert.equal(d.byPort, undefined);
    assert.equal(clusterForPort(d, 9080)?.name, clusterName(FQDN));
  });

  it('a port that names no port cluster keeps the portless one', () => {
    const table = compileSnapshot(
      { ...snapshot, mesh: { virtualHosts: [{ ...vhost, routes: [toRatings('p1', 1)] }] } },
      { node: sidecar, health: createHealthTracker() },
    );
    assert.equal(only(forward(table, 'mesh', 'p1')).cluster?.name, clusterName(FQDN));
  });

  it('explain names the port cluster a request would use', () => {
    const explain = (url: string, headers: Record<string, string>) => {
      const trace = explainRequest(
        snapshot,
        { method: 'GET', url, headers },
        {
          view: { kind: 'sidecar' },
        },
      );
      assert.equal(trace.action?.type, 'route');
      const d = trace.action?.type === 'route' ? trace.action.destinations[0] : undefined;
      return [d?.cluster, d?.lb?.policy, d?.port];
    };
    assert.deepEqual(explain('http://ratings:9080/', { 'x-route': 'any' }), [
      clusterName(FQDN, undefined, 9080),
      'ROUND_ROBIN',
      undefined,
    ]);
    assert.deepEqual(explain('http://ratings/', { 'x-route': 'any' }), [
      clusterName(FQDN),
      'PEAK_EWMA',
      undefined,
    ]);
    assert.deepEqual(explain('http://ratings/', { 'x-route': 'p9090' }), [
      clusterName(FQDN, undefined, 9090),
      'RANDOM',
      9090,
    ]);
  });

  it('rejects a cluster port that is not a port number', () => {
    assert.throws(
      () =>
        compileSnapshot(
          { ...snapshot, clusters: [{ ...cluster(9080), port: 0 }] },
          { node: sidecar, health: createHealthTracker() },
        ),
      /clusters\[0\]\.port: 0 is not a port number/,
    );
  });
});
