import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  admit,
  admitRetry,
  cancel,
  createBreaker,
  limitsAnything,
  release,
  releaseRetry,
  UNLIMITED,
  type Waiter,
} from './index.js';

function waiter(log: string[], name: string): Waiter {
  return { admitted: () => void log.push(name) };
}

describe('circuit breaker', () => {
  it('unlimited by default (Istio), and says so', () => {
    const b = createBreaker();
    for (let i = 0; i < 10_000; i++) assert.equal(admit(b, waiter([], '')), 'go');
    assert.equal(limitsAnything(UNLIMITED), false);
  });

  it('maxConnections 1, pending 1: one in flight, one waits, the third is refused at once', () => {
    const log: string[] = [];
    const b = createBreaker({ ...UNLIMITED, maxConnections: 1, maxPendingRequests: 1 });
    assert.equal(admit(b, waiter(log, 'a')), 'go');
    assert.equal(admit(b, waiter(log, 'b')), 'queued');
    assert.equal(admit(b, waiter(log, 'c')), 'pending');
    assert.equal(b.overflows.pending, 1);
    // a finishes: b gets its slot.
    const next = release(b);
    next?.admitted();
    assert.deepEqual(log, ['b']);
    assert.equal(b.active, 1);
    assert.equal(b.queue.length, 0);
    assert.equal(release(b), undefined);
    assert.equal(b.active, 0);
  });

  it('maxRequests counts tries in flight and waiting', () => {
    const b = createBreaker({ ...UNLIMITED, maxConnections: 1, maxRequests: 2 });
    assert.equal(admit(b, waiter([], 'a')), 'go');
    assert.equal(admit(b, waiter([], 'b')), 'queued');
    assert.equal(admit(b, waiter([], 'c')), 'requests');
    assert.equal(b.overflows.requests, 1);
  });

  it('a waiter that gives up leaves the queue', () => {
    const log: string[] = [];
    const b = createBreaker({ ...UNLIMITED, maxConnections: 1 });
    admit(b, waiter(log, 'a'));
    const w = waiter(log, 'b');
    admit(b, w);
    admit(b, waiter(log, 'c'));
    cancel(b, w);
    release(b)?.admitted();
    assert.deepEqual(log, ['c']);
  });

  it('maxRetries limits concurrent retries', () => {
    const b = createBreaker({ ...UNLIMITED, maxRetries: 2 });
    assert.equal(admitRetry(b), true);
    assert.equal(admitRetry(b), true);
    assert.equal(admitRetry(b), false);
    assert.equal(b.overflows.retries, 1);
    releaseRetry(b);
    assert.equal(admitRetry(b), true);
  });

  it('a DestinationRule retryBudget: a share of active requests, at least minRetryConcurrency', () => {
    const b = createBreaker({ ...UNLIMITED, retryBudget: { percent: 20, minRetryConcurrency: 3 } });
    for (let i = 0; i < 20; i++) admit(b, waiter([], ''));
    // 20 % of 20 active = 4 > 3.
    for (let i = 0; i < 4; i++) assert.equal(admitRetry(b), true);
    assert.equal(admitRetry(b), false);
  });
});
