import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import { countPicks, makeEndpoints } from '../conformance.js';
import { quantile, share, simulate, simulateStalls } from '../load-sim.js';
import { createLoadBalancer as createRoundRobin } from '../round-robin/index.js';
import { createLoadBalancer as createLeastRequest } from '../least-request/index.js';
import { createLoadBalancer } from './index.js';

const slowOne = (e: { id: string }) => (e.id === 'slow' ? 8 : 2);

describe('peak-EWMA', () => {
  it('sends fewer requests to an endpoint with higher observed latency', () => {
    const picks = simulate(
      createLoadBalancer(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'slow' }])),
      { concurrency: 4, durationMs: 20_000, latencyMs: slowOne },
    );
    const rr = simulate(
      createRoundRobin(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'slow' }])),
      { concurrency: 4, durationMs: 20_000, latencyMs: slowOne },
    );
    assert.ok(Math.abs(share(rr, 'slow') - 1 / 3) < 0.01);
    assert.ok(share(picks, 'slow') < 0.05, `slow got ${share(picks, 'slow')}`);
  });

  it('is not fooled by the proxy’s own stalls when they are left out of the samples', () => {
    // 2/2/8 ms instances, two clients, the proxy's loop blocked 15 ms every second. Fed
    // wall-clock samples, each stall lifts the fast instances' peak for seconds and the slow one
    // gets a share near what lb-compare measured on a busy VM; fed the loop's idle time
    // (upstream/loop-idle.ts), it gets none and the clients' p99 is the fast instances'.
    const run = (sample: 'wall' | 'idle') =>
      simulateStalls(createLoadBalancer(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 's' }])), {
        concurrency: 2,
        durationMs: 20_000,
        instances: {
          a: { latencyMs: 2, workers: 0 },
          b: { latencyMs: 2, workers: 0 },
          s: { latencyMs: 8, workers: 0 },
        },
        stall: { everyMs: 1_000, ms: 15 },
        sample,
      });
    const wall = run('wall');
    const idle = run('idle');
    assert.ok(share(wall.picks, 's') > 0.05, `wall-clock: ${share(wall.picks, 's')}`);
    assert.ok(share(idle.picks, 's') < 0.01, `idle time: ${share(idle.picks, 's')}`);
    assert.equal(quantile(idle.latencies, 0.99), 2);
    assert.equal(quantile(wall.latencies, 0.99), 8);
  });

  it('still beats round robin and least request on p99 with jittery instances short of capacity', () => {
    // lb-compare's "4 workers each" scenario at 16 clients, with the exponential service-time
    // jitter (mean 0.75 ms) that makes the model match the real runs (docs/performance.md).
    // Jitter lifts the fast instances' peaks, so the slow one's share rises to about least
    // request's; what is left is that it never queues there, which round robin does.
    const run = (create: typeof createLoadBalancer) =>
      simulateStalls(create(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 's' }])), {
        concurrency: 16,
        durationMs: 10_000,
        instances: {
          a: { latencyMs: 2, workers: 4, jitterMs: 0.75 },
          b: { latencyMs: 2, workers: 4, jitterMs: 0.75 },
          s: { latencyMs: 8, workers: 4, jitterMs: 0.75 },
        },
        stall: { everyMs: 1_000, ms: 15 },
        sample: 'idle',
      });
    const p99 = (r: ReturnType<typeof run>) => quantile(r.latencies, 0.99);
    const [ewma, lr, rr] = [
      run(createLoadBalancer),
      run(createLeastRequest),
      run(createRoundRobin),
    ];
    assert.ok(p99(ewma) < p99(lr), `default ${p99(ewma)} ms, least request ${p99(lr)} ms`);
    assert.ok(p99(rr) / p99(ewma) > 2.5, `round robin ${p99(rr)} ms, default ${p99(ewma)} ms`);
    assert.ok(share(ewma.picks, 's') < share(rr.picks, 's') / 2);
  });

  it('sees a slow endpoint that least-request does not (it is slow, not busy)', () => {
    const opts = { concurrency: 12, durationMs: 20_000, latencyMs: slowOne };
    const ewma = simulate(
      createLoadBalancer(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'slow' }])),
      opts,
    );
    const lr = simulate(
      createLeastRequest(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'slow' }])),
      opts,
    );
    assert.ok(
      share(ewma, 'slow') < share(lr, 'slow') / 2,
      `${share(ewma, 'slow')} vs ${share(lr, 'slow')}`,
    );
  });

  it('moves traffic away as soon as an endpoint becomes slow, and back once it recovers', () => {
    const eps = makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const lb = createLoadBalancer(eps);
    const start = 1_000_000;
    // c is slow from 10 s to 20 s of a 40 s run.
    const slowWhile = (e: { id: string }, now: number) =>
      e.id === 'c' && now >= start + 10_000 && now < start + 20_000 ? 20 : 2;
    const phase = (from: number, to: number) =>
      simulate(lb, {
        concurrency: 4,
        durationMs: to - from,
        latencyMs: slowWhile,
        start: start + from,
      });
    const before = phase(0, 10_000);
    const during = phase(10_000, 20_000);
    // The estimate decays while c is left alone, until c is tried again and is fast.
    phase(20_000, 50_000);
    const after = phase(50_000, 60_000);
    assert.ok(share(before, 'c') > 0.25, `before: ${share(before, 'c')}`);
    assert.ok(share(during, 'c') < 0.02, `during: ${share(during, 'c')}`);
    assert.ok(share(after, 'c') > 0.25, `after: ${share(after, 'c')}`);
  });

  it('treats a fast failure as slow: a failing endpoint does not attract traffic', () => {
    const picks = simulate(
      createLoadBalancer(makeEndpoints([{ id: 'a' }, { id: 'b' }, { id: 'broken' }])),
      {
        concurrency: 4,
        durationMs: 20_000,
        latencyMs: (e) => (e.id === 'broken' ? 0 : 5),
        fails: (e) => e.id === 'broken',
      },
    );
    assert.ok(share(picks, 'broken') < 0.01, `broken got ${share(picks, 'broken')}`);
  });

  it('gives a new endpoint a default RTT: tried, not flooded', () => {
    const eps = makeEndpoints([{ id: 'known' }, { id: 'new', firstSeenAt: 1_000_000 }]);
    eps[0]!.load.latencyMs = 5;
    eps[0]!.load.latencyAt = 1_000_000;
    const counts = countPicks(
      createLoadBalancer(eps).pick,
      { random: seededRandom(4), now: 1_000_000 },
      100,
    );
    assert.equal(counts.get('new'), undefined, '30 ms prior against a known 5 ms');
  });

  it('ramps a new endpoint up over the warm-up window', () => {
    const eps = makeEndpoints([{ id: 'old' }, { id: 'new', firstSeenAt: 1_000_000 }]);
    for (const e of eps) {
      e.load.latencyMs = 5;
      e.load.latencyAt = 1_000_000;
    }
    const lb = createLoadBalancer(eps, { warmupMs: 10_000 });
    // Cost of the new one is 10x while its factor is 0.1: it loses every comparison.
    const counts = countPicks(lb.pick, { random: seededRandom(4), now: 1_000_000 }, 100);
    assert.equal(counts.get('new'), undefined);
    const warm = countPicks(lb.pick, { random: seededRandom(4), now: 1_010_000 }, 1000);
    assert.ok((warm.get('new') ?? 0) > 400);
  });
});
