import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trustedClientAddress } from './client-address.js';

// Envoy's examples (configuration/http/http_conn_man/headers.rst, x-forwarded-for).
const XFF = '203.0.113.128, 203.0.113.10, 203.0.113.1';

describe('trustedClientAddress', () => {
  it('edge proxy: 0 trusted hops is the peer, N is the Nth from the right', () => {
    assert.equal(trustedClientAddress(XFF, '192.0.2.5', 0, true), '192.0.2.5');
    assert.equal(trustedClientAddress(XFF, '192.0.2.5', 1, true), '203.0.113.1');
    assert.equal(trustedClientAddress(XFF, '192.0.2.5', 2, true), '203.0.113.10');
    assert.equal(trustedClientAddress(XFF, '192.0.2.5', 3, true), '203.0.113.128');
    assert.equal(
      trustedClientAddress(XFF, '192.0.2.5', 4, true),
      '192.0.2.5',
      'fewer entries: the peer',
    );
    assert.equal(trustedClientAddress(undefined, '192.0.2.5', 2, true), '192.0.2.5');
  });

  it('inner proxy: trusts the hop the calling proxy appended, plus N more', () => {
    const xff = `${XFF}, 192.0.2.5`;
    assert.equal(trustedClientAddress(xff, '10.11.12.13', 0, false), '192.0.2.5');
    assert.equal(trustedClientAddress(xff, '10.11.12.13', 2, false), '203.0.113.10');
    assert.equal(trustedClientAddress(undefined, '10.20.30.40', 0, false), '10.20.30.40');
  });

  it('empty entries fall back to the peer', () => {
    assert.equal(trustedClientAddress(' , ,', '1.2.3.4', 1, true), '1.2.3.4');
    assert.equal(trustedClientAddress(',', '1.2.3.4', 2, true), '1.2.3.4');
  });
});
