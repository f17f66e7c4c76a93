import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileSniHostCheck, misdirected } from './sni-host.js';
import type { GatewayTlsServer } from './types.js';

const server = (name: string, hosts: string[]): GatewayTlsServer => ({
  name,
  field: '',
  hosts,
  serverCertificate: 'c.pem',
  privateKey: 'k.pem',
  caCertificates: undefined,
});

describe('Host against the TLS server SNI selected', () => {
  const check = compileSniHostCheck([
    server('edge servers[0]', ['shop.example.com']),
    server('edge servers[1]', ['*.api.example.com', 'api.example.com']),
  ])!;

  it('lets a Host of the selected server through, exact or by wildcard', () => {
    assert.equal(misdirected(check, 'shop.example.com', 'shop.example.com'), undefined);
    assert.equal(misdirected(check, 'v1.api.example.com', 'v2.api.example.com'), undefined);
    assert.equal(misdirected(check, 'SHOP.example.com', 'shop.example.com'), undefined);
  });

  it('refuses a Host that another server serves', () => {
    assert.equal(
      misdirected(check, 'v1.api.example.com', 'shop.example.com'),
      'host "shop.example.com" is not served by the TLS server that this connection\'s SNI "v1.api.example.com" selected (edge servers[1]); open a new connection for it',
    );
    assert.match(misdirected(check, 'shop.example.com', 'api.example.com') ?? '', /servers\[0\]/);
  });

  it('does not judge connections without SNI or with a name no server claims', () => {
    assert.equal(misdirected(check, false, 'shop.example.com'), undefined);
    assert.equal(misdirected(check, undefined, 'api.example.com'), undefined);
    assert.equal(misdirected(check, 'unknown.example.net', 'shop.example.com'), undefined);
  });

  it('compiles to nothing with one TLS server (its listener table already is that server)', () => {
    assert.equal(compileSniHostCheck([server('a', ['x.example.com'])]), undefined);
  });
});
