import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFakeClock } from '@weft/testkit';
import {
  belowMinHealth,
  CONNECT_FAILURE,
  createHealthTracker,
  RESET,
  TIMEOUT,
  type OutlierPolicy,
} from './health-tracker.js';

describe('health tracker', () => {
  it('ejects on a connection failure and takes the endpoint back after the base time', () => {
    const clock = createFakeClock();
    const t = createHealthTracker({ baseEjectionMs: 5000 });
    const rec = t.record('10.0.0.1:80');
    assert.equal(t.isEjected(rec, clock.now()), false);
    const ej = t.reportFailure(rec, clock.now());
    assert.deepEqual(ej, {
      key: '10.0.0.1:80',
      durationMs: 5000,
      ejections: 1,
      reason: 'connect-failure',
    });
    assert.equal(t.isEjected(rec, clock.now()), true);
    clock.advance(4999);
    assert.equal(t.isEjected(rec, clock.now()), true);
    clock.advance(1);
    assert.equal(t.isEjected(rec, clock.now()), false);
  });

  it('multiplies the ejection by the number of ejections, up to the cap (Envoy)', () => {
    const clock = createFakeClock();
    const t = createHealthTracker({ baseEjectionMs: 1000, maxEjectionMs: 5000 });
    const rec = t.record('a:1');
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      durations.push(t.reportFailure(rec, clock.now())?.durationMs ?? -1);
      clock.advance(rec.ejectedUntil - clock.now()); // fails again right as it comes back
    }
    assert.deepEqual(durations, [1000, 2000, 3000, 4000, 5000]);
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
    t.reportFailure(rec, 1000); // 2 s, back at 3 s
    // One ejection is forgiven per quiet interval (the base time, for the default policy).
    assert.equal(t.reportFailure(rec, 3000 + 1000)?.durationMs, 2000);
    assert.equal(t.reportFailure(rec, 6000 + 60_000)?.durationMs, 1000, 'all forgiven');
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

  it('gives 5xx, gateway errors and local failures their Envoy meaning under a DR policy', () => {
    const t = createHealthTracker();
    const policy = { ...drPolicy, consecutive5xx: 3, consecutiveGateway: 2 };
    const rec = t.record('a:1');
    assert.equal(t.report(rec, { kind: 'response', status: 500 }, 0, policy, []), undefined);
    assert.equal(t.report(rec, { kind: 'response', status: 501 }, 0, policy, []), undefined);
    // 500s are not gateway errors: the third 5xx ejects, by the 5xx streak.
    assert.equal(
      t.report(rec, { kind: 'response', status: 500 }, 0, policy, [])?.reason,
      'consecutive-5xx',
    );
    const b = t.record('b:1');
    assert.equal(t.report(b, CONNECT_FAILURE, 0, policy, []), undefined, 'counts as a 503');
    assert.equal(t.report(b, TIMEOUT, 0, policy, [])?.reason, 'consecutive-gateway-errors');
  });

  it('a success ends every streak', () => {
    const t = createHealthTracker();
    const policy = { ...drPolicy, consecutive5xx: 2 };
    const rec = t.record('a:1');
    t.report(rec, { kind: 'response', status: 503 }, 0, policy, []);
    t.report(rec, { kind: 'response', status: 200 }, 0, policy, []);
    assert.equal(t.report(rec, { kind: 'response', status: 503 }, 0, policy, []), undefined);
    assert.ok(t.report(rec, RESET, 0, policy, []));
  });

  it('a DR policy does not eject on one connection failure; the default does', () => {
    const t = createHealthTracker();
    const policy = { ...drPolicy, consecutive5xx: 5 };
    const rec = t.record('a:1');
    for (let i = 0; i < 4; i++)
      assert.equal(t.report(rec, CONNECT_FAILURE, i, policy, []), undefined);
    assert.ok(t.report(rec, CONNECT_FAILURE, 5, policy, []));
    assert.ok(t.report(t.record('b:1'), CONNECT_FAILURE, 0, t.defaultPolicy, []));
    assert.equal(t.report(t.record('c:1'), TIMEOUT, 0, t.defaultPolicy, []), undefined);
  });

  it('maxEjectionPercent: ejects while the ejected share is below it, so the first always', () => {
    const t = createHealthTracker();
    const peers = ['a:1', 'b:1', 'c:1', 'd:1'].map((k) => ({ outlier: t.record(k) }));
    const policy = { ...drPolicy, consecutive5xx: 1, maxEjectionPercent: 10 };
    const fail = { kind: 'response', status: 500 } as const;
    assert.ok(t.report(peers[0]!.outlier, fail, 0, policy, peers), 'first: 0 % < 10 %');
    assert.equal(t.report(peers[1]!.outlier, fail, 0, policy, peers), undefined, '25 % >= 10 %');
    const half = { ...policy, maxEjectionPercent: 50 };
    assert.ok(t.report(peers[1]!.outlier, fail, 0, half, peers), '25 % < 50 %');
    assert.equal(t.report(peers[2]!.outlier, fail, 0, half, peers), undefined, '50 % >= 50 %');
    // The first comes back at 30 s: there is room again.
    assert.ok(t.report(peers[2]!.outlier, fail, 30_000, half, peers));
    const none = { ...policy, maxEjectionPercent: 0 };
    assert.equal(t.report(peers[3]!.outlier, fail, 0, none, peers), undefined, '0 % never ejects');
  });

  it('comes back on its own after baseEjectionTime x ejections, then one is forgiven per interval', () => {
    const clock = createFakeClock();
    const t = createHealthTracker();
    const policy = { ...drPolicy, consecutive5xx: 1, baseEjectionMs: 30_000, intervalMs: 10_000 };
    const rec = t.record('a:1');
    const fail = { kind: 'response', status: 503 } as const;
    assert.equal(t.report(rec, fail, clock.now(), policy, [])?.durationMs, 30_000);
    clock.advance(30_000);
    assert.equal(t.isEjected(rec, clock.now()), false);
    assert.equal(t.report(rec, fail, clock.now(), policy, [])?.durationMs, 60_000);
    clock.advance(60_000 + 25_000); // back for 2.5 intervals: two ejections forgiven
    assert.equal(t.report(rec, fail, clock.now(), policy, [])?.durationMs, 30_000);
  });

  it('panic: below minHealthPercent in rotation, ejections are ignored', () => {
    const t = createHealthTracker();
    const eps = ['a:1', 'b:1', 'c:1', 'd:1'].map((k) => ({ healthy: true, outlier: t.record(k) }));
    eps[0]!.outlier.ejectedUntil = 100;
    eps[1]!.outlier.ejectedUntil = 100;
    assert.equal(belowMinHealth(eps, 0, 0), false, '0 = panic off');
    assert.equal(belowMinHealth(eps, 50, 0), false, '50 % in rotation is not below 50 %');
    assert.equal(belowMinHealth(eps, 51, 0), true);
    assert.equal(belowMinHealth(eps, 51, 100), false, 'the ejections are over');
  });
});

const drPolicy: OutlierPolicy = {
  consecutiveConnectFailures: 0,
  consecutive5xx: 0,
  consecutiveGateway: 0,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
};
