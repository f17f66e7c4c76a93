import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../../violation.js';
import { serviceEntryKind } from './index.js';

const check = (spec: unknown) => serviceEntryKind.validateSpec(spec, { namespace: 'default' });
const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);
const errors = (spec: unknown) => show(check(spec).violations, 'error');
const warnings = (spec: unknown) => show(check(spec).violations, 'warning');

const port = { number: 80, name: 'http', protocol: 'HTTP' };

describe('ServiceEntry', () => {
  it('accepts STATIC and DNS entries Weft serves without a word', () => {
    assert.deepEqual(
      check({
        hosts: ['api.example.com'],
        location: 'MESH_EXTERNAL',
        resolution: 'STATIC',
        ports: [port],
        endpoints: [{ address: '10.0.0.1', ports: { http: 8080 }, labels: { v: '1' }, weight: 2 }],
      }).violations,
      [],
    );
    assert.deepEqual(
      check({ hosts: ['api.example.com'], resolution: 'DNS', ports: [port] }).violations,
      [],
    );
  });

  it('rejects what Istio rejects', () => {
    assert.deepEqual(errors({ hosts: ['a.example'], resolution: 'STATIC', ports: [port] }), [
      'spec.endpoints: resolution STATIC needs endpoints',
    ]);
    assert.deepEqual(
      errors({
        hosts: ['*.example.com'],
        resolution: 'DNS',
        ports: [port],
        endpoints: [{ address: 'x.example', ports: { grpc: 1 } }],
      }),
      [
        'spec.hosts[0]: wildcard host "*.example.com" needs resolution NONE (Istio): there is nothing to resolve',
        'spec.endpoints[0].ports.grpc: no port named "grpc" in spec.ports',
      ],
    );
    assert.deepEqual(
      errors({
        hosts: ['a.example'],
        resolution: 'STATIC',
        ports: [port],
        endpoints: [{ address: 'name.example' }],
      }),
      [
        'spec.endpoints[0].address: "name.example" is not an IP address; with resolution STATIC endpoints are IPs (use DNS for names)',
      ],
    );
  });

  it('warns about what Weft does not implement', () => {
    const w = warnings({
      hosts: ['a.example'],
      addresses: ['240.0.0.1'],
      exportTo: ['.'],
      resolution: 'NONE',
      ports: [port, { number: 443, name: 'tls', protocol: 'TLS' }],
      endpoints: [{ address: '10.0.0.1', network: 'n1' }],
    });
    assert.ok(
      w.some((x) => x.startsWith('spec.addresses:')),
      w.join('\n'),
    );
    assert.ok(w.some((x) => x.startsWith('spec.exportTo:')));
    assert.ok(w.some((x) => x.startsWith('spec.endpoints[0].network:')));
    assert.ok(w.some((x) => /resolution NONE .* not supported/.test(x)));
    assert.ok(w.some((x) => /one port per host/.test(x)));
    assert.ok(w.some((x) => /protocol TLS is not supported/.test(x)));
  });
});
