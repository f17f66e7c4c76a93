import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createEndpointLoad,
  createEndpointLoadTracker,
  DEFAULT_RTT_MS,
  FAILURE_PENALTY_MS,
  FIT_WEIGHT,
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

  it('rises fast on much slower answers, and averages the rest over recent answers', () => {
    const l = learned(10);
    observeLatency(l, 100, 0, false);
    assert.equal(l.latencyMs, 55, 'ten times the estimate moves it halfway at once');
    // Back to 10 ms: each answer pulls it by FIT_WEIGHT, so 32 answers take it ~63 % of the way.
    for (let i = 0; i < 32; i++) observeLatency(l, 10, 0, false);
    const expected = 10 + 45 * (1 - FIT_WEIGHT) ** 32;
    assert.ok(Math.abs(l.latencyMs - expected) < 1e-9, `${l.latencyMs} vs ${expected}`);
    // Jitter within RISE_FACTOR is averaged in, not kept as a peak.
    const m = learned(10);
    observeLatency(m, 29, 0, false);
    assert.ok(Math.abs(m.latencyMs - (10 + 19 * FIT_WEIGHT)) < 1e-9, String(m.latencyMs));
  });

  it('learns how many requests an endpoint usually holds when it answers', () => {
    const l = learned(4);
    for (let i = 0; i < 200; i++) {
      l.active = 6;
      observeLatency(l, 4, 0, false);
    }
    assert.ok(Math.abs(l.inflightMean - 6) < 0.01, String(l.inflightMean));
  });

  it('counts a failure as at least the penalty latency, and a few of them as nearly it', () => {
    const l = learned(1);
    observeLatency(l, 1, 0, true);
    assert.equal(l.latencyMs, (1 + FAILURE_PENALTY_MS) / 2);
    observeLatency(l, 1, 0, true);
    observeLatency(l, 1, 0, true);
    // The second and third are under RISE_FACTOR times the estimate: averaged in.
    assert.ok(l.latencyMs > FAILURE_PENALTY_MS / 2, String(l.latencyMs));
  });

  it('lets an estimate left alone decay towards zero, so the endpoint is tried again', () => {
    const l = learned(100);
    assert.equal(latencyEstimate(l, 0), 100);
    assert.ok(Math.abs(latencyEstimate(l, 10_000) - 100 / Math.E) < 1e-9);
    // The decay is kept when the next answer comes: six time constants brought 100 ms to
    // 0.25 ms, and the 2 ms answer (more than RISE_FACTOR times that) counts half from there.
    observeLatency(l, 2, 60_000, false);
    assert.ok(Math.abs(l.latencyMs - (100 * Math.exp(-6) + 2) / 2) < 1e-9, String(l.latencyMs));
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
