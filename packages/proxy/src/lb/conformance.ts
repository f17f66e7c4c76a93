// The contract every load-balancing algorithm keeps, as one node:test suite that each
// algorithm's test runs (DESIGN.md habit 7). Importing this file only defines a function; the
// tests register when an algorithm's test file calls it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import type { OutlierRecord } from '../outlier/health-tracker.js';
import { createEndpointLoad } from './endpoint-load.js';
import type { EndpointState, LoadBalancerFactory, PickContext } from './types.js';

export interface EndpointSpec {
  id: string;
  weight?: number;
  healthy?: boolean;
  ejectedUntil?: number;
  /** When the proxy first saw it (slow start); 0 by default, long before NOW. */
  firstSeenAt?: number;
  /** Address override: consistent hashing places endpoints by `address:port`. */
  address?: string;
}

export function makeEndpoints(specs: readonly EndpointSpec[]): EndpointState[] {
  return specs.map((s, i) => {
    const address = s.address ?? `10.0.0.${i + 1}`;
    const key = `${address}:8080`;
    const outlier: OutlierRecord = {
      key,
      ejectedUntil: s.ejectedUntil ?? 0,
      ejections: 0,
      consecutiveFailures: 0,
      lastFailureAt: 0,
    };
    return {
      id: s.id,
      address,
      port: 8080,
      key,
      weight: s.weight ?? 1,
      healthy: s.healthy ?? true,
      labels: {},
      outlier,
      load: createEndpointLoad(key, s.firstSeenAt ?? 0),
    };
  });
}

export function countPicks(
  pick: (ctx: PickContext) => EndpointState | undefined,
  ctx: PickContext,
  times: number,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < times; i++) {
    const e = pick(ctx);
    const k = e?.id ?? '(none)';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

const NOW = 1_000_000;

export function runLoadBalancerConformance(
  name: string,
  factory: LoadBalancerFactory,
  opts: { weighted: boolean },
): void {
  describe(`load balancer conformance: ${name}`, () => {
    const ctx = (seed = 7, skip?: PickContext['skip']): PickContext => ({
      random: seededRandom(seed),
      now: NOW,
      skip,
    });

    it('returns undefined when there are no endpoints', () => {
      assert.equal(factory([]).pick(ctx()), undefined);
    });

    it('returns undefined when every endpoint reported itself unhealthy', () => {
      const lb = factory(
        makeEndpoints([
          { id: 'a', healthy: false },
          { id: 'b', healthy: false },
        ]),
      );
      assert.equal(lb.pick(ctx()), undefined);
      assert.equal(lb.pick(ctx(1, () => true)), undefined);
    });

    it('spreads over all healthy endpoints and never picks an unhealthy one', () => {
      const eps = makeEndpoints([
        { id: 'a' },
        { id: 'b', healthy: false },
        { id: 'c' },
        { id: 'd' },
      ]);
      const counts = countPicks(factory(eps).pick, ctx(), 3000);
      assert.equal(counts.get('b'), undefined);
      for (const id of ['a', 'c', 'd']) {
        const c = counts.get(id) ?? 0;
        assert.ok(c > 800 && c < 1200, `${id} got ${c} of 3000`);
      }
    });

    it('never picks an ejected endpoint while another is available', () => {
      const eps = makeEndpoints([{ id: 'a', ejectedUntil: NOW + 1 }, { id: 'b' }, { id: 'c' }]);
      const counts = countPicks(factory(eps).pick, ctx(), 1000);
      assert.equal(counts.get('a'), undefined);
      assert.ok((counts.get('b') ?? 0) > 400 && (counts.get('c') ?? 0) > 400);
    });

    it('takes an endpoint back once its ejection has expired', () => {
      const eps = makeEndpoints([{ id: 'a', ejectedUntil: NOW }, { id: 'b' }]);
      const counts = countPicks(factory(eps).pick, ctx(), 100);
      assert.ok((counts.get('a') ?? 0) > 20, 'ejectedUntil == now is back in rotation');
    });

    it('panics when every healthy endpoint is ejected: uses them all, still not the unhealthy', () => {
      const eps = makeEndpoints([
        { id: 'a', ejectedUntil: NOW + 5 },
        { id: 'b', ejectedUntil: NOW + 5 },
        { id: 'c', healthy: false },
      ]);
      const counts = countPicks(factory(eps).pick, ctx(), 1000);
      assert.equal(counts.get('c'), undefined);
      assert.equal(counts.get('(none)'), undefined);
      assert.ok((counts.get('a') ?? 0) > 300 && (counts.get('b') ?? 0) > 300);
    });

    it('respects skip while another endpoint is available, and falls back to a skipped one', () => {
      const eps = makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
      const lb = factory(eps);
      const skipA = (e: EndpointState) => e.id === 'a';
      const counts = countPicks(lb.pick, ctx(3, skipA), 600);
      assert.equal(counts.get('a'), undefined);
      assert.ok((counts.get('b') ?? 0) > 200 && (counts.get('c') ?? 0) > 200);
      assert.ok(lb.pick(ctx(3, () => true)), 'all tried: a retry may reuse one');
    });

    it('prefers a tried healthy endpoint over an untried ejected one', () => {
      const eps = makeEndpoints([{ id: 'a', ejectedUntil: NOW + 10 }, { id: 'b' }]);
      const lb = factory(eps);
      for (let i = 0; i < 50; i++) {
        assert.equal(lb.pick(ctx(i, (e) => e.id === 'b'))?.id, 'b');
      }
    });

    it('is deterministic for the same seed', () => {
      const specs = [{ id: 'a', weight: 3 }, { id: 'b' }, { id: 'c', weight: 2 }];
      const run = () => {
        const lb = factory(makeEndpoints(specs));
        const c = ctx(99);
        return Array.from({ length: 200 }, () => lb.pick(c)?.id).join('');
      };
      assert.equal(run(), run());
    });

    if (opts.weighted) {
      it('spreads by weight within 2 points over 10,000 picks', () => {
        const eps = makeEndpoints([
          { id: 'a', weight: 1 },
          { id: 'b', weight: 2 },
          { id: 'c', weight: 7 },
        ]);
        const counts = countPicks(factory(eps).pick, ctx(11), 10_000);
        const share = (id: string) => ((counts.get(id) ?? 0) / 10_000) * 100;
        assert.ok(Math.abs(share('a') - 10) < 2, `a: ${share('a')}%`);
        assert.ok(Math.abs(share('b') - 20) < 2, `b: ${share('b')}%`);
        assert.ok(Math.abs(share('c') - 70) < 2, `c: ${share('c')}%`);
      });

      it('keeps weights among the endpoints left when one is ejected', () => {
        const eps = makeEndpoints([
          { id: 'a', weight: 1 },
          { id: 'b', weight: 3, ejectedUntil: NOW + 1 },
          { id: 'c', weight: 3 },
        ]);
        const counts = countPicks(factory(eps).pick, ctx(5), 8000);
        assert.equal(counts.get('b'), undefined);
        const a = (counts.get('a') ?? 0) / 8000;
        assert.ok(Math.abs(a - 0.25) < 0.03, `a: ${a}`);
      });
    }
  });
}
