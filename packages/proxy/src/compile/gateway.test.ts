// Gateway servers -> listener tables: which hosts each listener serves, httpsRedirect, and the
// TLS servers handed to the runner. Pure: compiled snapshots, no sockets.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayServer, ProxyNode, Snapshot, VirtualHost } from '@weft/model';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { compileSnapshot } from './compile-snapshot.js';
import { hostCovers } from './gateway.js';
import { redirectLocation } from './rewrite.js';
import type { CompiledVirtualHost, RouteTable } from './types.js';

const node: ProxyNode = {
  id: 'gateway-1',
  role: 'gateway',
  namespace: 'istio-system',
  labels: { istio: 'ingressgateway' },
};

function vs(name: string, domains: string[]): VirtualHost {
  return {
    name,
    domains,
    routes: [{ id: `${name}#0`, matches: [], action: { type: 'direct', status: 200 } }],
  };
}

const http = (hosts: string[], tls?: GatewayServer['tls']): GatewayServer => ({
  port: { number: 80, name: 'http', protocol: 'HTTP' },
  hosts,
  ...(tls ? { tls } : {}),
});

const https = (hosts: string[], cert = 'shop'): GatewayServer => ({
  port: { number: 443, name: 'https', protocol: 'HTTPS' },
  hosts,
  tls: {
    mode: 'SIMPLE',
    serverCertificate: `/certs/${cert}.pem`,
    privateKey: `/certs/${cert}.key`,
  },
});

function compile(
  servers: GatewayServer[],
  vhosts: VirtualHost[],
  httpsRedirectPort?: number,
): RouteTable {
  const snapshot: Snapshot = {
    version: 1,
    gateways: [
      {
        name: 'istio-system/gw',
        selector: { istio: 'ingressgateway' },
        servers,
        virtualHosts: vhosts,
      },
    ],
    mesh: { virtualHosts: [] },
    clusters: [],
  };
  return compileSnapshot(snapshot, { node, health: createHealthTracker(), httpsRedirectPort });
}

const name = (vh: CompiledVirtualHost | undefined) => vh?.name;

function location(vh: CompiledVirtualHost | undefined, host: string, path = '/a'): string {
  const action = vh?.routes[0]?.action;
  if (action?.type !== 'redirect') return assert.fail(`${vh?.name} does not redirect`);
  assert.equal(action.code, 301);
  return redirectLocation(action, { scheme: 'http', host, path, query: 'q=1' });
}

