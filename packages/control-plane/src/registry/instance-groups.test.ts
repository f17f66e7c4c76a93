import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance } from '@weft/model';
import { InstanceGroups } from './instance-groups.js';

const inst = (service: string, n: number, namespace = 'default'): Instance => ({
  id: `${service}-${n}`,
  service,
  namespace,
  address: '127.0.0.1',
  port: 9000 + n,
  labels: {},
  healthy: true,
  weight: 1,
  leaseId: 0,
  revision: n,
});
const A = 'a.default.svc.cluster.local';
const B = 'b.default.svc.cluster.local';

describe('InstanceGroups', () => {
  it('replaces only the array of the group that changed', () => {
    const g = new InstanceGroups();
    g.set('k/a-1', inst('a', 1));
    g.set('k/a-2', inst('a', 2));
    g.set('k/b-1', inst('b', 1));
    const first = g.groups();
    const a1 = first.get(A);
    const b1 = first.get(B);
    assert.deepEqual(
      a1?.map((i) => i.id),
      ['a-1', 'a-2'],
    );
    const changed = inst('a', 2);
    g.set('k/a-2', changed);
    const second = g.groups();
    assert.notEqual(second.get(A), a1, "a's group is a new array");
    assert.equal(second.get(B), b1, "b's group is the same object");
    assert.equal(second.get(A)?.[1], changed);
    assert.deepEqual(
      a1?.map((i) => i.id),
      ['a-1', 'a-2'],
      'an array handed out is never changed afterwards',
    );
  });

  it('moves an instance whose service changed, and drops emptied groups', () => {
    const g = new InstanceGroups();
    g.set('k/x', inst('a', 1));
    g.groups();
    g.set('k/x', { ...inst('b', 1), id: 'a-1' });
    const groups = g.groups();
    assert.equal(groups.has(A), false);
    assert.deepEqual(
      groups.get(B)?.map((i) => i.id),
      ['a-1'],
    );
    g.delete('k/x');
    g.delete('k/never');
    assert.equal(g.groups().size, 0);
  });

  it('keys groups by FQDN, so namespaces do not mix', () => {
    const g = new InstanceGroups();
    g.set('k/1', inst('a', 1));
    g.set('k/2', inst('a', 2, 'shop'));
    assert.deepEqual([...g.groups().keys()].sort(), [A, 'a.shop.svc.cluster.local']);
    g.clear();
    assert.equal(g.groups().size, 0);
  });
});
