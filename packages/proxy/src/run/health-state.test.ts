import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_READY, observeProbe, validateThresholds, type HealthState } from './health-state.js';

const T = { healthyThreshold: 2, unhealthyThreshold: 3 };

function run(results: boolean[], start: HealthState = NOT_READY) {
  let s = start;
  const flips: boolean[] = [];
  for (const ok of results) {
    const r = observeProbe(s, ok, T);
    s = r.state;
    if (r.changed) flips.push(s.healthy);
  }
  return { s, flips };
}

describe('health thresholds', () => {
  it('an instance is not ready until healthyThreshold successes in a row', () => {
    assert.deepEqual(run([true]).s.ready, false);
    assert.deepEqual(run([true, false, true]).s.ready, false);
    const { s, flips } = run([true, true]);
    assert.equal(s.ready, true);
    assert.equal(s.healthy, true);
    assert.deepEqual(flips, [true]);
  });

  it('a failure before readiness does not count as leaving rotation', () => {
    const { s, flips } = run([false, false, false, false]);
    assert.equal(s.healthy, false);
    assert.equal(s.ready, false);
    assert.deepEqual(flips, []);
  });

  it('takes unhealthyThreshold failures in a row to become unhealthy, and stays ready', () => {
    const up = run([true, true]).s;
    assert.deepEqual(run([false, false, true, false, false], up).flips, []);
    const { s, flips } = run([false, false, false], up);
    assert.equal(s.healthy, false);
    assert.equal(s.ready, true);
    assert.deepEqual(flips, [false]);
  });

  it('comes back after healthyThreshold successes', () => {
    const down = run([true, true, false, false, false]).s;
    assert.deepEqual(run([true], down).flips, []);
    assert.deepEqual(run([true, true], down).flips, [true]);
  });

  it('rejects thresholds that make no sense', () => {
    assert.deepEqual(validateThresholds({ healthyThreshold: 1, unhealthyThreshold: 3 }), []);
    assert.equal(validateThresholds({ healthyThreshold: 0, unhealthyThreshold: 1.5 }).length, 2);
  });
});
