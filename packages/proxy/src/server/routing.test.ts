// Integration: real listeners on 127.0.0.1 port 0, the real handler, fake upstreams.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PROXY_ERROR_HEADER, PROXY_ID_HEADER } from '@weft/model';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { cluster, forwardTo, snapshot, startProxy, vhost, type ProxyHarness } from './testing.js';

describe('routing through the gateway', () => {
  let user: FakeUpstream;
  let order1: FakeUpstream;
  let order2: FakeUpstream;
  let stockA: FakeUpstream;
  let stockB: FakeUpstream;
  let gw: ProxyHarness;

  before(async () => {
    [user, order1, order2, stockA, stockB] = await Promise.all([
      startFakeUpstream('user'),
      startFakeUpstream('order-v1'),
      startFakeUpstream('order-v2'),
      startFakeUpstream('stock-a'),
      startFakeUpstream('stock-b'),
    ]);
    const snap = snapshot(
      1,
      [
        vhost(
          'default/shop',
          ['shop.example.com'],
          [
            {
              id: 'shop#direct',
              matches: [{ uri: { exact: '/healthz' } }],
              headers: { response: { set: { 'x-direct': 'yes' } } },
              action: { type: 'direct', status: 200, body: 'ok' },
            },
            {
              id: 'shop#redirect',
              matches: [{ uri: { prefix: '/old/' } }],
              action: { type: 'redirect', uri: '/new/', code: 301 },
            },
            forwardTo('shop#user-exact', [{ uri: { exact: '/user/special' } }], [['c-order1', 1]]),
            forwardTo('shop#user', [{ uri: { prefix: '/user' } }], [['c-user', 1]], {
              rewrite: { uri: '/users', authority: 'user.internal' },
              headers: {
                request: { set: { 'x-route': 'user' } },
                response: { add: { 'x-served-by': 'weft' } },
              },
            }),
            forwardTo(
              'shop#order',
              [{ uri: { prefix: '/order' } }],
              [
                ['c-order1', 90],
                ['c-order2', 10],
              ],
            ),
            forwardTo('shop#stock', [{ uri: { prefix: '/stock' } }], [['c-stock', 1]]),
            forwardTo('shop#ghost', [{ uri: { prefix: '/ghost' } }], [['outbound|80|v9|ghost', 1]]),
            forwardTo('shop#sick', [{ uri: { prefix: '/sick' } }], [['c-sick', 1]]),
          ],
        ),
        vhost('default/api', ['*.api.example.com'], [forwardTo('api#all', [], [['c-order2', 1]])]),
      ],
      [
        cluster('c-user', [{ port: user.port }]),
        cluster('c-order1', [{ port: order1.port }]),
        cluster('c-order2', [{ port: order2.port }]),
        cluster('c-stock', [{ port: stockA.port }, { port: stockB.port }]),
        cluster('c-sick', [
          { port: stockA.port, healthy: false },
          { port: stockB.port, healthy: false },
        ]),
      ],
    );
    gw = await startProxy('gateway', snap);
  });

  after(async () => {
    await gw.close();
    await Promise.all([user, order1, order2, stockA, stockB].map((u) => u.close()));
  });

  it('routes by host and prefix, first matching rule wins', async () => {
    const special = await gw.send({ host: 'shop.example.com', path: '/user/special' });
    assert.equal(special.json<FakeUpstreamReply>().name, 'order-v1');
    const u = await gw.send({ host: 'shop.example.com:8080', path: '/user/7?x=1' });
    assert.equal(u.status, 200);
    const echo = u.json<FakeUpstreamReply>();
    assert.equal(echo.name, 'user');
    assert.equal(echo.path, '/users/7?x=1', 'rewrite replaces the matched prefix, keeps the query');
    assert.equal(echo.headers.host, 'user.internal', 'rewrite.authority replaces Host');
    assert.equal(echo.headers['x-route'], 'user');
    assert.equal(u.headers['x-served-by'], 'weft');
    const api = await gw.send({ host: 'v1.api.example.com', path: '/anything' });
    assert.equal(api.json<FakeUpstreamReply>().name, 'order-v2');
  });

  it('keeps Host when nothing rewrites it', async () => {
    const r = await gw.send({ host: 'shop.example.com', path: '/stock/1' });
    assert.equal(r.json<FakeUpstreamReply>().headers.host, 'shop.example.com');
  });

  it('splits 90/10 by weight over 2,000 requests within 3 points', async () => {
    const counts = { 'order-v1': 0, 'order-v2': 0 } as Record<string, number>;
    for (let i = 0; i < 2000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => gw.send({ host: 'shop.example.com', path: '/order/1' })),
      );
      for (const r of batch) counts[r.json<FakeUpstreamReply>().name]! += 1;
    }
    const v1 = (counts['order-v1']! / 2000) * 100;
    assert.ok(Math.abs(v1 - 90) <= 3, `v1 got ${v1}%`);
  });

  it('round robin spreads evenly over the endpoints', async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const name = (
        await gw.send({ host: 'shop.example.com', path: '/stock/x' })
      ).json<FakeUpstreamReply>().name;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.equal(counts.get('stock-a'), 50);
    assert.equal(counts.get('stock-b'), 50);
  });

  it('answers 404 NR for an unknown host, with the proxy headers and a clear body', async () => {
    const r = await gw.send({ host: 'nope.example.org', path: '/x' });
    assert.equal(r.status, 404);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'NR');
    assert.equal(r.headers[PROXY_ID_HEADER], 'gateway-1');
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(
      r.body,
      'weft gateway-1: no route for host "nope.example.org" and path "/x": no virtual host serves this host (NR, WEFT_ERR_NO_ROUTE)\n',
    );
  });

  it('answers 404 NR when the host is known but no rule matches', async () => {
    const r = await gw.send({ host: 'shop.example.com', path: '/nothing' });
    assert.equal(r.status, 404);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'NR');
    assert.match(
      r.body,
      /no route for host "shop\.example\.com" and path "\/nothing": no rule of default\/shop matched \(NR, WEFT_ERR_NO_ROUTE\)/,
    );
  });

  it('answers 503 NC when the route names a cluster that does not exist', async () => {
    const r = await gw.send({ host: 'shop.example.com', path: '/ghost' });
    assert.equal(r.status, 503);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'NC');
    assert.match(
      r.body,
      /cluster "outbound\|80\|v9\|ghost", which is not in the configuration .*\(NC, WEFT_ERR_NO_CLUSTER\)/,
    );
  });

  it('answers 503 UH when every endpoint reported itself unhealthy', async () => {
    const r = await gw.send({ host: 'shop.example.com', path: '/sick' });
    assert.equal(r.status, 503);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'UH');
    assert.match(
      r.body,
      /no healthy endpoint for c-sick\.default\.svc\.cluster\.local \(2 known, 2 reported unhealthy\) \(UH, WEFT_ERR_NO_HEALTHY_UPSTREAM\)/,
    );
  });

  it('serves direct responses and redirects itself', async () => {
    const d = await gw.send({ host: 'shop.example.com', path: '/healthz' });
    assert.equal(d.status, 200);
    assert.equal(d.body, 'ok');
    assert.equal(d.headers['x-direct'], 'yes');
    const r = await gw.send({ host: 'shop.example.com:8080', path: '/old/a?q=1' });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'http://shop.example.com:8080/new/?q=1');
  });

  it('answers 400 to a malformed request line and keeps serving', async () => {
    const raw = await rawExchange(gw.port, 'GARBAGE\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /x-weft-error: DPE/);
    assert.match(raw, /WEFT_ERR_BAD_REQUEST/);
    const ok = await gw.send({ host: 'shop.example.com', path: '/healthz' });
    assert.equal(ok.status, 200);
  });
});

