import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsistentHash } from '@weft/model';
import { seededRandom } from '@weft/testkit';
import { createRequestView } from '../routing/request-view.js';
import { hashString } from './hash.js';
import {
  checkConsistentHash,
  compileHashPolicy,
  cookieValue,
  newCookieValue,
} from './hash-policy.js';

const policy = (key: ConsistentHash['key']) =>
  compileHashPolicy(checkConsistentHash({ key, algorithm: 'RING_HASH' }));
const random = seededRandom(9);

describe('hash policy', () => {
  it('hashes a header, a query parameter or the source address', () => {
    const view = createRequestView({ headers: { 'X-User': 'jason' }, query: 'u=ann&x=1' });
    assert.equal(
      policy({ header: 'X-User' }).hashRequest(view, undefined, random)?.hash,
      hashString('jason'),
    );
    assert.equal(
      policy({ queryParameter: 'u' }).hashRequest(view, undefined, random)?.hash,
      hashString('ann'),
    );
    assert.equal(
      policy({ sourceIp: true }).hashRequest(view, '10.0.0.9', random)?.hash,
      hashString('10.0.0.9'),
    );
    // No key: no hash (the load balancer then picks at random).
    assert.equal(policy({ header: 'x-other' }).hashRequest(view, undefined, random), undefined);
    assert.equal(policy({ queryParameter: 'v' }).hashRequest(view, undefined, random), undefined);
  });

  it('hashes a cookie that is there, quoted or not', () => {
    const p = policy({ cookie: { name: 'sticky', ttlMs: 60_000 } });
    for (const header of ['a=1; sticky=abc', 'sticky="abc"', 'x=2;sticky=abc;y=3']) {
      const r = p.hashRequest(
        createRequestView({ headers: { cookie: header } }),
        undefined,
        random,
      );
      assert.deepEqual(r, { hash: hashString('abc'), setCookie: undefined }, header);
    }
  });

  it('generates a missing cookie, picks by it and sets it with Path, Max-Age and HttpOnly', () => {
    const p = policy({ cookie: { name: 'sticky', path: '/shop', ttlMs: 90_000 } });
    const r = p.hashRequest(
      createRequestView({ headers: { cookie: 'other=1' } }),
      undefined,
      random,
    );
    assert.ok(r?.setCookie);
    const m = /^sticky=([0-9a-f]{16}); Path=\/shop; Max-Age=90; HttpOnly$/.exec(r.setCookie);
    assert.ok(m, r.setCookie);
    assert.equal(r.hash, hashString(m[1]!));
    // The client's next request carries it and lands on the same hash.
    const again = p.hashRequest(
      createRequestView({ headers: { cookie: `sticky=${m[1]}` } }),
      undefined,
      random,
    );
    assert.equal(again?.hash, r.hash);
  });

  it('makes a session cookie for TTL 0, and none without a TTL (Istio)', () => {
    const session = policy({ cookie: { name: 's', ttlMs: 0 } });
    const r = session.hashRequest(createRequestView({}), undefined, random);
    assert.match(r?.setCookie ?? '', /^s=[0-9a-f]{16}; HttpOnly$/);
    const none = policy({ cookie: { name: 's' } });
    assert.equal(none.hashRequest(createRequestView({}), undefined, random), undefined);
  });

  it('parses cookie headers without being fooled by a name inside a value', () => {
    assert.equal(cookieValue('a=sticky=1; sticky=2', 'sticky'), '2');
    assert.equal(cookieValue('stickyx=1', 'sticky'), undefined);
    assert.equal(cookieValue(undefined, 'sticky'), undefined);
    assert.match(newCookieValue(seededRandom(1)), /^[0-9a-f]{16}$/);
  });

  it('rejects malformed policies when the snapshot is compiled', () => {
    const bad = (h: unknown) => () => checkConsistentHash(h as ConsistentHash);
    assert.throws(bad({ key: {}, algorithm: 'RING_HASH' }), /exactly one/);
    assert.throws(bad({ key: { header: '' }, algorithm: 'RING_HASH' }), /key\.header/);
    assert.throws(bad({ key: { cookie: { name: 'a b' } }, algorithm: 'RING_HASH' }), /cookie name/);
    assert.throws(bad({ key: { sourceIp: true }, algorithm: 'MAGLEV', tableSize: 1000 }), /prime/);
    assert.throws(bad({ key: { sourceIp: true }, algorithm: 'KETAMA' }), /unknown algorithm/);
    assert.deepEqual(checkConsistentHash({ key: { sourceIp: true }, algorithm: 'MAGLEV' }), {
      key: { sourceIp: true },
      algorithm: 'MAGLEV',
      tableSize: 65_537,
    });
  });
});
