import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { workloadOf } from './istio-labels.js';
import {
  decodePeerMetadata,
  encodePeerMetadata,
  peerWorkload,
  trustedPeerMetadata,
} from './peer-metadata.js';

const order = workloadOf({ app: 'order', version: 'v2' }, 'order', 'shop');
const ORDER_ID = 'spiffe://cluster.local/ns/shop/sa/order';

describe('peer metadata', () => {
  it('round-trips a workload through a header-safe value', () => {
    const h = encodePeerMetadata(order, 'order');
    assert.match(h, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodePeerMetadata(h), {
      workload: 'order-v2',
      namespace: 'shop',
      service: 'order',
      app: 'order',
      version: 'v2',
      canonicalService: 'order',
      canonicalRevision: 'v2',
      cluster: 'unknown',
    });
  });

  it('is believed only from the identity it names', () => {
    const h = encodePeerMetadata(order, 'order');
    const w = trustedPeerMetadata(h, ORDER_ID);
    assert.equal(w?.workload, 'order-v2');
    assert.equal(w?.principal, ORDER_ID);
    // Another service, or the same name in another namespace, cannot borrow it.
    assert.equal(trustedPeerMetadata(h, 'spiffe://cluster.local/ns/shop/sa/user'), undefined);
    assert.equal(trustedPeerMetadata(h, 'spiffe://cluster.local/ns/other/sa/order'), undefined);
    // Plaintext: no identity, nothing believed, nothing inferred.
    assert.equal(peerWorkload(h, undefined), undefined);
  });

  it('falls back to what the verified identity says when the metadata is absent or wrong', () => {
    const liar = encodePeerMetadata({ ...order, namespace: 'kube-system' }, 'order');
    for (const h of [undefined, liar, 'not base64 json', 'W10']) {
      assert.deepEqual(peerWorkload(h, 'spiffe://cluster.local/ns/shop/sa/user'), {
        workload: 'user',
        namespace: 'shop',
        principal: 'spiffe://cluster.local/ns/shop/sa/user',
        app: 'user',
        version: 'unknown',
        canonicalService: 'user',
        canonicalRevision: 'latest',
        cluster: 'unknown',
      });
    }
    assert.equal(peerWorkload(undefined, 'spiffe://cluster.local/not-a-workload'), undefined);
  });

  it('rejects values that would make unbounded or odd labels', () => {
    const enc = (a: unknown) => Buffer.from(JSON.stringify(a)).toString('base64url');
    const ok = ['w', 'shop', 'order', 'a', 'v', 'c', 'r', 'k'];
    assert.ok(decodePeerMetadata(enc(ok)));
    assert.equal(decodePeerMetadata(enc([...ok.slice(0, 7), 'x'.repeat(64)])), undefined);
    assert.equal(decodePeerMetadata(enc([...ok.slice(0, 7), 'a b'])), undefined);
    assert.equal(decodePeerMetadata(enc([...ok.slice(0, 7), 7])), undefined);
    assert.equal(decodePeerMetadata(enc(ok.slice(1))), undefined);
    assert.equal(decodePeerMetadata('A'.repeat(2000)), undefined);
  });
});
