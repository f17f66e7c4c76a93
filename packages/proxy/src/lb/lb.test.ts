import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import { countPicks, makeEndpoints, runLoadBalancerConformance } from './conformance.js';
import { algorithmFor, algorithms, createClusterLoadBalancer } from './registry.js';

runLoadBalancerConformance('round-robin', algorithms['round-robin'], { weighted: false });
runLoadBalancerConformance('random', algorithms.random, { weighted: true });
runLoadBalancerConformance('weighted-round-robin', algorithms['weighted-round-robin'], {
  weighted: true,
});
runLoadBalancerConformance('least-request', algorithms['least-request'], { weighted: true });
runLoadBalancerConformance('peak-ewma', algorithms['peak-ewma'], { weighted: true });
runLoadBalancerConformance('ring-hash', algorithms['ring-hash'], { weighted: true });
runLoadBalancerConformance('maglev', algorithms.maglev, { weighted: true });

describe('round robin', () => {
  it('visits endpoints in order, one each per cycle', () => {
    const lb = algorithms['round-robin'](makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]));
    const ctx = { random: () => 0, now: 0 };
    assert.equal(Array.from({ length: 7 }, () => lb.pick(ctx)?.id).join(''), 'abcabca');
  });

  it('spreads the share of an ejected endpoint instead of doubling its successor', () => {
    const eps = makeEndpoints([{ id: 'a' }, { id: 'b', ejectedUntil: 10 }, { id: 'c' }]);
    const counts = countPicks(
      algorithms['round-robin'](eps).pick,
      { random: () => 0, now: 0 },
      1000,
    );
    assert.equal(counts.get('a'), 500);
    assert.equal(counts.get('c'), 500);
  });
});

describe('weighted round robin', () => {
  it('interleaves picks (smooth)', () => {
    const lb = algorithms['weighted-round-robin'](
      makeEndpoints([{ id: 'a', weight: 5 }, { id: 'b' }, { id: 'c' }]),
    );
    const ctx = { random: seededRandom(1), now: 0 };
    assert.equal(Array.from({ length: 7 }, () => lb.pick(ctx)?.id).join(''), 'aabacaa');
  });
});

describe('round robin with slow start', () => {
  it('ramps a new endpoint from 10% to a full share over the warm-up window', () => {
    const share = (age: number) => {
      const eps = makeEndpoints([{ id: 'old' }, { id: 'new', firstSeenAt: 100_000 - age }]);
      const lb = createClusterLoadBalancer('ROUND_ROBIN', eps, { warmupMs: 20_000 }).lb;
      const counts = countPicks(lb.pick, { random: seededRandom(1), now: 100_000 }, 2_200);
      return (counts.get('new') ?? 0) / 2_200;
    };
    assert.ok(Math.abs(share(0) - 0.1 / 1.1) < 0.01, `new: ${share(0)}`);
    assert.ok(Math.abs(share(10_000) - 0.5 / 1.5) < 0.01, `halfway: ${share(10_000)}`);
    assert.ok(Math.abs(share(20_000) - 0.5) < 0.01, `warm: ${share(20_000)}`);
  });
});

describe('registry', () => {
  it('maps policies to algorithms, switching to weighted round robin when weights differ', () => {
    const equal = makeEndpoints([{ id: 'a' }, { id: 'b' }]);
    const unequal = makeEndpoints([{ id: 'a' }, { id: 'b', weight: 3 }]);
    assert.equal(algorithmFor('ROUND_ROBIN', equal), 'round-robin');
    assert.equal(algorithmFor('ROUND_ROBIN', unequal), 'weighted-round-robin');
    assert.equal(algorithmFor('LEAST_REQUEST', unequal), 'least-request');
    assert.equal(algorithmFor('PEAK_EWMA', unequal), 'peak-ewma');
    assert.equal(algorithmFor('ROUND_ROBIN', equal, { warmupMs: 1000 }), 'weighted-round-robin');
    const header = { header: 'x-user' };
    assert.equal(
      algorithmFor('PEAK_EWMA', equal, { hash: { key: header, algorithm: 'RING_HASH' } }),
      'ring-hash',
    );
    assert.equal(
      algorithmFor('ROUND_ROBIN', equal, { hash: { key: header, algorithm: 'MAGLEV' } }),
      'maglev',
    );
    assert.equal(algorithmFor('RANDOM', unequal), 'random');
    assert.equal(algorithmFor('PASSTHROUGH', equal), 'round-robin');
    assert.equal(createClusterLoadBalancer('RANDOM', equal).algorithm, 'random');
  });

  it('rejects a policy it does not know', () => {
    assert.throws(
      () => algorithmFor('toString' as 'RANDOM', []),
      /unknown load balancer policy "toString"/,
    );
  });
});
