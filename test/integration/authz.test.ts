// AuthorizationPolicy end to end: Istio YAML applied to a real control plane, translated,
// pushed, and enforced by a real sidecar's inbound listener (the server side) and by a real
// gateway (remoteIpBlocks with trusted X-Forwarded-For hops). Until mutual TLS gives callers
// a principal, the matrix varies what plaintext callers can vary: method, path, headers and
// client address.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { startGateway, startSidecar, type RunningGateway, type RunningSidecar } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { eventually, send as sendHttp } from './http-helpers.js';

const YAML = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: orders-allow
  namespace: shop
spec:
  selector:
    matchLabels:
      app: orders
  action: ALLOW
  rules:
    - to:
        - operation:
            methods: [GET, HEAD]
            paths: [/public/*]
    - when:
        - key: request.headers[x-role]
          values: [admin]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: no-secrets
  namespace: shop
spec:
  action: DENY
  rules:
    - to:
        - operation:
            paths: [/public/secret*]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: edge-blocklist
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
    - from:
        - source:
            remoteIpBlocks: [203.0.113.0/24]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
  namespace: shop
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [shop.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: shop
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
    - route: [{ destination: { host: catalog } }]
`;

const send = (
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
) => sendHttp(port, path, { host: 'orders.shop', ...opts });

describe('AuthorizationPolicy through a real sidecar and gateway', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let orders: FakeUpstream;
  let catalog: FakeUpstream;
  let sidecar: RunningSidecar;
  let gw: RunningGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-authz-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    [orders, catalog] = await Promise.all([
      startFakeUpstream('orders'),
      startFakeUpstream('catalog'),
    ]);
    const reg = await fetch(`${cp.url}/v1/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: 'catalog',
        namespace: 'shop',
        address: catalog.address,
        port: catalog.port,
        id: 'catalog-1',
        ttlSeconds: 60,
      }),
    });
    assert.equal(reg.status, 201, await reg.text());
    const res = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'authz.yaml', content: YAML }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    sidecar = await startSidecar({
      control: cp.url,
      service: 'orders',
      namespace: 'shop',
      appPort: orders.port,
      id: 'orders-1',
      probeIntervalMs: 60_000,
    });
    gw = await startGateway({
      control: cp.url,
      port: 0,
      id: 'authz-gw',
      namespace: 'shop',
      numTrustedProxies: 1,
    });
    await Promise.all([sidecar.ready, gw.ready]);
    // The first snapshot the proxies run already carries the policies.
    await eventually('the sidecar to enforce', async () => {
      const r = await send(sidecar.inboundPort, '/private');
      return r.status === 403 ? r : undefined;
    });
  });

  after(async () => {
    await gw?.close();
    await sidecar?.close();
    await Promise.all([orders?.close(), catalog?.close()]);
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('matrix: the allowed callers get 200, every other caller 403', async () => {
    const callers: Array<[string, string, { method?: string; headers?: Record<string, string> }]> =
      [
        ['reader', '/public/a', {}],
        ['reader-head', '/public/a', { method: 'HEAD' }],
        ['admin', '/private', { headers: { 'x-role': 'admin' } }],
        ['admin-post', '/private', { method: 'POST', headers: { 'x-role': 'admin' } }],
        ['writer', '/public/a', { method: 'POST' }],
        ['anonymous', '/private', {}],
        ['wrong-role', '/private', { headers: { 'x-role': 'user' } }],
        ['secret', '/public/secret', {}],
        ['secret-as-admin', '/public/secret', { headers: { 'x-role': 'admin' } }],
        ['dot-dot', '/public/../private', {}],
        ['escaped', '/public/%2e%2e/private', {}],
        ['escaped-secret', '/public/%73ecret', {}],
      ];
    const allowed = ['reader', 'reader-head', 'admin', 'admin-post'];
    orders.reset();
    const got: string[] = [];
    for (const [name, path, opts] of callers) {
      const r = await send(sidecar.inboundPort, path, opts);
      got.push(`${name}:${r.status}`);
      if (r.status === 403) {
        assert.ok(r.body.startsWith('RBAC: access denied'), r.body);
        assert.match(r.body, /WEFT_ERR_RBAC_DENIED/);
        assert.equal(r.headers['x-weft-error'], 'RBAC');
        assert.equal(r.headers['x-weft-proxy'], 'orders-1.sidecar');
      }
    }
    assert.deepEqual(
      got,
      callers.map(([name]) => `${name}:${allowed.includes(name) ? 200 : 403}`),
    );
    // Denied requests never reached the app.
    assert.deepEqual(
      orders.received.map((r) => `${r.method} ${r.path}`),
      ['GET /public/a', 'HEAD /public/a', 'GET /private', 'POST /private'],
    );
  });

  it('the app gets the path that was authorized (normalized), query kept', async () => {
    orders.reset();
    const r = await send(sidecar.inboundPort, '/public/./x/../b?q=1');
    assert.equal(r.status, 200);
    assert.equal(orders.received[0]?.path, '/public/b?q=1');
  });

  it('gateway: remoteIpBlocks use the trusted X-Forwarded-For hop, and x-envoy-external-address says which', async () => {
    const viaGateway = (xff: string) =>
      send(gw.port, '/', { headers: { host: 'shop.example.com', 'x-forwarded-for': xff } });
    await eventually('the gateway to route', async () => {
      const r = await viaGateway('198.51.100.1');
      return r.status === 200 ? r : undefined;
    });
    catalog.reset();
    // One trusted hop: the last entry is the client; what is left of it is the client's word.
    assert.equal((await viaGateway('203.0.113.7')).status, 403);
    assert.equal((await viaGateway('1.2.3.4, 203.0.113.7')).status, 403);
    const spoofed = await viaGateway('203.0.113.7, 198.51.100.1');
    assert.equal(spoofed.status, 200);
    assert.equal(catalog.received.length, 1);
    assert.equal(catalog.received[0]?.headers['x-envoy-external-address'], '198.51.100.1');
    assert.equal(
      catalog.received[0]?.headers['x-forwarded-for'],
      '203.0.113.7, 198.51.100.1, 127.0.0.1',
    );
  });
});
