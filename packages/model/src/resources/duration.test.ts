import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs } from './duration.js';

describe('parseDurationMs', () => {
  it('reads the forms Istio configs use', () => {
    assert.equal(parseDurationMs('1s'), 1000);
    assert.equal(parseDurationMs('0.5s'), 500);
    assert.equal(parseDurationMs('.5s'), 500);
    assert.equal(parseDurationMs('100ms'), 100);
    assert.equal(parseDurationMs('3m'), 180_000);
    assert.equal(parseDurationMs('24h'), 86_400_000);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs('1h0m0.1s'), 3_600_100);
    assert.equal(parseDurationMs('250us'), 0.25);
    assert.equal(parseDurationMs('0s'), 0);
    assert.equal(parseDurationMs('0'), 0);
  });

  it('rejects what is not a duration', () => {
    for (const s of [
      '',
      '5',
      '1.5',
      's',
      '-1s',
      '+1s',
      '1 s',
      ' 1s',
      '1s ',
      '1d',
      '1sec',
      'abc',
      '1..2s',
    ]) {
      assert.equal(parseDurationMs(s), undefined, JSON.stringify(s));
    }
  });
});
