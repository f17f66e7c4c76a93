// Fault injection, mirroring, CORS and the rewrite/redirect fields end to end: Istio YAML
// applied to a real control plane, translated, pushed to a real gateway on 127.0.0.1, and
// requests through it to fake upstreams registered as instances.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ApplyResult, type RunningControlPlane } from '@weft/control-plane';
import { startGateway, type RunningGateway } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { eventually, send as sendTo } from './http-helpers.js';

const HOST = 'shop.example.com';

const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [${HOST}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
spec:
  hosts: [${HOST}]
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /abort } }]
      fault:
        abort:
          httpStatus: 418
          percentage: { value: 100 }
      route: [{ destination: { host: ratings } }]
    - match: [{ uri: { prefix: /slow } }]
      timeout: 100ms
      fault:
        delay:
          fixedDelay: 300ms
          percent: 100
      route: [{ destination: { host: ratings } }]
    - match: [{ uri: { prefix: /mirror } }]
      route: [{ destination: { host: ratings } }]
      mirror: { host: shadow }
    - match: [{ uri: { prefix: /api } }]
      corsPolicy:
        allowOrigins: [{ regex: 'https://[a-z]+\\.example\\.com' }]
        allowMethods: [GET, POST]
        allowHeaders: [x-token]
        exposeHeaders: [x-upstream]
        maxAge: 1h
      route: [{ destination: { host: ratings } }]
    - match: [{ uri: { prefix: /svc/ } }]
      rewrite:
        uriRegexRewrite:
          match: ^/svc/([^/]+)/(.*)$
          rewrite: /\\2/by/\\1
      route: [{ destination: { host: ratings } }]
    - match: [{ uri: { prefix: /old/ } }]
      redirect:
        prefixRewrite: /new/
        derivePort: FROM_PROTOCOL_DEFAULT
    - route: [{ destination: { host: ratings } }]
`;

/** Requests go to the shop's host unless a test names another. */
const send = (port: number, path: string, opts: Parameters<typeof sendTo>[2] = {}) =>
  sendTo(port, path, { host: HOST, ...opts });

describe('traffic filters from Istio YAML to the gateway', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let ratings: FakeUpstream;
  let shadow: FakeUpstream;
  let gw: RunningGateway;
  let applied: ApplyResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-filters-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    [ratings, shadow] = await Promise.all([
      startFakeUpstream('ratings'),
      startFakeUpstream('shadow'),
    ]);
    for (const [service, u] of [
      ['ratings', ratings],
      ['shadow', shadow],
    ] as const) {
      const reg = await fetch(`${cp.url}/v1/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          service,
          address: u.address,
          port: u.port,
          id: `${service}-1`,
          ttlSeconds: 60,
        }),
      });
      assert.equal(reg.status, 201, await reg.text());
    }
    const res = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'shop.yaml', content: YAML }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    applied = (await res.json()) as ApplyResult;
    gw = await startGateway({ control: cp.url, port: 0, id: 'filters-gw' });
    await gw.ready;
    await eventually('the gateway to route', async () => {
      const r = await send(gw.port, '/');
      return r.status === 200 ? r : undefined;
    });
  });

  after(async () => {
    await gw?.close();
    await Promise.all([ratings?.close(), shadow?.close()]);
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts every field used without a "not supported" warning', () => {
    const unsupported = applied.warnings.filter((w) => w.message.includes('not supported'));
    assert.deepEqual(unsupported, []);
  });

  it('aborts with the configured status, as the proxy, without calling the upstream', async () => {
    ratings.reset();
    const r = await send(gw.port, '/abort');
    assert.equal(r.status, 418);
    assert.equal(r.body, 'fault filter abort');
    assert.equal(r.headers['x-weft-error'], 'FI');
    assert.equal(r.headers['x-weft-proxy'], 'filters-gw');
    assert.equal(ratings.received.length, 0);
  });

  it('delays outside the route timeout', async () => {
    const r = await send(gw.port, '/slow');
    assert.equal(r.status, 200, 'a 300ms delay with a 100ms route timeout still succeeds');
  });

  it('mirrors to another service with the -shadow host', async () => {
    shadow.reset();
    const r = await send(gw.port, '/mirror/x');
    assert.equal((JSON.parse(r.body) as FakeUpstreamReply).name, 'ratings');
    const copy = await eventually('the mirrored request', async () => shadow.received[0]);
    assert.equal(copy.path, '/mirror/x');
    assert.equal(copy.headers.host, `${HOST}-shadow`);
  });

  it('answers CORS preflights and decorates actual responses', async () => {
    const origin = 'https://app.example.com';
    const pre = await send(gw.port, '/api/items', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], origin);
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(pre.headers['access-control-max-age'], '3600');
    const actual = await send(gw.port, '/api/items', { headers: { origin } });
    assert.equal(actual.headers['access-control-allow-origin'], origin);
    assert.equal(actual.headers['access-control-expose-headers'], 'x-upstream');
    const other = await send(gw.port, '/api/items', { headers: { origin: 'https://evil.org' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('rewrites with uriRegexRewrite and redirects with prefixRewrite', async () => {
    const r = await send(gw.port, '/svc/alice/orders?x=1');
    assert.equal((JSON.parse(r.body) as FakeUpstreamReply).path, '/orders/by/alice?x=1');
    const red = await send(gw.port, '/old/a?b=1', { headers: { host: `${HOST}:8080` } });
    assert.equal(red.status, 301);
    assert.equal(red.headers.location, `http://${HOST}/new/a?b=1`);
  });
});