describe('sidecar outbound', () => {
  let user: FakeUpstream;
  let side: ProxyHarness;

  before(async () => {
    user = await startFakeUpstream('user');
    side = await startProxy(
      'outbound',
      snapshot(
        3,
        [
          vhost(
            'default|user',
            ['user.default.svc.cluster.local', 'user'],
            [forwardTo('default', [], [['c-user', 1]])],
          ),
        ],
        [cluster('c-user', [{ port: user.port }])],
      ),
    );
  });
  after(async () => {
    await side.close();
    await user.close();
  });

  it('routes absolute-form requests (the app uses the sidecar as HTTP_PROXY) by the target authority', async () => {
    const raw = await rawExchange(
      side.port,
      'GET http://user/user/1?x=2 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as FakeUpstreamReply;
    assert.equal(body.path, '/user/1?x=2', 'origin-form upstream');
    assert.equal(body.headers.host, 'user');
  });

  it('routes by Host with a port', async () => {
    const r = await side.send({ host: 'user:9080', path: '/u' });
    assert.equal(r.json<FakeUpstreamReply>().name, 'user');
  });
});

describe('before the first snapshot', () => {
  it('answers 503 WEFT_ERR_NO_SNAPSHOT', async () => {
    const gw = await startProxy('gateway', undefined);
    try {
      const r = await gw.send({ host: 'a', path: '/' });
      assert.equal(r.status, 503);
      assert.match(
        r.body,
        /no configuration from the control plane yet.*WEFT_ERR_NO_SNAPSHOT\)\n$/,
      );
    } finally {
      await gw.close();
    }
  });
});

/** Writes raw bytes and collects everything until the server closes or goes quiet. */
export function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    let quiet: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(quiet);
      s.destroy();
      resolve(out);
    };
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
      clearTimeout(quiet);
      quiet = setTimeout(done, 200);
    });
    s.on('end', done);
    s.on('error', reject);
    s.write(data);
  });
}
