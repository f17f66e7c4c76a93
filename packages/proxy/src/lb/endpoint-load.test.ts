import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createEndpointLoad,
  createEndpointLoadTracker,
  DEFAULT_RTT_MS,
  FAILURE_PENALTY_MS,
  LEARNING_SAMPLES,
  latencyEstimate,
  observeLatency,
} from './endpoint-load.js';
import { makeEndpoints } from './conformance.js';
import { warmupFactor } from './warmup.js';

/** A record past its first answers, estimating `ms` at time 0. */
function learned(ms: number) {
  const l = createEndpointLoad('a:1', 0);
  for (let i = 0; i < LEARNING_SAMPLES; i++) observeLatency(l, ms, 0, false);
  return l;
}

describe('endpoint load', () => {
  it('starts at the default RTT and learns from the first answers by count', () => {
    const l = createEndpointLoad('a:1', 0);
    assert.equal(l.latencyMs, DEFAULT_RTT_MS);
    observeLatency(l, 40, 1, false);
    assert.equal(l.latencyMs, 40, 'the first answer replaces the prior');
    for (let i = 0; i < LEARNING_SAMPLES - 1; i++) observeLatency(l, 2, 2, false);
    // A cold first answer is halved away by each of the next ones.
    assert.ok(l.latencyMs < 2.5, String(l.latencyMs));
  });

  it('then jumps up to a peak and decays towards what it observes', () => {
    const l = learned(10);
    observeLatency(l, 100, 1, false);
    assert.equal(l.latencyMs, 100, 'a slower response replaces the estimate at once');
    // 10 s later (one time constant) a 10 ms response pulls it 63% of the way down.
    observeLatency(l, 10, 10_001, false);
    assert.ok(Math.abs(l.latencyMs - (10 + 90 / Math.E)) < 1e-9, String(l.latencyMs));
    // Many fast responses within a millisecond barely move it: decay is in time, not count.
    const before = l.latencyMs;
    for (let i = 0; i < 100; i++) observeLatency(l, 10, 10_001, false);
    assert.equal(l.latencyMs, before);
  });

  it('counts a failure as at least the penalty latency', () => {
    const l = learned(1);
    observeLatency(l, 1, 5, true);
    assert.equal(l.latencyMs, FAILURE_PENALTY_MS);
  });

  it('lets an estimate left alone decay towards zero, so the endpoint is tried again', () => {
    const l = learned(1);
    observeLatency(l, 100, 0, false);
    assert.equal(latencyEstimate(l, 0), 100);
    assert.ok(Math.abs(latencyEstimate(l, 10_000) - 100 / Math.E) < 1e-9);
  });

  it('keeps records, and first-seen times, until an endpoint leaves', () => {
    const t = createEndpointLoadTracker();
    const a = t.record('a:1', 100);
    assert.equal(t.record('a:1', 500), a);
    assert.equal(a.firstSeenAt, 100);
    t.retain(new Set(['b:1']));
    assert.equal(t.size(), 0);
    assert.equal(t.record('a:1', 900).firstSeenAt, 900, 'a returning endpoint warms up again');
  });
});

describe('warm-up factor', () => {
  it('ramps linearly from 10% to 100% over the window (aggression 1.0)', () => {
    const [e] = makeEndpoints([{ id: 'a', firstSeenAt: 1_000 }]);
    const f = (now: number) => warmupFactor(e!, now, 10_000);
    assert.equal(f(1_000), 0.1);
    assert.equal(f(2_000), 0.1);
    assert.equal(f(4_000), 0.3);
    assert.equal(f(8_500), 0.75);
    assert.equal(f(11_000), 1);
    assert.equal(warmupFactor(e!, 1_000, 0), 1, 'no window, no ramp');
  });
});
