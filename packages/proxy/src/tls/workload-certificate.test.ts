import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renewDelayMs } from './workload-certificate.js';

describe('renewDelayMs', () => {
  const t = 1_700_000_000_000;

  it('renews a 24 h certificate at half its life', () => {
    assert.equal(
      renewDelayMs({ notBefore: t, notAfter: t + 24 * 3600_000 }, t, 0.5),
      12 * 3600_000,
    );
  });

  it('ignores the minute the CA backdates notBefore, so a short certificate is not renewed at once', () => {
    // Issued for 4 s at t, notBefore a minute earlier: renewed 2 s after arrival, not now.
    assert.equal(renewDelayMs({ notBefore: t - 60_000, notAfter: t + 4_000 }, t, 0.5), 2_000);
  });

  it('renews at once a certificate that arrives expired', () => {
    assert.equal(renewDelayMs({ notBefore: t - 10_000, notAfter: t - 1 }, t, 0.5), 0);
  });
});