describe('gateway host matching', () => {
  it('covers exact hosts, *.suffix wildcards and *', () => {
    assert.ok(hostCovers('*', 'a.example.com'));
    assert.ok(hostCovers('*.example.com', 'a.example.com'));
    assert.ok(hostCovers('*.example.com', 'a.b.example.com'));
    assert.ok(!hostCovers('*.example.com', 'example.com'));
    assert.ok(hostCovers('*.example.com', '*.a.example.com'));
    assert.ok(!hostCovers('*.example.com', '*'));
    assert.ok(hostCovers('shop.example.com', 'shop.example.com'));
    assert.ok(!hostCovers('shop.example.com', 'a.shop.example.com'));
  });

  it('serves a VirtualService only for the hosts the servers accept', () => {
    const t = compile(
      [http(['shop.example.com', '*.api.example.com'])],
      [vs('default/shop', ['shop.example.com', 'other.org']), vs('default/api', ['*'])],
    );
    assert.equal(name(t.gateway.lookup('shop.example.com')), 'default/shop');
    assert.equal(t.gateway.lookup('other.org'), undefined, 'not a server host');
    assert.equal(name(t.gateway.lookup('v1.api.example.com')), 'default/api');
    assert.equal(t.gateway.lookup('api.example.com'), undefined, '*.x does not cover x');
    assert.equal(t.gateway.lookup('elsewhere.net'), undefined, 'VS * narrowed to server hosts');
    assert.deepEqual(t.gatewayTls.exact.size + t.gatewayTls.wildcards.size, 0);
  });

  it('keeps TLS servers and plain servers on their own listeners', () => {
    const t = compile(
      [http(['plain.example.com']), https(['shop.example.com', '*.secure.example.com'])],
      [vs('default/all', ['*'])],
    );
    assert.equal(name(t.gateway.lookup('plain.example.com')), 'default/all');
    assert.equal(t.gateway.lookup('shop.example.com'), undefined);
    assert.equal(name(t.gatewayTls.lookup('shop.example.com')), 'default/all');
    assert.equal(name(t.gatewayTls.lookup('a.secure.example.com')), 'default/all');
    assert.equal(t.gatewayTls.lookup('plain.example.com'), undefined);
    // One compiled virtual host serves both listeners.
    assert.equal(t.gateway.lookup('plain.example.com'), t.gatewayTls.lookup('shop.example.com'));
    assert.deepEqual(t.tlsServers, [
      {
        name: 'istio-system/gw servers[1] (https)',
        field: 'gateways[0].servers[1].tls',
        hosts: ['shop.example.com', '*.secure.example.com'],
        serverCertificate: '/certs/shop.pem',
        privateKey: '/certs/shop.key',
        caCertificates: undefined,
      },
    ]);
  });

  it('answers httpsRedirect hosts with a 301 to https, with or without a VirtualService', () => {
    const t = compile(
      [http(['shop.example.com', 'bare.example.com'], { httpsRedirect: true }), http(['*'])],
      [vs('default/shop', ['shop.example.com', 'open.example.com'])],
    );
    const shop = t.gateway.lookup('shop.example.com');
    assert.equal(name(shop), 'istio-system/gw|https-redirect');
    assert.equal(location(shop, 'shop.example.com:8080'), 'https://shop.example.com/a?q=1');
    assert.equal(
      location(t.gateway.lookup('bare.example.com'), 'bare.example.com'),
      'https://bare.example.com/a?q=1',
      'a redirecting server host with no VirtualService still redirects (as Istio)',
    );
    assert.equal(name(t.gateway.lookup('open.example.com')), 'default/shop');
    assert.equal(t.gateway.lookup('unknown.example.com'), undefined);
  });

  it('puts a non-default HTTPS listener port in the Location', () => {
    const t = compile([http(['shop.example.com'], { httpsRedirect: true })], [], 8443);
    assert.equal(
      location(t.gateway.lookup('shop.example.com'), 'shop.example.com'),
      'https://shop.example.com:8443/a?q=1',
    );
    const at443 = compile([http(['shop.example.com'], { httpsRedirect: true })], [], 443);
    assert.equal(
      location(at443.gateway.lookup('shop.example.com'), 'shop.example.com:80'),
      'https://shop.example.com/a?q=1',
    );
  });

  it('redirects a host that a redirecting server shares with another plain server (Istio)', () => {
    const t = compile(
      [http(['*']), http(['shop.example.com'], { httpsRedirect: true })],
      [vs('default/shop', ['shop.example.com'])],
    );
    assert.equal(name(t.gateway.lookup('shop.example.com')), 'istio-system/gw|https-redirect');
  });

  it('skips servers it cannot serve, with a warning, and serves the rest', () => {
    const t = compile(
      [
        {
          port: { number: 9443, name: 'secret', protocol: 'HTTPS' },
          hosts: ['*'],
          tls: { mode: 'SIMPLE' },
        },
        { port: { number: 2379, name: 'mongo', protocol: 'MONGO' }, hosts: ['*'] },
        { port: { number: 8443, name: 'passthrough', protocol: 'HTTPS' }, hosts: ['*'] },
        http(['shop.example.com']),
      ],
      [vs('default/shop', ['*'])],
    );
    assert.deepEqual(t.tlsServers, []);
    assert.equal(name(t.gateway.lookup('shop.example.com')), 'default/shop');
    assert.equal(t.gateway.lookup('other.example.com'), undefined, 'the MONGO * is not used');
    assert.deepEqual(t.warnings, [
      'gateway istio-system/gw servers[0] (secret): SIMPLE TLS needs serverCertificate and privateKey files (credentialName is not supported); not served',
      'gateway istio-system/gw servers[1] (mongo): protocol MONGO is not served; Weft serves HTTP and HTTPS servers',
      'gateway istio-system/gw servers[2] (passthrough): no TLS mode that Weft terminates (SIMPLE); not served',
    ]);
  });

  it('lists every TLS server in snapshot order, the first being the default certificate', () => {
    const t = compile(
      [https(['b.example.com'], 'b'), https(['a.example.com', '*'], 'a')],
      [vs('default/all', ['*'])],
    );
    assert.deepEqual(
      t.tlsServers.map((s) => [s.serverCertificate, s.hosts]),
      [
        ['/certs/b.pem', ['b.example.com']],
        ['/certs/a.pem', ['a.example.com', '*']],
      ],
    );
    assert.equal(name(t.gatewayTls.lookup('anything.org')), 'default/all');
  });
});
