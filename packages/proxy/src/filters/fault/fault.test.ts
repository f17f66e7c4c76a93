import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import { CompileError } from '../../routing/compile-error.js';
import { compileFault, decideFault, faultFlags, NO_FAULT, perMillion } from './index.js';

describe('fault filter', () => {
  it('reads percentages as Istio does: value × 10000 per million', () => {
    assert.equal(perMillion(0.1), 1000, '0.1 is 0.1 %, one request in a thousand');
    assert.equal(perMillion(29.3), 293_000, 'float noise does not cost a part per million');
    assert.equal(perMillion(100), 1_000_000);
    assert.equal(perMillion(0), 0);
  });

  it('compiles a policy that can never fire to nothing', () => {
    assert.equal(compileFault({ abort: { httpStatus: 503, percent: 0 } }), undefined);
    assert.equal(compileFault({ delay: { fixedDelayMs: 100, percent: 0 } }), undefined);
    assert.equal(compileFault({ delay: { fixedDelayMs: 0, percent: 100 } }), undefined);
    assert.equal(compileFault({}), undefined);
    assert.deepEqual(compileFault({ abort: { httpStatus: 503, percent: 12.5 } }), {
      delayMs: 0,
      delayPerMillion: 0,
      abortStatus: 503,
      abortPerMillion: 125_000,
    });
  });

  it('rejects what a proxy cannot apply, naming the field', () => {
    const bad = (p: unknown, field: string) =>
      assert.throws(
        () => compileFault(p as never),
        (e: unknown) => e instanceof CompileError && e.path === field,
      );
    bad({ abort: { httpStatus: 700, percent: 1 } }, 'abort.httpStatus');
    bad({ abort: { httpStatus: 503, percent: 101 } }, 'abort.percent');
    bad({ delay: { fixedDelayMs: -1, percent: 1 } }, 'delay.fixedDelayMs');
    bad({ delay: { fixedDelayMs: 10, percent: 'all' } }, 'delay.percent');
  });

  it('aborts the configured share of requests (seeded, 2,000 draws, within 3 points)', () => {
    const f = compileFault({ abort: { httpStatus: 503, percent: 30 } })!;
    const random = seededRandom(11);
    let aborted = 0;
    for (let i = 0; i < 2000; i++) if (decideFault(f, random).abortStatus === 503) aborted++;
    const pct = (aborted / 2000) * 100;
    assert.ok(Math.abs(pct - 30) <= 3, `aborted ${pct}%`);
  });

  it('draws delay and abort independently', () => {
    const f = compileFault({
      delay: { fixedDelayMs: 50, percent: 50 },
      abort: { httpStatus: 500, percent: 50 },
    })!;
    const random = seededRandom(3);
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const d = decideFault(f, random);
      const k = `${d.delayMs}/${d.abortStatus}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    for (const k of ['0/0', '50/0', '0/500', '50/500']) {
      const share = (seen.get(k) ?? 0) / 4000;
      assert.ok(Math.abs(share - 0.25) < 0.03, `${k}: ${share}`);
    }
  });

  it('shares one decision object for untouched requests, and 100 % draws no number', () => {
    const never = compileFault({ abort: { httpStatus: 503, percent: 0.0001 } })!;
    assert.equal(
      decideFault(never, () => 0.5),
      NO_FAULT,
    );
    const always = compileFault({ delay: { fixedDelayMs: 5, percent: 100 } })!;
    const d = decideFault(always, () => assert.fail('random must not be called'));
    assert.deepEqual(d, { delayMs: 5, abortStatus: 0 });
  });

  it('names the response flags Envoy logs', () => {
    assert.equal(faultFlags(NO_FAULT), undefined);
    assert.equal(faultFlags({ delayMs: 1, abortStatus: 0 }), 'DI');
    assert.equal(faultFlags({ delayMs: 0, abortStatus: 503 }), 'FI');
    assert.equal(faultFlags({ delayMs: 1, abortStatus: 503 }), 'DI,FI');
  });
});
