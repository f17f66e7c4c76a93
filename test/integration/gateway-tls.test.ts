// The gateway as an Istio ingress gateway: per-server hosts, SIMPLE TLS with the certificate
// picked by SNI, httpsRedirect, and a NACK (keeping the last good config) when a certificate
// file cannot be used. A real control plane and gateway on 127.0.0.1 port 0; certificates are
// made at test time with the openssl command (scripts/install-test-deps.mjs installs it).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { ProxyStatus } from '@weft/model';
import { startGateway, type RunningGateway } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** CN of the certificate the gateway presented (HTTPS only). */
  peer?: string;
}

/** A self-signed certificate for `host` (its own CA), EC so that it is made in milliseconds. */
function makeCertificate(dir: string, host: string): { cert: string; key: string } {
  const cert = join(dir, `${host}.pem`);
  const key = join(dir, `${host}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function collect(res: IncomingMessage, resolve: (r: Reply) => void, peer?: string) {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (body += c));
  res.on('end', () =>
    resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(peer ? { peer } : {}) }),
  );
}

function getHttp(port: number, host: string, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, headers: { host }, agent: false },
      (res) => collect(res, resolve),
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function getHttps(
  port: number,
  opts: { servername: string; host?: string; ca: Buffer[]; path?: string; verify?: boolean },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        servername: opts.servername,
        headers: { host: opts.host ?? opts.servername },
        ca: opts.ca,
        rejectUnauthorized: opts.verify ?? true,
        agent: false,
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        collect(res, resolve, typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function gatewayYaml(certs: {
  shop: { cert: string; key: string };
  api: { cert: string; key: string };
}): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [plain.example.com]
    - port: { number: 80, name: http-redirect, protocol: HTTP }
      hosts: [shop.example.com]
      tls:
        httpsRedirect: true
    - port: { number: 443, name: https-shop, protocol: HTTPS }
      hosts: [shop.example.com]
      tls:
        mode: SIMPLE
        serverCertificate: ${certs.shop.cert}
        privateKey: ${certs.shop.key}
    - port: { number: 443, name: https-api, protocol: HTTPS }
      hosts: ['*.api.example.com']
      tls:
        mode: SIMPLE
        serverCertificate: ${certs.api.cert}
        privateKey: ${certs.api.key}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
spec:
  hosts: [shop.example.com, plain.example.com, '*.api.example.com', other.example.com]
  gateways: [edge]
  http:
    - route:
        - destination:
            host: shop
`;
}

describe(
  'gateway servers: hosts, TLS and httpsRedirect',
  {
    timeout: 60_000,
    // Outside CI a machine without openssl skips; under CI it must be there (install-test-deps).
    skip: process.env.CI !== 'true' && !HAS_OPENSSL && 'no openssl command to make certificates',
  },
  () => {
    let dir: string;
    let cp: RunningControlPlane;
    let upstream: FakeUpstream;
    let gw: RunningGateway;
    let httpsPort: number;
    let shop: { cert: string; key: string };
    let api: { cert: string; key: string };
    let ca: Buffer[];

    const apply = async (content: string) => {
      const res = await fetch(`${cp.url}/v1/apply`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ files: [{ path: 'edge.yaml', content }] }),
      });
      assert.equal(res.status, 200, await res.text());
    };
    const proxy = async (id: string): Promise<ProxyStatus | undefined> => {
      const res = await fetch(`${cp.url}/v1/proxies`);
      const { items } = (await res.json()) as { items: ProxyStatus[] };
      return items.find((p) => p.node.id === id);
    };

    before(async () => {
      assert.ok(HAS_OPENSSL, 'the openssl command is needed (scripts/install-test-deps.mjs)');
      dir = mkdtempSync(join(tmpdir(), 'weft-gw-tls-'));
      shop = makeCertificate(dir, 'shop.example.com');
      api = makeCertificate(dir, 'www.api.example.com');
      ca = [readFileSync(shop.cert), readFileSync(api.cert)];
      cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
      upstream = await startFakeUpstream('shop');
      const reg = await fetch(`${cp.url}/v1/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          service: 'shop',
          address: upstream.address,
          port: upstream.port,
          id: 'shop-1',
          ttlSeconds: 60,
        }),
      });
      assert.equal(reg.status, 201, await reg.text());
      await apply(gatewayYaml({ shop, api }));
      gw = await startGateway({ control: cp.url, port: 0, httpsPort: 0, id: 'edge-gw' });
      assert.ok(gw.httpsPort !== undefined && gw.httpsPort > 0);
      httpsPort = gw.httpsPort;
      await gw.ready;
      await eventually('the route to reach the upstream', async () => {
        const r = await getHttp(gw.port, 'plain.example.com');
        return r.status === 200 ? r : undefined;
      });
    });

    after(async () => {
      await gw?.close();
      await upstream?.close();
      await cp?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('terminates TLS with the certificate SNI names and forwards with X-Forwarded-Proto https', async () => {
      upstream.reset();
      const r = await getHttps(httpsPort, { servername: 'shop.example.com', ca, path: '/cart' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.peer, 'shop.example.com');
      assert.equal(upstream.received[0]?.headers['x-forwarded-proto'], 'https');
      assert.equal(upstream.received[0]?.path, '/cart');

      const w = await getHttps(httpsPort, { servername: 'www.api.example.com', ca });
      assert.equal(w.status, 200, w.body);
      assert.equal(w.peer, 'www.api.example.com', 'the wildcard server certificate');
    });

    it('gives clients without a known SNI name the first TLS server certificate', async () => {
      const r = await getHttps(httpsPort, {
        servername: 'unknown.example.net',
        host: 'shop.example.com',
        ca,
      }).catch((err: Error) => err);
      // The default certificate names shop.example.com, so verification of another name fails.
      assert.ok(r instanceof Error);
      assert.match(r.message, /shop\.example\.com/);
      // An empty servername sends no SNI at all.
      const noSni = await getHttps(httpsPort, {
        servername: '',
        host: 'shop.example.com',
        ca,
        verify: false,
      });
      assert.equal(noSni.status, 200);
      assert.equal(noSni.peer, 'shop.example.com');
    });

    it('serves on each listener only the hosts of its servers: others get 404 NR', async () => {
      const plainOnTls = await getHttps(httpsPort, {
        servername: 'shop.example.com',
        host: 'plain.example.com',
        ca,
      });
      assert.equal(plainOnTls.status, 404);
      assert.equal(plainOnTls.headers['x-weft-error'], 'NR');

      const other = await getHttp(gw.port, 'other.example.com');
      assert.equal(other.status, 404, 'a VirtualService host no server accepts');
      assert.equal(other.headers['x-weft-error'], 'NR');

      upstream.reset();
      const plain = await getHttp(gw.port, 'plain.example.com');
      assert.equal(plain.status, 200);
      assert.equal(upstream.received[0]?.headers['x-forwarded-proto'], 'http');
    });

    it('refuses a Host of another TLS server than the one SNI selected: 404 NR, as Istio', async () => {
      // A connection opened for www.api.example.com (its wildcard certificate) asking for
      // shop.example.com, which the other HTTPS server serves: Istio's per-server filter chain
      // has no virtual host for it.
      const r = await getHttps(httpsPort, {
        servername: 'www.api.example.com',
        host: 'shop.example.com',
        ca,
      });
      assert.equal(r.status, 404);
      assert.equal(r.headers['x-weft-error'], 'NR');
      assert.match(r.body, /not served by the TLS server that this connection's SNI/);
      const back = await getHttps(httpsPort, {
        servername: 'shop.example.com',
        host: 'www.api.example.com',
        ca,
      });
      assert.equal(back.status, 404);
      // The selected server's own hosts are served, wildcard included.
      const same = await getHttps(httpsPort, {
        servername: 'www.api.example.com',
        host: 'v2.api.example.com',
        ca,
      });
      assert.equal(same.status, 200, same.body);
    });

    it('answers plain HTTP for an httpsRedirect host with 301 to the HTTPS listener', async () => {
      const r = await getHttp(gw.port, `shop.example.com:${gw.port}`, '/cart?item=7');
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, `https://shop.example.com:${httpsPort}/cart?item=7`);
    });

    it('NACKs a snapshot whose certificate file is missing or not PEM and keeps serving', async () => {
      const before = await proxy('edge-gw');
      assert.equal(before?.nack, undefined);
      const missing = join(dir, 'missing.pem');
      await apply(gatewayYaml({ shop: { ...shop, cert: missing }, api }));
      const nacked = await eventually('a NACK', async () => {
        const p = await proxy('edge-gw');
        return p?.nack !== undefined ? p : undefined;
      });
      assert.match(nacked.nack!.error, /servers\[2\]\.tls\.serverCertificate/);
      assert.match(nacked.nack!.error, /missing\.pem/);
      assert.equal(nacked.ackedVersion, before?.ackedVersion, 'still on the last good version');

      const r = await getHttps(httpsPort, { servername: 'shop.example.com', ca });
      assert.equal(r.status, 200, 'the last good certificates and routes keep serving');
      assert.equal(r.peer, 'shop.example.com');

      const garbage = join(dir, 'garbage.key');
      writeFileSync(garbage, 'not a key\n');
      await apply(gatewayYaml({ shop, api: { ...api, key: garbage } }));
      const again = await eventually('a second NACK', async () => {
        const p = await proxy('edge-gw');
        return p?.nack !== undefined && p.nack.error.includes('garbage.key') ? p : undefined;
      });
      assert.match(again.nack!.error, /servers\[3\]\.tls\.privateKey: .*garbage\.key.* not a PEM/);

      // Fixed: the next snapshot is ACKed.
      await apply(gatewayYaml({ shop, api }));
      await eventually('an ACK', async () => {
        const p = await proxy('edge-gw');
        return p?.nack === undefined && p?.ackedVersion === p?.sentVersion ? p : undefined;
      });
    });

    it('without --https-port, skips TLS servers without a NACK', async () => {
      const plainOnly = await startGateway({ control: cp.url, port: 0, id: 'edge-plain' });
      try {
        await plainOnly.ready;
        assert.equal(plainOnly.httpsPort, undefined);
        const status = await eventually('an ACK', async () => {
          const p = await proxy('edge-plain');
          return p?.ackedVersion !== undefined ? p : undefined;
        });
        assert.equal(status.nack, undefined);
        const r = await getHttp(plainOnly.port, 'plain.example.com');
        assert.equal(r.status, 200);
        const redirect = await getHttp(plainOnly.port, 'shop.example.com', '/');
        assert.equal(redirect.headers.location, 'https://shop.example.com/');
      } finally {
        await plainOnly.close();
      }
    });
  },
);
