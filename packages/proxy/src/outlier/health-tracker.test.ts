import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFakeClock } from '@weft/testkit';
import { createHealthTracker } from './health-tracker.js';

describe('health tracker', () => {
  it('ejects on a connection failure and takes the endpoint back after the base time', () => {
    const clock = createFakeClock();
    const t = createHealthTracker({ baseEjectionMs: 5000 });
    const rec = t.record('10.0.0.1:80');
    assert.equal(t.isEjected(rec, clock.now()), false);
    const ej = t.reportFailure(rec, clock.now());
    assert.deepEqual(ej, { key: '10.0.0.1:80', durationMs: 5000, ejections: 1 });
    assert.equal(t.isEjected(rec, clock.now()), true);
    clock.advance(4999);
    assert.equal(t.isEjected(rec, clock.now()), true);
    clock.advance(1);
    assert.equal(t.isEjected(rec, clock.now()), false);
  });

  it('doubles the ejection for repeated failures, up to the cap', () => {
    const clock = createFakeClock();
    const t = createHealthTracker({ baseEjectionMs: 1000, maxEjectionMs: 5000 });
    const rec = t.record('a:1');
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      durations.push(t.reportFailure(rec, clock.now())?.durationMs ?? -1);
      clock.advance(rec.ejectedUntil - clock.now()); // fails again right as it comes back
    }
    assert.deepEqual(durations, [1000, 2000, 4000, 5000, 5000]);
  });

  it('does not extend an ejection for failures of requests already in flight', () => {
    const t = createHealthTracker({ baseEjectionMs: 1000 });
    const rec = t.record('a:1');
    t.reportFailure(rec, 0);
    assert.equal(t.reportFailure(rec, 10), undefined);
    assert.equal(rec.ejectedUntil, 1000);
    assert.equal(rec.ejections, 1);
  });

  it('forgets the back-off after a quiet period', () => {
    const t = createHealthTracker({ baseEjectionMs: 1000, maxEjectionMs: 60_000 });
    const rec = t.record('a:1');
    t.reportFailure(rec, 0); // 1 s
    t.reportFailure(rec, 1000); // 2 s
    assert.equal(t.reportFailure(rec, 3000 + 60_000)?.durationMs, 1000);
  });

  it('ejects only after the configured number of consecutive failures', () => {
    const t = createHealthTracker({ consecutiveFailures: 3 });
    const rec = t.record('a:1');
    assert.equal(t.reportFailure(rec, 0), undefined);
    assert.equal(t.reportFailure(rec, 1), undefined);
    t.reportSuccess(rec);
    assert.equal(t.reportFailure(rec, 2), undefined);
    assert.equal(t.reportFailure(rec, 3), undefined);
    assert.ok(t.reportFailure(rec, 4));
  });

  it('shares one record per address:port and keeps ejected ones across retain()', () => {
    const t = createHealthTracker({ baseEjectionMs: 1000 });
    const a = t.record('a:1');
    assert.equal(t.record('a:1'), a);
    t.record('b:1');
    t.reportFailure(a, 0);
    t.retain(new Set(), 500);
    assert.equal(t.record('a:1'), a, 'an ejected endpoint is remembered while ejected');
    assert.equal(t.size(), 1);
    t.retain(new Set(), 1000);
    assert.equal(t.size(), 0);
  });

  it('rejects nonsense options', () => {
    assert.throws(() => createHealthTracker({ baseEjectionMs: 0 }));
    assert.throws(() => createHealthTracker({ baseEjectionMs: 10, maxEjectionMs: 5 }));
    assert.throws(() => createHealthTracker({ consecutiveFailures: 0 }));
  });
});
