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

  it('warns about non-HTTP servers and the settings Weft does not serve', () => {
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
      'spec.servers[0].bind: not supported by Weft yet; ignored',
      'spec.servers[0].tls.credentialName: Weft reads certificate files (serverCertificate, privateKey), not Kubernetes secrets; ignored, so this server is not served',
      'spec.servers[1].port.protocol: protocol MONGO is not supported by Weft yet; only HTTP and HTTPS servers are served',
    ]);
  });

  it('accepts SIMPLE TLS from files and httpsRedirect on plain HTTP', () => {
    const spec = {
      servers: [
        { ...http, tls: { httpsRedirect: true } },
        {
          port: { number: 443, name: 'https', protocol: 'HTTPS' },
          hosts: ['shop.example.com'],
          tls: {
            mode: 'SIMPLE',
            serverCertificate: '/etc/certs/shop.pem',
            privateKey: '/etc/certs/shop.key',
            caCertificates: '/etc/certs/ca.pem',
          },
        },
      ],
    };
    assert.deepEqual(check(spec).violations, []);
  });

  it('checks TLS settings as Istio does', () => {
    const https = { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'] };
    assert.deepEqual(
      errors({
        servers: [
          { ...https },
          { ...https, port: { ...https.port, name: 'a' }, tls: { mode: 'SIMPLE' } },
          { ...http, tls: { mode: 'SIMPLE', serverCertificate: 'c', privateKey: 'k' } },
          {
            port: { number: 9000, name: 'tcp', protocol: 'TCP' },
            hosts: ['*'],
            tls: { httpsRedirect: true, mode: 'SIMPLE' },
          },
        ],
      }),
      [
        'spec.servers[0].tls: required: a server with protocol HTTPS must have TLS settings',
        'spec.servers[1].tls.serverCertificate: required with mode SIMPLE: the PEM file Weft reads (credentialName is not supported)',
        'spec.servers[1].tls.privateKey: required with mode SIMPLE: the PEM file Weft reads (credentialName is not supported)',
        'spec.servers[2].tls: a plain-text HTTP server cannot have TLS settings other than httpsRedirect; use protocol HTTPS to terminate TLS',
        'spec.servers[3].tls: a TCP server cannot have TLS settings; only HTTPS and TLS servers can',
      ],
    );
    assert.deepEqual(
      warnings({
        servers: [
          { ...https, tls: { mode: 'MUTUAL', serverCertificate: 'c', privateKey: 'k' } },
          { ...https, port: { ...https.port, name: 'p' }, tls: {} },
        ],
      }),
      [
        'spec.servers[0].tls.mode: mode MUTUAL is not supported by Weft yet (client certificates); this server is not served',
        'spec.servers[1].tls.mode: mode PASSTHROUGH (the default) is not supported by Weft; only SIMPLE is, so this server is not served',
      ],
    );
  });
});
