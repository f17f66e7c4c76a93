import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyDelta, diffSnapshots, isEmptyDelta } from './delta.js';
import { clusterName, type Cluster, type Snapshot, type VirtualHost } from './snapshot.js';

const cluster = (svc: string, ids: string[]): Cluster => ({
  name: clusterName(`${svc}.default.svc.cluster.local`),
  service: `${svc}.default.svc.cluster.local`,
  lb: 'ROUND_ROBIN',
  endpoints: ids.map((id, i) => ({
    id,
    address: '127.0.0.1',
    port: 9000 + i,
    labels: {},
    healthy: true,
    weight: 1,
  })),
});
const vhost = (svc: string): VirtualHost => ({
  name: `default|${svc}`,
  domains: [svc],
  routes: [],
});
const snap = (version: number, clusters: Cluster[], hosts: VirtualHost[]): Snapshot => ({
  version,
  gateways: [],
  mesh: { virtualHosts: hosts },
  clusters,
});

describe('snapshot deltas', () => {
  const a = cluster('a', ['a-1']);
  const b = cluster('b', ['b-1', 'b-2']);
  const c = cluster('c', ['c-1']);
  const base = snap(10, [a, b, c], [vhost('a'), vhost('b'), vhost('c')]);

  it('carries only the changed cluster, and rebuilds the next snapshot exactly', () => {
    const next = snap(11, [a, cluster('b', ['b-1']), c], base.mesh.virtualHosts);
    const d = diffSnapshots(base, next);
    assert.deepEqual(
      d.clusters.upsert.map((x) => x.name),
      [b.name],
    );
    assert.deepEqual(d.clusters.remove, []);
    assert.equal(d.clusters.order, undefined, 'the order did not change');
    assert.equal(d.gateways, undefined);
    assert.deepEqual(applyDelta(base, d), next);
  });

  it('same names in another order: sends the order, and no item that is the same', () => {
    const next = snap(12, [c, b, a], base.mesh.virtualHosts);
    const d = diffSnapshots(base, next);
    assert.deepEqual(d.clusters.upsert, []);
    assert.deepEqual(d.clusters.order, [c.name, b.name, a.name]);
    assert.deepEqual(applyDelta(base, d), next);
  });

  it('removes and adds by name, sending the order only when it changed', () => {
    const d2 = cluster('d', ['d-1']);
    const next = snap(12, [a, c, d2], [vhost('a'), vhost('c'), vhost('d')]);
    const d = diffSnapshots(base, next);
    assert.deepEqual(d.clusters.remove, [b.name]);
    assert.deepEqual(
      d.clusters.upsert.map((x) => x.name),
      [d2.name],
    );
    assert.ok(d.clusters.order);
    assert.deepEqual(applyDelta(base, d), next);
    // Removing only keeps the survivors' order: no order list is needed.
    const removed = diffSnapshots(base, snap(13, [a, c], base.mesh.virtualHosts));
    assert.equal(removed.clusters.order, undefined);
    assert.deepEqual(applyDelta(base, removed).clusters, [a, c]);
  });

  it('is empty when only the version moved, and refuses another base', () => {
    const d = diffSnapshots(base, { ...base, version: 14 });
    assert.ok(isEmptyDelta(d));
    assert.equal(applyDelta(base, d).version, 14);
    assert.throws(() => applyDelta({ ...base, version: 9 }, d), /cannot apply to 9/);
  });

  it('carries PeerAuthentications when they change, and their removal', () => {
    const security = {
      peerAuthentications: [
        { namespace: 'istio-system', name: 'default', mode: 'STRICT' as const },
      ],
    };
    const strict = { ...snap(11, base.clusters, base.mesh.virtualHosts), security };
    const on = diffSnapshots(base, strict);
    assert.deepEqual(on.security, security);
    assert.deepEqual(applyDelta(base, on), strict);
    assert.equal(diffSnapshots(strict, { ...strict, version: 12 }).security, undefined);
    const off = diffSnapshots(strict, snap(13, base.clusters, base.mesh.virtualHosts));
    assert.equal(off.security, null);
    assert.equal(isEmptyDelta(off), false);
    assert.equal(applyDelta(strict, off).security, undefined);
  });

  it('carries AuthorizationPolicies when they change', () => {
    const authorization = [{ name: 'shop/deny', action: 'DENY' as const, scope: {}, rules: [] }];
    const next = { ...snap(11, base.clusters, base.mesh.virtualHosts), authorization };
    const d = diffSnapshots(base, next);
    assert.deepEqual(d.authorization, authorization);
    assert.deepEqual(applyDelta(base, d), next);
    const gone = diffSnapshots(next, snap(12, base.clusters, base.mesh.virtualHosts));
    assert.equal(gone.authorization, null);
    assert.equal(applyDelta(next, gone).authorization, undefined);
  });
});
