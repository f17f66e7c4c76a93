import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFakeClock } from '@weft/testkit';
import { createRetryBudget, DEFAULT_RETRY_BUDGET, depositRequest, withdrawRetry } from './index.js';

describe('retry budget', () => {
  it("Linkerd's defaults: 20 % of requests plus 10 retries/s over 10 s", () => {
    assert.deepEqual(DEFAULT_RETRY_BUDGET, { ratio: 0.2, minPerSecond: 10, windowMs: 10_000 });
  });

  it('a quiet service still gets the floor', () => {
    const b = createRetryBudget({ ratio: 0.2, minPerSecond: 1, windowMs: 10_000 });
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (withdrawRetry(b, 0)) allowed++;
    assert.equal(allowed, 10, '1/s over a 10 s window');
    assert.equal(b.exhausted, 40);
  });

  it('retries add at most the ratio of requests on top of the floor: no retry storm', () => {
    const clock = createFakeClock();
    const b = createRetryBudget({ ratio: 0.2, minPerSecond: 0, windowMs: 10_000 });
    let allowed = 0;
    // 1000 requests, each wanting 3 retries against a dead backend.
    for (let i = 0; i < 1000; i++) {
      depositRequest(b, clock.now());
      for (let r = 0; r < 3; r++) if (withdrawRetry(b, clock.now())) allowed++;
      clock.advance(5);
    }
    assert.ok(allowed <= 200, `${allowed} retries for 1000 requests`);
    assert.ok(allowed >= 190, `${allowed} retries: the budget is used, not wasted`);
  });

  it('the window slides: old requests and retries stop counting', () => {
    const clock = createFakeClock();
    const b = createRetryBudget({ ratio: 1, minPerSecond: 0, windowMs: 2000 });
    depositRequest(b, clock.now());
    assert.equal(withdrawRetry(b, clock.now()), true);
    assert.equal(withdrawRetry(b, clock.now()), false);
    clock.advance(2000);
    assert.equal(withdrawRetry(b, clock.now()), false, 'the deposit has expired');
    depositRequest(b, clock.now());
    assert.equal(withdrawRetry(b, clock.now()), true, 'and so has the old retry');
    clock.advance(60_000);
    depositRequest(b, clock.now());
    assert.equal(withdrawRetry(b, clock.now()), true, 'a long gap clears the whole ring');
  });
});
