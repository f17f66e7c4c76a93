import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeProxyWaits, type ProxyWaitAnswer } from './proxy-wait.js';

const answer = (done: boolean, proxies: ProxyWaitAnswer['proxies']): ProxyWaitAnswer => ({
  version: 7,
  done,
  timedOut: !done,
  proxies,
});

describe('mergeProxyWaits', () => {
  it('is done only when every replica is', () => {
    const a = answer(true, [{ id: 'gw', role: 'gateway', ackedVersion: 7, state: 'live' }]);
    const b = answer(false, [{ id: 's1', role: 'sidecar', ackedVersion: 5, state: 'lagging' }]);
    const m = mergeProxyWaits([a, b]);
    assert.equal(m.done, false);
    assert.equal(m.timedOut, true);
    assert.deepEqual(
      m.proxies.map((p) => `${p.id}:${p.state}`),
      ['gw:live', 's1:lagging'],
    );
    assert.equal(mergeProxyWaits([a, answer(true, [])]).done, true);
    assert.equal(mergeProxyWaits([]).done, false, 'no replica answered: nothing is known');
  });

  it('keeps where a proxy that moved between replicas got furthest', () => {
    const m = mergeProxyWaits([
      answer(false, [{ id: 's1', role: 'sidecar', ackedVersion: 5, state: 'lagging' }]),
      answer(true, [{ id: 's1', role: 'sidecar', ackedVersion: 8, state: 'live' }]),
    ]);
    assert.equal(m.done, true);
    assert.deepEqual(m.proxies, [{ id: 's1', role: 'sidecar', ackedVersion: 8, state: 'live' }]);
  });
});
