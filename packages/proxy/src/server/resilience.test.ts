// Integration: retries, ejection, timeouts, connection reuse and broken upstreams.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROXY_ERROR_HEADER, type Snapshot } from '@weft/model';
import {
  refusedPort,
  startFakeUpstream,
  type FakeUpstream,
  type FakeUpstreamReply,
} from '@weft/testkit';
import { cluster, forwardTo, snapshot, startProxy, vhost, type ProxyHarness } from './testing.js';

describe('resilience', () => {
  let alive: FakeUpstream;
  let flaky: FakeUpstream;
  let slow: FakeUpstream;
  let oneShot: FakeUpstream;
  let deadPort: number;
  let deadPort2: number;
  let gw: ProxyHarness;
  let snap: Snapshot;

  before(async () => {
    [alive, flaky, slow, oneShot] = await Promise.all([
      startFakeUpstream('alive'),
      startFakeUpstream('flaky'),
      startFakeUpstream('slow'),
      startFakeUpstream('one-shot'),
    ]);
    deadPort = await refusedPort();
    deadPort2 = await refusedPort();
    snap = snapshot(
      1,
      [
        vhost(
          'default/app',
          ['app'],
          [
            forwardTo('half-dead', [{ uri: { prefix: '/half-dead' } }], [['c-half-dead', 1]]),
            forwardTo('all-dead', [{ uri: { prefix: '/all-dead' } }], [['c-all-dead', 1]]),
            forwardTo('timeout', [{ uri: { prefix: '/timeout' } }], [['c-slow', 1]], {
              timeoutMs: 150,
            }),
            forwardTo('per-try', [{ uri: { prefix: '/per-try' } }], [['c-slow-then-alive', 1]], {
              timeoutMs: 2000,
              retries: {
                attempts: 2,
                perTryTimeoutMs: 100,
                retryOn: ['gateway-error'],
                retriableStatusCodes: [],
              },
            }),
            forwardTo('retry-503', [{ uri: { prefix: '/retry-503' } }], [['c-flaky-alive', 1]], {
              retries: {
                attempts: 2,
                retryOn: ['retriable-status-codes'],
                retriableStatusCodes: [503],
              },
            }),
            forwardTo('only-503', [{ uri: { prefix: '/only-503' } }], [['c-flaky', 1]], {
              retries: {
                attempts: 2,
                retryOn: ['retriable-status-codes'],
                retriableStatusCodes: [503],
              },
            }),
            forwardTo('default-policy', [{ uri: { prefix: '/default-policy' } }], [['c-flaky', 1]]),
            forwardTo('one-shot', [{ uri: { prefix: '/one-shot' } }], [['c-one-shot', 1]]),
            forwardTo('alive', [], [['c-alive', 1]]),
          ],
        ),
      ],
      [
        cluster('c-alive', [{ port: alive.port }]),
        {
          ...cluster('c-one-shot', [{ port: oneShot.port }]),
          pool: { maxRequestsPerConnection: 2 },
        },
        cluster('c-half-dead', [{ port: deadPort }, { port: alive.port }]),
        cluster('c-all-dead', [{ port: deadPort }, { port: deadPort2 }]),
        cluster('c-slow', [{ port: slow.port }]),
        cluster('c-slow-then-alive', [{ port: slow.port }, { port: alive.port }], 'ROUND_ROBIN'),
        cluster('c-flaky-alive', [{ port: flaky.port }, { port: alive.port }]),
        cluster('c-flaky', [{ port: flaky.port }]),
      ],
    );
    gw = await startProxy('gateway', snap, { health: { baseEjectionMs: 60_000 } });
  });

  after(async () => {
    await gw.close();
    await Promise.all([alive, flaky, slow, oneShot].map((u) => u.close()));
  });

  it('retries a refused connection on another endpoint and ejects the dead one', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => gw.send({ host: 'app', path: '/half-dead' })),
    );
    for (const r of replies) assert.equal(r.status, 200, r.body);
    const dead = gw.dp.table()!.clusters.get('c-half-dead')!.endpoints[0]!;
    assert.equal(gw.dp.health.isEjected(dead.outlier, Date.now()), true);
    const before = alive.requests;
    for (let i = 0; i < 10; i++)
      assert.equal((await gw.send({ host: 'app', path: '/half-dead' })).status, 200);
    assert.equal(alive.requests - before, 10);
  });

  it('keeps the ejection across a snapshot swap', async () => {
    gw.dp.apply({ ...snap, version: 2 });
    assert.equal(gw.dp.version(), 2);
    const dead = gw.dp.table()!.clusters.get('c-half-dead')!.endpoints[0]!;
    assert.equal(gw.dp.health.isEjected(dead.outlier, Date.now()), true);
    const before = alive.requests;
    assert.equal((await gw.send({ host: 'app', path: '/half-dead' })).status, 200);
    assert.equal(alive.requests - before, 1, 'no new attempt on the dead endpoint');
  });

  it('answers 503 UF with a clear body when every endpoint refuses', async () => {
    const r = await gw.send({ host: 'app', path: '/all-dead' });
    assert.equal(r.status, 503);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'UF');
    assert.match(
      r.body,
      /^weft gateway-1: upstream connect error: could not connect to c-all-dead\.default\.svc\.cluster\.local \(3 tries; last: 127\.0\.0\.1:\d+ ECONNREFUSED\) \(UF, WEFT_ERR_UPSTREAM_CONNECT\)\n$/,
    );
    // Every endpoint is ejected now; panic mode still tries them rather than answering UH.
    const again = await gw.send({ host: 'app', path: '/all-dead' });
    assert.equal(again.headers[PROXY_ERROR_HEADER], 'UF');
  });

  it('answers 504 UT when the route timeout expires', async () => {
    slow.set({ delayMs: 1000 });
    const t0 = Date.now();
    const r = await gw.send({ host: 'app', path: '/timeout' });
    assert.equal(r.status, 504);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'UT');
    assert.match(r.body, /within the route timeout of 150 ms.*\(UT, WEFT_ERR_UPSTREAM_TIMEOUT\)/);
    assert.ok(Date.now() - t0 < 900);
    slow.set({});
  });

  it('retries a per-try timeout on another endpoint when retryOn has gateway-error', async () => {
    slow.set({ delayMs: 1000 });
    for (let i = 0; i < 4; i++) {
      const r = await gw.send({ host: 'app', path: '/per-try' });
      assert.equal(r.status, 200);
      assert.equal(r.json<FakeUpstreamReply>().name, 'alive');
    }
    slow.set({});
  });

  it('retries a retriable status on a fresh endpoint', async () => {
    flaky.set({ status: 503 });
    for (let i = 0; i < 6; i++) {
      const r = await gw.send({ host: 'app', path: '/retry-503' });
      assert.equal(r.status, 200);
      assert.equal(r.json<FakeUpstreamReply>().name, 'alive');
    }
  });

  it('passes the last upstream 503 through as is when retries run out (URX)', async () => {
    flaky.set({ status: 503 });
    const before = flaky.requests;
    const r = await gw.send({ host: 'app', path: '/only-503' });
    assert.equal(r.status, 503);
    assert.equal(
      r.headers[PROXY_ERROR_HEADER],
      undefined,
      'the upstream response, not a proxy error',
    );
    assert.equal(r.json<FakeUpstreamReply>().name, 'flaky');
    assert.equal(flaky.requests - before, 3);
  });

  it("retries a plain 503 of a GET under Weft's default policy, never of a POST", async () => {
    flaky.set({ status: 503 });
    let before = flaky.requests;
    const get = await gw.send({ host: 'app', path: '/default-policy' });
    assert.equal(get.status, 503);
    assert.equal(flaky.requests - before, 3, 'GET: the first try and 2 retries');
    before = flaky.requests;
    const post = await gw.send({ host: 'app', path: '/default-policy', method: 'POST', body: 'x' });
    assert.equal(post.status, 503);
    assert.equal(flaky.requests - before, 1, 'POST reached the app: not retried');
    flaky.set({});
  });

  it('reuses upstream connections (keep-alive)', async () => {
    const before = { req: alive.requests, conn: alive.connections };
    for (let i = 0; i < 50; i++)
      assert.equal((await gw.send({ host: 'app', path: '/' })).status, 200);
    const reqs = alive.requests - before.req;
    const conns = alive.connections - before.conn;
    assert.equal(reqs, 50);
    assert.ok(conns <= 2, `${conns} new connections for 50 requests`);
  });

  it('resets the client connection when the upstream dies mid-body', async () => {
    await assert.rejects(
      gw.send({ host: 'app', path: '/', headers: { 'x-fake-close': 'mid-body' } }),
      (err: NodeJS.ErrnoException) =>
        err.code === 'ECONNRESET' || /aborted|socket hang up/.test(err.message),
    );
    assert.equal((await gw.send({ host: 'app', path: '/' })).status, 200, 'and keeps serving');
  });

  it('answers 503 UR when the upstream closes the connection before answering', async () => {
    const r = await gw.send({
      host: 'app',
      path: '/default-policy',
      headers: { 'x-fake-close': 'before-headers' },
    });
    assert.equal(r.status, 503);
    assert.equal(r.headers[PROXY_ERROR_HEADER], 'UR');
    assert.match(r.body, /reset the connection before responding.*\(UR, WEFT_ERR_UPSTREAM_RESET\)/);
  });

  it('forwards small request bodies (buffered, retried) and large ones (streamed)', async () => {
    const small = await gw.send({ host: 'app', path: '/half-dead', method: 'POST', body: 'hello' });
    assert.equal(small.json<FakeUpstreamReply>().body, 'hello');
    const bigBody = 'x'.repeat(200 * 1024);
    const big = await gw.send({ host: 'app', path: '/', method: 'PUT', body: bigBody });
    assert.equal(big.json<FakeUpstreamReply>().body.length, bigBody.length);
    const chunked = await gw.send({
      host: 'app',
      path: '/',
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: 'chunk-body',
    });
    const echo = chunked.json<FakeUpstreamReply>();
    assert.equal(echo.body, 'chunk-body');
    assert.equal(echo.headers['transfer-encoding'], 'chunked');
  });

  it('retries a chunked body while its copy fits the replay buffer, not once it outgrew it', async () => {
    // An earlier test's reset ejected flaky for a minute; this one needs it in rotation.
    for (const e of gw.dp.table()!.clusters.get('c-flaky-alive')!.endpoints)
      e.outlier.ejectedUntil = 0;
    flaky.set({ status: 503 });
    try {
      const chunked = { 'transfer-encoding': 'chunked' };
      let before = { flaky: flaky.requests, alive: alive.requests };
      for (let i = 0; i < 6; i++) {
        const r = await gw.send({
          host: 'app',
          path: '/retry-503',
          method: 'POST',
          headers: chunked,
          body: `chunk-replayed-${i}`,
        });
        assert.equal(r.status, 200, r.body);
        assert.equal(r.json<FakeUpstreamReply>().body, `chunk-replayed-${i}`, 'the whole body');
      }
      assert.ok(flaky.requests - before.flaky >= 1, 'some first tries met the 503');
      assert.equal(alive.requests - before.alive, 6);

      before = { flaky: flaky.requests, alive: alive.requests };
      const big = 'y'.repeat(200 * 1024);
      const replies = [];
      for (let i = 0; i < 4; i++) {
        replies.push(
          await gw.send({
            host: 'app',
            path: '/retry-503',
            method: 'POST',
            headers: chunked,
            body: big,
          }),
        );
      }
      const failed = replies.filter((r) => r.status === 503).length;
      assert.equal(failed, flaky.requests - before.flaky, 'too big to replay: the 503 stands');
      assert.equal(replies.length - failed, alive.requests - before.alive);
    } finally {
      flaky.set({});
    }
  });

  it('closes an upstream connection after maxRequestsPerConnection requests', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await gw.send({ host: 'app', path: '/one-shot' });
      assert.equal(r.status, 200, r.body);
    }
    assert.equal(oneShot.requests, 10);
    assert.equal(oneShot.connections, 5, 'two requests per connection');
  });
});
