import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScopeLearner } from './learn.js';

function learner(declared: string[] = [], holdMs = 60_000, maxHosts?: number) {
  const sent: string[][] = [];
  const l = createScopeLearner({
    declared,
    namespace: 'shop',
    holdMs,
    ...(maxHosts !== undefined ? { maxHosts } : {}),
    rescope: (u) => {
      sent.push(u);
      return sent.length;
    },
  });
  return { l, sent };
}

describe('scope learning', () => {
  it('widens the scope once per new host and releases its requests when answered', async () => {
    const { l, sent } = learner(['stock']);
    assert.equal(l.learn('stock:8080'), undefined, 'a declared host is not held');
    const first = l.learn('order:8080');
    const second = l.learn('ORDER');
    assert.ok(first && second, 'both requests for the new host are held');
    assert.deepEqual(sent, [['order.shop.svc.cluster.local', 'stock.shop.svc.cluster.local']]);
    let released = false;
    void first.then(() => (released = true));
    l.applied(0);
    await Promise.resolve();
    assert.equal(released, false, 'an answer to an earlier scope releases nothing');
    l.applied(1);
    await Promise.all([first, second]);
    assert.equal(l.learn('order'), undefined, 'learned: no hold any more (route or 404 NR)');
    assert.equal(sent.length, 1);
    assert.equal(l.learn('api.example.com:443') !== undefined, true, 'external hosts as written');
    assert.deepEqual(sent[1], [
      'api.example.com',
      'order.shop.svc.cluster.local',
      'stock.shop.svc.cluster.local',
    ]);
  });

  it('gives up holding after holdMs, and stops learning past maxHosts', async () => {
    const { l, sent } = learner([], 5, 1);
    const held = l.learn('order');
    assert.ok(held);
    await held; // never answered: released by its hold time
    assert.equal(l.learn('stock'), undefined, 'past the limit the host is not learned');
    assert.equal(sent.length, 1);
  });
});
