import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  authenticate,
  authorize,
  bearerToken,
  describeToken,
  formatToken,
  hashToken,
  tokenIdOf,
  type Action,
  type Principal,
  type TokenRecord,
} from './auth.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function record(secret: string, extra: Partial<TokenRecord> = {}): TokenRecord {
  const hash = hashToken(secret);
  return {
    id: tokenIdOf(hash),
    kind: 'bootstrap',
    service: 'user',
    namespace: 'default',
    hash,
    createdAt: new Date(NOW - 1000).toISOString(),
    ...extra,
  };
}

function book(...recs: TokenRecord[]) {
  const m = new Map(recs.map((r) => [r.id, r]));
  return (id: string) => m.get(id);
}

const anonymous: Principal = { kind: 'anonymous' };
const admin: Principal = { kind: 'admin', tokenId: 'a' };
const user: Principal = { kind: 'bootstrap', tokenId: 'u', service: 'user', namespace: 'default' };

describe('bearerToken', () => {
  it('reads the token of a Bearer header, any case, and nothing else', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    assert.equal(bearerToken('bearer   abc '), 'abc');
    assert.equal(bearerToken(['Bearer x', 'Bearer y']), 'x');
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken('Basic dXNlcjpwdw=='), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
  });
});

describe('authenticate', () => {
  const secret = formatToken(new Uint8Array(32).fill(7));

  it('no token: anonymous (authorize decides what that may do)', () => {
    assert.deepEqual(authenticate(undefined, book(), NOW), { principal: anonymous });
  });

  it('a known bootstrap token: its service and namespace', () => {
    const rec = record(secret, { namespace: 'shop' });
    assert.deepEqual(authenticate(secret, book(rec), NOW), {
      principal: { kind: 'bootstrap', tokenId: rec.id, service: 'user', namespace: 'shop' },
    });
  });

  it('a known admin token: admin', () => {
    const rec = record(secret, { kind: 'admin' });
    delete rec.service;
    assert.deepEqual(authenticate(secret, book(rec), NOW), {
      principal: { kind: 'admin', tokenId: rec.id },
    });
  });

  it('an unknown (or revoked) token: 401 WEFT_ERR_AUTH_INVALID_TOKEN', () => {
    const out = authenticate('weft_nope', book(record(secret)), NOW);
    assert.ok(!('principal' in out));
    assert.equal(out.status, 401);
    assert.equal(out.code, 'WEFT_ERR_AUTH_INVALID_TOKEN');
  });

  it('a record whose id matches but whose hash differs is not the token', () => {
    const rec = { ...record(secret), hash: hashToken('other') };
    const out = authenticate(secret, book(rec), NOW);
    assert.ok(!('principal' in out) && out.code === 'WEFT_ERR_AUTH_INVALID_TOKEN');
  });

  it('an expired token: 401 WEFT_ERR_AUTH_TOKEN_EXPIRED; one not yet expired works', () => {
    const rec = record(secret, { expiresAt: new Date(NOW).toISOString() });
    const out = authenticate(secret, book(rec), NOW);
    assert.ok(!('principal' in out) && out.code === 'WEFT_ERR_AUTH_TOKEN_EXPIRED');
    assert.ok('principal' in authenticate(secret, book(rec), NOW - 1));
  });

  it('the store keeps no secret: the record has the hash, the listing not even that', () => {
    const rec = record(secret);
    assert.ok(!JSON.stringify(rec).includes(secret));
    assert.equal(rec.id, hashToken(secret).slice(0, 16));
    assert.ok(!('hash' in describeToken(rec)));
  });

  it('tokens are 32 random bytes in base64url behind weft_', () => {
    assert.match(formatToken(new Uint8Array(32)), /^weft_[A-Za-z0-9_-]{43}$/);
  });
});

describe('authorize', () => {
  const open = { openReads: true };
  const closed = { openReads: false };
  const actions: Record<string, Action> = {
    public: { type: 'public' },
    read: { type: 'read' },
    admin: { type: 'admin' },
    stream: { type: 'stream' },
    'instance user': { type: 'instance', service: 'user', namespace: 'default' },
    'instance order': { type: 'instance', service: 'order', namespace: 'default' },
    'instance user in shop': { type: 'instance', service: 'user', namespace: 'shop' },
    'certificate user': { type: 'certificate', service: 'user', namespace: 'default' },
    'certificate order': { type: 'certificate', service: 'order', namespace: 'default' },
  };

  /** [principal, policy, action, expected status or 200] */
  const matrix: [string, Principal, { openReads: boolean }, string, number][] = [
    ['anonymous', anonymous, closed, 'public', 200],
    ['anonymous', anonymous, open, 'read', 200],
    ['anonymous', anonymous, closed, 'read', 401],
    ['anonymous', anonymous, open, 'admin', 401],
    ['anonymous', anonymous, open, 'stream', 401],
    ['anonymous', anonymous, open, 'instance user', 401],
    ['anonymous', anonymous, open, 'certificate user', 401],
    ['admin', admin, closed, 'read', 200],
    ['admin', admin, closed, 'admin', 200],
    ['admin', admin, closed, 'instance order', 200],
    ['admin', admin, closed, 'certificate order', 200],
    ['user', user, closed, 'read', 200],
    ['user', user, closed, 'stream', 200],
    ['user', user, closed, 'instance user', 200],
    ['user', user, closed, 'certificate user', 200],
    ['user', user, closed, 'admin', 403],
    ['user', user, closed, 'instance order', 403],
    ['user', user, closed, 'instance user in shop', 403],
    ['user', user, closed, 'certificate order', 403],
  ];
  for (const [name, who, policy, action, want] of matrix)
    it(`${name} ${action} (reads ${policy.openReads ? 'open' : 'closed'}) -> ${want}`, () => {
      const out = authorize(who, actions[action]!, policy);
      assert.equal(out.allowed ? 200 : out.status, want);
    });

  it('refusals carry stable codes and say what would work', () => {
    const a = authorize(anonymous, actions.admin!, open);
    assert.ok(!a.allowed && a.code === 'WEFT_ERR_AUTH_REQUIRED' && /WEFT_TOKEN/.test(a.message));
    const b = authorize(user, actions.admin!, open);
    assert.ok(!b.allowed && b.code === 'WEFT_ERR_AUTH_ADMIN_REQUIRED');
    const c = authorize(user, actions['certificate order']!, open);
    assert.ok(!c.allowed && c.code === 'WEFT_ERR_AUTH_WRONG_SERVICE');
    assert.match(c.message, /default\/user only, not default\/order/);
  });
});
