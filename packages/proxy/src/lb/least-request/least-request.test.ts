import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import { countPicks, makeEndpoints } from '../conformance.js';
import { share, simulate } from '../load-sim.js';
import { createLoadBalancer } from './index.js';

const NOW = 1_000_000;

describe('least request', () => {
  it('prefers the less-loaded endpoint and never picks the busiest of three', () => {
    const eps = makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    eps[0]!.load.active = 9;
    eps[2]!.load.active = 3;
    const counts = countPicks(
      createLoadBalancer(eps).pick,
      { random: seededRandom(3), now: NOW },
      3000,
    );
    assert.equal(counts.get('a'), undefined, 'the busiest loses every comparison');
    // b wins whenever it is one of the two choices: 2/3 of picks.
    const b = (counts.get('b') ?? 0) / 3000;
    assert.ok(Math.abs(b - 2 / 3) < 0.04, `b: ${b}`);
  });

  it('keeps in-flight requests even under a closed loop with one slow endpoint', () => {
    const eps = makeEndpoints([{ id: 'fast1' }, { id: 'fast2' }, { id: 'slow' }]);
    const picks = simulate(createLoadBalancer(eps), {
      concurrency: 12,
      durationMs: 5_000,
      latencyMs: (e) => (e.id === 'slow' ? 8 : 2),
    });
    // Requests pile up on the slow endpoint, so it is chosen less than round robin would (1/3).
    assert.ok(share(picks, 'slow') < 0.2, `slow: ${share(picks, 'slow')}`);
    assert.ok(eps.every((e) => e.load.active === 0));
  });

  it('with weights, follows weight / (active + 1)', () => {
    const eps = makeEndpoints([
      { id: 'a', weight: 2 },
      { id: 'b', weight: 1 },
    ]);
    eps[0]!.load.active = 3; // effective 2/4 = 0.5 against b's 1
    const counts = countPicks(
      createLoadBalancer(eps).pick,
      { random: seededRandom(1), now: NOW },
      3000,
    );
    assert.equal(counts.get('a'), 1000);
    assert.equal(counts.get('b'), 2000);
  });

  it('ramps a new endpoint up over the warm-up window', () => {
    const warmupMs = 10_000;
    const at = (age: number) => {
      const eps = makeEndpoints([{ id: 'old' }, { id: 'new', firstSeenAt: NOW - age }]);
      const lb = createLoadBalancer(eps, { warmupMs });
      const counts = countPicks(lb.pick, { random: seededRandom(2), now: NOW }, 11_000);
      return (counts.get('new') ?? 0) / 11_000;
    };
    // Factor 0.1 at first (Istio's minimumPercent), 0.5 halfway, 1 at the end.
    assert.ok(Math.abs(at(0) - 0.1 / 1.1) < 0.01, `start: ${at(0)}`);
    assert.ok(Math.abs(at(5_000) - 0.5 / 1.5) < 0.01, `half: ${at(5_000)}`);
    assert.ok(Math.abs(at(10_000) - 0.5) < 0.03, `warm: ${at(10_000)}`);
  });
});
