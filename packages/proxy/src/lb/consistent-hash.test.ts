// Ring hash and Maglev: what consistent hashing promises, for both.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import { makeEndpoints } from './conformance.js';
import { hashString } from './hash.js';
import { buildMaglevTable, createLoadBalancer as createMaglev, isPrime } from './maglev/index.js';
import { buildRing, createLoadBalancer as createRingHash } from './ring-hash/index.js';
import type { EndpointState, LoadBalancerFactory } from './types.js';

const NOW = 1_000_000;
const KEYS = Array.from({ length: 10_000 }, (_, i) => hashString(`user-${i}`));

function owners(factory: LoadBalancerFactory, eps: EndpointState[]): string[] {
  const lb = factory(eps);
  const random = seededRandom(1);
  return KEYS.map((hash) => lb.pick({ random, now: NOW, hash })!.key);
}

const hosts = (n: number) =>
  makeEndpoints(Array.from({ length: n }, (_, i) => ({ id: `e${i}`, address: `10.1.0.${i + 1}` })));

for (const [name, factory] of [
  ['ring hash', createRingHash],
  ['maglev', createMaglev],
] as const) {
  describe(`consistent hash: ${name}`, () => {
    it('keeps a key on one endpoint, across picks and rebuilds', () => {
      const a = owners(factory, hosts(4));
      assert.deepEqual(owners(factory, hosts(4)), a);
      // The endpoint order in the snapshot does not matter, only addresses.
      const reversed = owners(factory, hosts(4).reverse());
      assert.deepEqual(reversed, a);
    });

    it('spreads keys over endpoints', () => {
      const counts = new Map<string, number>();
      for (const k of owners(factory, hosts(4))) counts.set(k, (counts.get(k) ?? 0) + 1);
      for (const [k, c] of counts) assert.ok(c > 1_800 && c < 3_200, `${k}: ${c}`);
    });

    it('moves about 1/5 of 10,000 keys when a 5th endpoint joins 4', () => {
      const before = owners(factory, hosts(4));
      const after = owners(factory, hosts(5));
      let moved = 0;
      let strays = 0;
      for (let i = 0; i < KEYS.length; i++) {
        if (before[i] !== after[i]) {
          moved++;
          // A key only moves to the new endpoint (Maglev: almost only).
          if (after[i] !== '10.1.0.5:8080') strays++;
        }
      }
      assert.ok(moved > 1_700 && moved < 2_300, `moved ${moved} of 10000`);
      assert.ok(strays < 50, `${strays} keys moved between old endpoints`);
    });

    it('walks past an ejected or unhealthy endpoint, moving only its keys', () => {
      const before = owners(factory, hosts(4));
      const eps = hosts(4);
      (eps[1]!.outlier as { ejectedUntil: number }).ejectedUntil = NOW + 1;
      const ejected = owners(factory, eps);
      const unhealthy = owners(
        factory,
        hosts(4).map((e, i) => (i === 2 ? { ...e, healthy: false } : e)),
      );
      for (let i = 0; i < KEYS.length; i++) {
        if (before[i] !== eps[1]!.key) assert.equal(ejected[i], before[i]);
        else assert.notEqual(ejected[i], eps[1]!.key);
        if (before[i] !== '10.1.0.3:8080') assert.equal(unhealthy[i], before[i]);
        else assert.notEqual(unhealthy[i], '10.1.0.3:8080');
      }
    });

    it('without a key, picks at random', () => {
      const lb = factory(hosts(3));
      const random = seededRandom(5);
      const seen = new Set<string>();
      for (let i = 0; i < 100; i++) seen.add(lb.pick({ random, now: NOW })!.id);
      assert.equal(seen.size, 3);
    });
  });
}

describe('ring construction', () => {
  it('gives each endpoint minRingSize / 2 points per unit of relative weight', () => {
    const eps = makeEndpoints([
      { id: 'a', weight: 1 },
      { id: 'b', weight: 3 },
    ]);
    const ring = buildRing(eps, 1024);
    const a = ring.owners.filter((o) => o === 0).length;
    assert.equal(a, 512);
    assert.equal(ring.owners.length, 2048);
    for (let i = 1; i < ring.hashes.length; i++) assert.ok(ring.hashes[i - 1]! <= ring.hashes[i]!);
  });
});

describe('maglev table', () => {
  it('fills every slot, in proportion to weight', () => {
    const eps = makeEndpoints([
      { id: 'a', weight: 1 },
      { id: 'b', weight: 2 },
    ]);
    const table = buildMaglevTable(eps, 65_537);
    const a = table.filter((o) => o === 0).length;
    assert.ok(Math.abs(a / 65_537 - 1 / 3) < 0.001, `a: ${a}`);
  });

  it('wants a prime table size', () => {
    assert.ok(isPrime(65_537) && isPrime(5_000_011) && !isPrime(65_536) && !isPrime(1));
    assert.throws(() => buildMaglevTable(hosts(2), 1000), /not a prime/);
  });
});
