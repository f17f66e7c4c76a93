import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance } from '@weft/model';
import type { TranslateInput } from './input.js';
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
});
