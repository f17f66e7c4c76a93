import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TLS_MODE_LABEL, type Instance } from '@weft/model';
import { endpointTlsIdentity, tlsModeOf } from './security.js';

const sidecar: Instance = {
  id: 'stock-1',
  service: 'stock',
  namespace: 'default',
  address: '127.0.0.1',
  port: 9000,
  labels: { [TLS_MODE_LABEL]: 'istio' },
  healthy: true,
  weight: 1,
  leaseId: 0,
  revision: 1,
};

describe('tlsModeOf', () => {
  it("takes the subset's tls whole, the rule's when the subset has none", () => {
    const rule = { tls: { mode: 'ISTIO_MUTUAL' } };
    assert.equal(tlsModeOf(undefined, rule), 'ISTIO_MUTUAL');
    assert.equal(tlsModeOf({ tls: { mode: 'DISABLE' } }, rule), 'DISABLE');
    assert.equal(tlsModeOf({ loadBalancer: { simple: 'RANDOM' } }, rule), 'ISTIO_MUTUAL');
    assert.equal(tlsModeOf(undefined, undefined), undefined);
  });

  it('reads a tls without a mode as DISABLE, as Istio (the proto default)', () => {
    assert.equal(tlsModeOf({ tls: {} }, { tls: { mode: 'ISTIO_MUTUAL' } }), 'DISABLE');
    assert.equal(tlsModeOf(undefined, { tls: {} }), 'DISABLE');
  });

  it('an empty tls turns auto-mTLS off for an endpoint with a sidecar', () => {
    assert.match(endpointTlsIdentity(sidecar, tlsModeOf(undefined, undefined), [])!, /sa\/stock$/);
    assert.equal(endpointTlsIdentity(sidecar, tlsModeOf({ tls: {} }), []), undefined);
  });
});
