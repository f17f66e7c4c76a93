import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translate } from '../translate/translate.js';
import type { Instance } from '@weft/model';
import { scopeOf, scopeSnapshot } from './scope.js';

const inst = (service: string, id: string): Instance => ({
  id,
  service,
  namespace: 'default',
  address: '127.0.0.1',
  port: 9000,
  labels: {},
  healthy: true,
  weight: 1,
  leaseId: 0,
  revision: 1,
});

describe('scoping a snapshot to declared upstreams', () => {
  const snapshot = translate({
    version: 5,
    virtualServices: [
      {
        metadata: { name: 'order', namespace: 'default' },
        spec: {
          hosts: ['order'],
          http: [{ route: [{ destination: { host: 'order-v2' } }], mirror: { host: 'audit' } }],
        },
      },
    ],
    destinationRules: [],
    gateways: [],
    instances: ['order', 'order-v2', 'audit', 'stock', 'user', 'billing'].map((s) =>
      inst(s, `${s}-1`),
    ),
  });

  it('keeps the upstreams, what their routes send to, and nothing else', () => {
    const view = scopeSnapshot(snapshot, scopeOf(['order', 'stock'], 'default'));
    assert.deepEqual(
      view.mesh.virtualHosts.map((v) => v.name),
      ['default/order', 'default|stock.default.svc.cluster.local'],
    );
    assert.deepEqual(view.clusters.map((c) => c.service).sort(), [
      'audit.default.svc.cluster.local',
      'order-v2.default.svc.cluster.local',
      'order.default.svc.cluster.local',
      'stock.default.svc.cluster.local',
    ]);
    assert.ok(JSON.stringify(view).length < JSON.stringify(snapshot).length);
    // The view shares the snapshot's objects: deltas between views compare by identity.
    assert.ok(view.clusters.every((c) => snapshot.clusters.includes(c)));
  });

  it('without a declaration is the whole snapshot', () => {
    assert.equal(scopeSnapshot(snapshot, scopeOf(undefined, 'default')), snapshot);
    assert.equal(
      scopeOf(['order', ' order.default.svc.cluster.local '], 'default').key,
      'order.default.svc.cluster.local',
    );
  });
});
