import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../violation.js';
import { lookupKind } from './kinds.js';
import { validateResource } from './validate.js';

const spec = { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] };

function vs(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews' },
    spec,
    ...over,
  };
}

const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);

describe('validateResource', () => {
  it('accepts every Istio networking version and defaults the namespace', () => {
    for (const version of ['v1', 'v1beta1', 'v1alpha3']) {
      const r = validateResource(vs({ apiVersion: `networking.istio.io/${version}` }));
      assert.deepEqual(r.violations, []);
      assert.equal(r.resource?.kind, 'VirtualService');
      assert.deepEqual(r.resource?.metadata, { name: 'reviews', namespace: 'default' });
    }
  });

  it('keeps labels, annotations and the namespace', () => {
    const r = validateResource(
      vs({
        metadata: {
          name: 'a.b-c',
          namespace: 'prod',
          labels: { app: 'x' },
          annotations: { note: 'y' },
        },
      }),
    );
    assert.deepEqual(r.resource?.metadata, {
      name: 'a.b-c',
      namespace: 'prod',
      labels: { app: 'x' },
      annotations: { note: 'y' },
    });
  });

  it('names an unknown kind and lists the supported ones', () => {
    const r = validateResource(vs({ kind: 'VirtualServic' }));
    const [e] = show(r.violations, 'error');
    assert.match(
      e ?? '',
      /^kind: unknown kind "VirtualServic"; Weft supports VirtualService \(networking.istio.io\), DestinationRule/,
    );
    assert.equal(r.resource, undefined);
  });

  it('rejects a wrong group or version', () => {
    assert.deepEqual(
      show(validateResource(vs({ apiVersion: 'security.istio.io/v1' })).violations, 'error'),
      [
        'apiVersion: VirtualService belongs to API group networking.istio.io, not "security.istio.io" (use networking.istio.io/v1)',
      ],
    );
    assert.deepEqual(
      show(validateResource(vs({ apiVersion: 'networking.istio.io/v2' })).violations, 'error'),
      [
        'apiVersion: networking.istio.io has no version "v2" for VirtualService; use one of v1, v1beta1, v1alpha3',
      ],
    );
    assert.deepEqual(
      show(validateResource(vs({ apiVersion: undefined, kind: undefined })).violations, 'error'),
      ['apiVersion: required', 'kind: required'],
    );
  });

  it('checks metadata.name as a DNS-1123 subdomain', () => {
    for (const name of ['Reviews', '-a', 'a_b', 'a'.repeat(254)]) {
      const errors = show(validateResource(vs({ metadata: { name } })).violations, 'error');
      assert.equal(errors.length, 1, name);
      assert.match(errors[0] ?? '', /^metadata\.name: invalid name/);
    }
    assert.deepEqual(show(validateResource(vs({ metadata: {} })).violations, 'error'), [
      'metadata.name: required',
    ]);
    assert.deepEqual(show(validateResource(vs({ metadata: undefined })).violations, 'error'), [
      'metadata: required',
    ]);
  });

  it('rejects non-string labels and bad namespaces; warns on upper-case ones', () => {
    const r = validateResource(vs({ metadata: { name: 'a', namespace: 'a_b', labels: { v: 1 } } }));
    assert.deepEqual(show(r.violations, 'error'), [
      'metadata.namespace: invalid namespace "a_b": expected a DNS-1123 label',
      'metadata.labels.v: must be a string (quote it)',
    ]);
    const upper = validateResource(vs({ metadata: { name: 'a', namespace: 'nsA' } }));
    assert.equal(upper.resource?.metadata.namespace, 'nsA');
    assert.deepEqual(show(upper.violations, 'warning'), [
      'metadata.namespace: Kubernetes requires lower-case namespace names',
    ]);
  });

  it('warns about fields it ignores outside spec', () => {
    const r = validateResource(
      vs({ status: {}, extra: 1, metadata: { name: 'a', uid: 'x', surprise: true } }),
    );
    assert.ok(r.resource);
    assert.deepEqual(show(r.violations, 'warning'), [
      'status: status is written by the control plane; ignored',
      'extra: unknown field "extra"; ignored',
      'metadata.uid: not supported by Weft yet; ignored',
      'metadata.surprise: unknown field "surprise"; ignored',
    ]);
  });

  it('labels every violation with its resource', () => {
    const r = validateResource(
      vs({ metadata: { name: 'r', namespace: 'prod' }, spec: { hosts: [] } }),
    );
    assert.ok(r.violations.length > 0);
    for (const v of r.violations) assert.equal(v.resource, 'VirtualService prod/r');
  });

  it('requires spec and a mapping', () => {
    assert.deepEqual(show(validateResource(vs({ spec: undefined })).violations, 'error'), [
      'spec: required',
    ]);
    assert.deepEqual(show(validateResource('hello').violations, 'error'), [
      ': a resource must be a mapping with apiVersion, kind, metadata and spec',
    ]);
  });
});

describe('lookupKind', () => {
  it('sorts documents into Weft kinds, Istio kinds not supported yet, and others', () => {
    assert.equal(lookupKind('networking.istio.io/v1', 'Gateway').type, 'weft');
    assert.equal(lookupKind('networking.istio.io/v1', 'WorkloadEntry').type, 'istio-not-supported');
    assert.equal(lookupKind('security.istio.io/v1', 'AuthorizationPolicy').type, 'weft');
    assert.equal(
      lookupKind('security.istio.io/v1', 'RequestAuthentication').type,
      'istio-not-supported',
    );
    assert.equal(lookupKind('networking.istio.io/v1', 'Nonsense').type, 'unknown');
    assert.equal(lookupKind('v1', 'Service').type, 'foreign');
    assert.equal(lookupKind('apps/v1', 'Deployment').type, 'foreign');
    // The Kubernetes Gateway API has its own Gateway kind.
    assert.equal(lookupKind('gateway.networking.k8s.io/v1', 'Gateway').type, 'foreign');
    // A Weft kind with no group at all is a mistake to report, not a foreign object.
    assert.equal(lookupKind('v1', 'VirtualService').type, 'weft');
    assert.equal(lookupKind(undefined, 'VirtualService').type, 'unknown');
  });
});
