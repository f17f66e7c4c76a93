import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../../violation.js';
import { gatewayKind } from './index.js';

const check = (spec: unknown) => gatewayKind.validateSpec(spec, { namespace: 'default' });
const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);
const errors = (spec: unknown) => show(check(spec).violations, 'error');
const warnings = (spec: unknown) => show(check(spec).violations, 'warning');

const http = { port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] };

describe('Gateway', () => {
  it('accepts what Weft implements without a word', () => {
    const spec = {
      selector: { istio: 'ingressgateway' },
      servers: [
        http,
        {
          port: { number: 80, name: 'http2', protocol: 'http' },
          hosts: ['bookinfo/*.example.com', './a.example.com'],
          name: 's',
        },
      ],
    };
    const r = check(spec);
    assert.deepEqual(r.violations, []);
    assert.equal(r.spec?.servers[1]?.hosts[0], 'bookinfo/*.example.com');
  });

  it('requires servers, each with a port and hosts', () => {
    assert.deepEqual(errors({}), ['spec.servers: required']);
    assert.deepEqual(errors({ servers: [] }), ['spec.servers: at least one server is required']);
    assert.deepEqual(
      errors({ servers: [{ hosts: ['*'] }, { port: { number: 80, protocol: 'HTTP' } }] }),
      ['spec.servers[0].port: required', 'spec.servers[1].hosts: required'],
    );
    assert.deepEqual(errors({ servers: [{ port: { protocol: 'HTTP' }, hosts: [] }] }), [
      'spec.servers[0].port.number: required',
    ]);
    assert.deepEqual(errors({ servers: [{ port: { number: 80, protocol: 'HTTP' }, hosts: [] }] }), [
      'spec.servers[0].hosts: at least one host is required',
    ]);
  });

  it('checks protocols, port names and hosts', () => {
    assert.deepEqual(
      errors({
        servers: [
          http,
          { ...http, port: { number: 81, name: 'http', protocol: 'QUIC' } },
          { ...http, hosts: ['a/b/c', 'bad_ns/x'] },
        ],
      }),
      [
        'spec.servers[1].port.protocol: unknown protocol "QUIC"; expected one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, REDIS, MYSQL, TCP, TLS',
        'spec.servers[1].port.name: duplicate port name "http" (also spec.servers[0]); port names must be unique',
        'spec.servers[2].port.name: duplicate port name "http" (also spec.servers[0]); port names must be unique',
        'spec.servers[2].hosts[0]: invalid host "b/c": expected a DNS name, optionally with a "*." prefix, or "*"',
        'spec.servers[2].hosts[1]: invalid namespace "bad_ns" in host "bad_ns/x": expected "*", "." or a name',
      ],
    );
  });

  it('warns about TLS and non-HTTP servers, which Weft does not serve yet', () => {
    const spec = {
      servers: [
        {
          port: { number: 443, name: 'https', protocol: 'HTTPS', targetPort: 8443 },
          hosts: ['*'],
          tls: { mode: 'SIMPLE', credentialName: 'c' },
          bind: '0.0.0.0',
        },
        { port: { number: 27017, name: 'mongo', protocol: 'MONGO' }, hosts: ['*'] },
      ],
    };
    assert.deepEqual(errors(spec), []);
    assert.deepEqual(warnings(spec), [
      'spec.servers[0].port.targetPort: not supported by Weft yet; ignored',
      'spec.servers[0].tls: not supported by Weft yet; ignored',
      'spec.servers[0].bind: not supported by Weft yet; ignored',
      'spec.servers[0].port.protocol: protocol HTTPS is not supported by Weft yet; only HTTP servers are served',
      'spec.servers[1].port.protocol: protocol MONGO is not supported by Weft yet; only HTTP servers are served',
    ]);
  });
});
