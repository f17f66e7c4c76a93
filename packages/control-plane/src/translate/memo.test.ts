import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance } from '@weft/model';
import type { TranslateInput } from './input.js';
import { InstanceGroups } from '../registry/instance-groups.js';
import { createTranslateMemo } from './memo.js';
import { translate } from './translate.js';

const inst = (service: string, n: number, healthy = true): Instance => ({
  id: `${service}-${n}`,
  service,
  namespace: 'default',
  address: '127.0.0.1',
  port: 9000 + n,
  labels: { version: n % 2 ? 'v1' : 'v2' },
  healthy,
  weight: 1,
  leaseId: 0,
  revision: n,
});

describe('incremental translate', () => {
  it('gives what a full translate gives, reusing the clusters of unchanged services', () => {
    const instances = ['a', 'b', 'c'].flatMap((s) => [inst(s, 1), inst(s, 2)]);
    const dr = {
      metadata: { name: 'b', namespace: 'default', createRevision: 1 },
      spec: { host: 'b', subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
    };
    const input: TranslateInput = {
      version: 1,
      virtualServices: [],
      destinationRules: [dr],
      gateways: [],
      instances,
    };
    const memo = createTranslateMemo();
    const first = translate(input, memo);
    assert.deepEqual(first, translate(input));

    // One instance of b changes: only b's clusters are rebuilt.
    const changed = instances.map((i) => (i.id === 'b-1' ? inst('b', 1, false) : i));
    const next = { ...input, version: 2, instances: changed };
    const second = translate(next, memo);
    assert.deepEqual(second, translate(next));
    assert.deepEqual(memo.stats, { reused: 2, rebuilt: 1 });
    const byName = (s: typeof first, n: string) => s.clusters.find((c) => c.name === n);
    assert.equal(
      byName(second, 'outbound|||a.default.svc.cluster.local'),
      byName(first, 'outbound|||a.default.svc.cluster.local'),
    );
    assert.notEqual(
      byName(second, 'outbound||v1|b.default.svc.cluster.local'),
      byName(first, 'outbound||v1|b.default.svc.cluster.local'),
    );
    assert.equal(second.mesh.virtualHosts[0], first.mesh.virtualHosts[0]);

    // A new DestinationRule spec object rebuilds its service even with the same instances.
    const third = translate(
      { ...next, version: 3, destinationRules: [{ ...dr, spec: { ...dr.spec, subsets: [] } }] },
      memo,
    );
    assert.equal(third.clusters.filter((c) => c.service.startsWith('b.')).length, 1);
    // A service that left is gone from the memo too.
    const fourth = translate(
      { ...next, version: 4, instances: changed.filter((i) => i.service !== 'c') },
      memo,
    );
    assert.ok(!fourth.clusters.some((c) => c.service.startsWith('c.')));
    assert.ok(!memo.clusters.has('c.default.svc.cluster.local'));
  });

  it('with instance groups kept by the caller, reuses untouched services and gives the same output', () => {
    const groups = new InstanceGroups();
    const all = new Map<string, Instance>();
    const put = (i: Instance) => {
      all.set(i.id, i);
      groups.set(i.id, i);
    };
    for (const s of ['a', 'b', 'c']) for (const n of [1, 2]) put(inst(s, n));
    const vs = {
      metadata: { name: 'a', namespace: 'default', createRevision: 1 },
      spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'b' } }] }] },
    };
    const inputAt = (version: number, virtualServices: (typeof vs)[] = []): TranslateInput => ({
      version,
      virtualServices,
      destinationRules: [],
      gateways: [],
      instances: [...all.values()],
      instanceGroups: groups.groups(),
    });
    const memo = createTranslateMemo();
    const first = translate(inputAt(1), memo);
    assert.deepEqual(first, translate({ ...inputAt(1), instanceGroups: undefined }));

    put(inst('c', 1, false));
    const second = translate(inputAt(2), memo);
    assert.deepEqual(second, translate({ ...inputAt(2), instanceGroups: undefined }));
    assert.deepEqual(memo.stats, { reused: 2, rebuilt: 1 });
    assert.deepEqual(second.mesh.virtualHosts, first.mesh.virtualHosts);
    second.mesh.virtualHosts.forEach((vh, i) => assert.equal(vh, first.mesh.virtualHosts[i]));

    // A VirtualService claims a's host: the default routes are made again, not reused.
    const third = translate(inputAt(3, [vs]), memo);
    assert.deepEqual(third, translate({ ...inputAt(3, [vs]), instanceGroups: undefined }));
    assert.ok(
      !third.mesh.virtualHosts.some((vh) => vh.name === 'default|a.default.svc.cluster.local'),
    );
    const fourth = translate(inputAt(4), memo);
    assert.deepEqual(fourth, translate({ ...inputAt(4), instanceGroups: undefined }));
    assert.ok(
      fourth.mesh.virtualHosts.some((vh) => vh.name === 'default|a.default.svc.cluster.local'),
    );
  });
});
