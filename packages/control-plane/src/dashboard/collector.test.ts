import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlPlane } from '../control-plane.js';
import type { SnapshotHub } from '../distribute/hub.js';
import { DashboardCollector } from './collector.js';

/** A collector over one proxy, a clock the test moves, and a count of the proxy reads. */
function setup() {
  let now = 1_000_000;
  let reads = 0;
  const cp = {
    instanceList: () => [],
    resources: () => [],
    snapshot: () => undefined,
  } as unknown as ControlPlane;
  const hub = {
    statuses: () => [
      { node: { id: 'gw', role: 'gateway', namespace: 'default', labels: {}, adminAddress: 'a' } },
    ],
  } as unknown as SnapshotHub;
  const collector = new DashboardCollector({
    cp,
    hub,
    now: () => now,
    fetchJson: async () => {
      reads++;
      return [];
    },
  });
  /** Runs the 2 s timer `n` times. */
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) {
      now += 2_000;
      await collector.tick();
    }
  };
  return { collector, ticks, reads: () => reads, advance: (ms: number) => (now += ms) };
}

describe('dashboard collector pace', () => {
  it('reads proxies every 10 s while nobody watches, every 2 s while someone does', async () => {
    const { collector, ticks, reads } = setup();
    await collector.collect();
    assert.equal(reads(), 1);
    await ticks(10); // 20 s unwatched
    assert.equal(reads(), 3);
    collector.watch(); // the last read is older than 2 s: read now
    await collector.collect();
    const watchedFrom = reads();
    await ticks(10); // 20 s watched
    assert.equal(reads() - watchedFrom, 10);
  });

  it('goes back to the slow pace a minute after the last dashboard request', async () => {
    const { collector, ticks, reads } = setup();
    await collector.collect();
    collector.watch();
    await ticks(30); // 60 s
    const before = reads();
    await ticks(10); // 20 s more, nobody asked again
    assert.ok(reads() - before <= 3, `${reads() - before} reads in 20 s after watching stopped`);
  });

  it('an open event stream keeps the fast pace', async () => {
    const { collector, ticks, reads } = setup();
    await collector.collect();
    const unsubscribe = collector.subscribe(() => undefined);
    await ticks(40); // 80 s
    const before = reads();
    await ticks(5);
    assert.equal(reads() - before, 5);
    unsubscribe();
  });
});
