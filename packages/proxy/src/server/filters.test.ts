// Integration: fault injection, mirroring, CORS and the rewrite/redirect fields through the
// real handler on 127.0.0.1, with fake upstreams. Timing is never asserted as an upper bound.

import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { request } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROXY_ERROR_HEADER, PROXY_ID_HEADER, type Route } from '@weft/model';
import {
  refusedPort,
  seededRandom,
  startFakeUpstream,
  type FakeUpstream,
  type FakeUpstreamReply,
} from '@weft/testkit';
import { mirrorStats } from '../filters/mirror/send.js';
import { CHANNEL_NAMES, type RequestEndEvent } from '../telemetry/channels.js';
import { cluster, forwardTo, snapshot, startProxy, vhost, type ProxyHarness } from './testing.js';

const HOST = 'shop.example.com';
const ORIGIN = 'https://app.example.com';

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('route filters through the gateway', () => {
  let primary: FakeUpstream;
  let mirror: FakeUpstream;
  let slowMirror: FakeUpstream;
  let corsApp: FakeUpstream;
  let gw: ProxyHarness;
  const events: RequestEndEvent[] = [];
  const onEvent = (e: unknown) => void events.push(e as RequestEndEvent);

  before(async () => {
    [primary, mirror, slowMirror, corsApp] = await Promise.all([
      startFakeUpstream('primary'),
      startFakeUpstream('mirror'),
      startFakeUpstream('slow-mirror', { behavior: { delayMs: 3000 } }),
      startFakeUpstream('cors-app', {
        behavior: { headers: { 'access-control-allow-origin': '*', vary: 'Accept' } },
      }),
    ]);
    const dead = await refusedPort();
    const cors = {
      allowOrigins: [{ exact: ORIGIN }, { prefix: 'https://dev.' }],
      allowMethods: ['GET', 'PUT'],
      allowHeaders: ['x-custom'],
      exposeHeaders: ['x-upstream'],
      maxAgeSeconds: 600,
      allowCredentials: true,
    };
    const routes: Route[] = [
      {
        ...forwardTo('abort', [{ uri: { prefix: '/abort' } }], [['c-primary', 1]]),
        fault: { abort: { httpStatus: 503, percent: 30 } },
        headers: { response: { set: { 'x-route': 'abort' } } },
      },
      {
        // A delay longer than the route timeout: the timeout starts after the delay.
        ...forwardTo('delay', [{ uri: { prefix: '/delay' } }], [['c-primary', 1]], {
          timeoutMs: 100,
        }),
        fault: { delay: { fixedDelayMs: 300, percent: 100 } },
      },
      {
        ...forwardTo('long-delay', [{ uri: { prefix: '/long-delay' } }], [['c-primary', 1]]),
        fault: { delay: { fixedDelayMs: 5000, percent: 100 } },
      },
      {
        ...forwardTo('delay-abort', [{ uri: { prefix: '/both' } }], [['c-primary', 1]]),
        fault: {
          delay: { fixedDelayMs: 20, percent: 100 },
          abort: { httpStatus: 429, percent: 100 },
        },
      },
      forwardTo('mirror', [{ uri: { prefix: '/mirror/' } }], [['c-primary', 1]], {
        rewrite: { uri: '/v2/' },
        retries: { attempts: 0, retryOn: [], retriableStatusCodes: [] },
        mirrors: [{ cluster: 'c-mirror', host: 'mirror', percent: 100 }],
      }),
      forwardTo('mirror-dead', [{ uri: { prefix: '/mirror-dead' } }], [['c-primary', 1]], {
        mirrors: [
          { cluster: 'c-dead', host: 'dead', percent: 100 },
          { cluster: 'c-missing', host: 'missing', percent: 100 },
        ],
      }),
      forwardTo('mirror-slow', [{ uri: { prefix: '/mirror-slow' } }], [['c-primary', 1]], {
        mirrors: [{ cluster: 'c-slow-mirror', host: 'slow', percent: 100 }],
      }),
      {
        ...forwardTo('cors', [{ uri: { prefix: '/cors' } }], [['c-cors-app', 1]]),
        cors,
      },
      {
        ...forwardTo('cors-ignore', [{ uri: { prefix: '/strict' } }], [['c-cors-app', 1]]),
        cors: { ...cors, unmatchedPreflights: 'IGNORE' },
      },
      {
        ...forwardTo('cors-dead', [{ uri: { prefix: '/failing/dead' } }], [['c-dead', 1]], {
          retries: { attempts: 0, retryOn: [], retriableStatusCodes: [] },
        }),
        cors,
      },
      { ...forwardTo('cors-nc', [{ uri: { prefix: '/failing/nc' } }], [['c-missing', 1]]), cors },
      { ...forwardTo('cors-uh', [{ uri: { prefix: '/failing/uh' } }], [['c-empty', 1]]), cors },
      {
        ...forwardTo('cors-abort', [{ uri: { prefix: '/failing/abort' } }], [['c-primary', 1]]),
        fault: { abort: { httpStatus: 503, percent: 100 } },
        cors,
      },
      {
        id: 'cors-direct',
        matches: [{ uri: { exact: '/hello' } }],
        action: { type: 'direct', status: 200, body: 'hi' },
        cors,
      },
      forwardTo('regex', [{ uri: { prefix: '/service/' } }], [['c-primary', 1]], {
        rewrite: { uriRegex: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } },
      }),
      {
        id: 'prefix-redirect',
        matches: [{ uri: { prefix: '/old/' } }],
        action: {
          type: 'redirect',
          code: 301,
          prefixRewrite: '/new/',
          derivePort: 'FROM_REQUEST_PORT',
        },
      },
      {
        id: 'secure-redirect',
        matches: [{ uri: { prefix: '/secure' } }],
        action: {
          type: 'redirect',
          code: 308,
          scheme: 'https',
          derivePort: 'FROM_PROTOCOL_DEFAULT',
        },
      },
      forwardTo('plain', [{ uri: { prefix: '/' } }], [['c-primary', 1]]),
    ];
    const snap = snapshot(
      1,
      [vhost('default/shop', [HOST], routes)],
      [
        cluster('c-primary', [{ port: primary.port }]),
        cluster('c-mirror', [{ port: mirror.port }]),
        cluster('c-slow-mirror', [{ port: slowMirror.port }]),
        cluster('c-dead', [{ port: dead }]),
        cluster('c-cors-app', [{ port: corsApp.port }]),
        cluster('c-empty', []),
      ],
    );
    gw = await startProxy('gateway', snap, { random: seededRandom(7), maxBufferedBodyBytes: 1024 });
    diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onEvent);
  });

  after(async () => {
    diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onEvent);
    await gw.close();
    await Promise.all([primary, mirror, slowMirror, corsApp].map((u) => u.close()));
  });

  beforeEach(() => {
    for (const u of [primary, mirror, slowMirror, corsApp]) (u.received as unknown[]).length = 0;
    events.length = 0;
  });

  describe('fault injection', () => {
    it('aborts 30 % of 2,000 requests (within 3 points), as the proxy, without the upstream', async () => {
      let aborted = 0;
      for (let i = 0; i < 2000; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: 50 }, () => gw.send({ host: HOST, path: '/abort' })),
        );
        for (const r of batch) {
          if (r.status === 200) continue;
          aborted++;
          assert.equal(r.status, 503);
          assert.equal(r.body, 'fault filter abort');
          assert.equal(r.headers[PROXY_ERROR_HEADER], 'FI');
          assert.equal(r.headers[PROXY_ID_HEADER], 'gateway-1');
          assert.equal(r.headers['x-route'], 'abort', 'route response ops apply to the abort');
        }
      }
      const pct = (aborted / 2000) * 100;
      assert.ok(Math.abs(pct - 30) <= 3, `aborted ${pct}%`);
      assert.equal(primary.received.length, 2000 - aborted, 'aborted requests never go upstream');
      const flagged = events.filter((e) => e.routeId === 'abort' && e.flag === 'FI');
      assert.equal(flagged.length, aborted);
    });

    it('delays before forwarding, outside the route timeout, and logs DI', async () => {
      const started = performance.now();
      const r = await gw.send({ host: HOST, path: '/delay' });
      const took = performance.now() - started;
      assert.equal(r.status, 200, 'a 300 ms delay does not eat into a 100 ms route timeout');
      assert.equal(r.json<FakeUpstreamReply>().name, 'primary');
      assert.equal(primary.received.length, 1);
      // A lower bound only: timers never fire early by more than a millisecond.
      assert.ok(took >= 290, `answered after ${took} ms`);
      await until(() => events.some((e) => e.routeId === 'delay'), 'the request end event');
      const e = events.find((x) => x.routeId === 'delay')!;
      assert.equal(e.flag, 'DI');
      assert.equal(e.status, 200);
      assert.equal(e.cluster, 'c-primary');
    });

    it('delays, then aborts, when both fire (DI,FI)', async () => {
      const r = await gw.send({ host: HOST, path: '/both' });
      assert.equal(r.status, 429);
      assert.equal(r.body, 'fault filter abort');
      assert.equal(primary.received.length, 0);
      await until(() => events.length > 0, 'the request end event');
      assert.equal(events[0]!.flag, 'DI,FI');
    });

    it('lets a client leave during a delay without calling the upstream', async () => {
      const req = request({
        host: '127.0.0.1',
        port: gw.port,
        path: '/long-delay',
        headers: { host: HOST },
      });
      req.on('error', () => undefined);
      req.end();
      await sleep(50);
      req.destroy();
      await until(() => events.some((e) => e.routeId === 'long-delay'), 'the request end event');
      assert.equal(events.find((e) => e.routeId === 'long-delay')!.flag, 'DI,DC');
      assert.equal(primary.received.length, 0);
    });
  });

  describe('mirroring', () => {
    it('sends a copy with the -shadow host; the client gets the primary’s answer', async () => {
      const r = await gw.send({
        host: HOST,
        method: 'POST',
        path: '/mirror/item?x=1',
        headers: { 'content-type': 'text/plain', 'x-request-id': 'req-1' },
        body: 'hello',
      });
      assert.equal(r.status, 200);
      assert.equal(r.json<FakeUpstreamReply>().name, 'primary');
      await until(() => mirror.received.length === 1, 'the mirrored request');
      const copy = mirror.received[0]!;
      const real = primary.received[0]!;
      assert.equal(copy.method, 'POST');
      assert.equal(copy.path, '/v2/item?x=1', 'the copy is of the request as forwarded');
      assert.equal(real.path, '/v2/item?x=1');
      assert.equal(copy.body, 'hello', 'a small body is mirrored');
      assert.equal(copy.headers.host, `${HOST}-shadow`);
      assert.equal(real.headers.host, HOST);
      assert.equal(copy.headers['x-request-id'], 'req-1');
      // Both show up in telemetry; only the copy is marked as shadow traffic.
      await until(() => events.some((e) => e.shadow === true), 'the copy’s telemetry event');
      const shadow = events.filter((e) => e.shadow === true);
      assert.equal(shadow.length, 1);
      assert.equal(shadow[0]!.authority, `${HOST}-shadow`);
      assert.equal(shadow[0]!.cluster, 'c-mirror');
      assert.equal(shadow[0]!.status, 200);
      assert.equal(shadow[0]!.path, '/v2/item?x=1');
      assert.equal(shadow[0]!.requestId, 'req-1');
      assert.equal(shadow[0]!.routeId, 'mirror');
      const realEvents = events.filter((e) => e.shadow === undefined);
      assert.equal(realEvents.length, 1);
      assert.equal(realEvents[0]!.cluster, 'c-primary');
    });

    it('does not mirror a body too large to hold (it streams to the primary)', async () => {
      const sent = mirrorStats.sent;
      const body = 'x'.repeat(4096);
      const r = await gw.send({ host: HOST, method: 'POST', path: '/mirror/big', body });
      assert.equal(r.status, 200);
      assert.equal(r.json<FakeUpstreamReply>().body.length, 4096);
      assert.equal(mirrorStats.sent, sent, 'no copy was sent');
    });

    it('a mirror that refuses connections, or is missing, does not touch the real request', async () => {
      const failed = mirrorStats.failed;
      const dropped = mirrorStats.dropped;
      for (let i = 0; i < 3; i++) {
        const r = await gw.send({ host: HOST, path: '/mirror-dead' });
        assert.equal(r.status, 200);
        assert.equal(r.json<FakeUpstreamReply>().name, 'primary');
      }
      await until(() => mirrorStats.failed >= failed + 3, 'the failed copies');
      assert.equal(mirrorStats.dropped, dropped + 3, 'no cluster: dropped');
      await until(
        () => events.filter((e) => e.shadow === true).length === 3,
        'the failed copies’ telemetry',
      );
      for (const e of events.filter((x) => x.shadow === true)) {
        assert.equal(e.status, 0);
        assert.equal(e.flag, 'UF', 'a refused copy is logged as a connect failure');
      }
    });

    it('a slow mirror does not delay the real request', async () => {
      const answered = mirrorStats.answered;
      const r = await gw.send({ host: HOST, path: '/mirror-slow' });
      assert.equal(r.status, 200);
      await until(() => slowMirror.received.length === 1, 'the mirrored request');
      assert.equal(mirrorStats.answered, answered, 'answered before the mirror did');
    });
  });

  describe('CORS', () => {
    const origin = ORIGIN;
    const preflight = (path: string, o: string) =>
      gw.send({
        host: HOST,
        method: 'OPTIONS',
        path,
        headers: { origin: o, 'access-control-request-method': 'PUT' },
      });

    it('answers a preflight from an allowed origin itself', async () => {
      const r = await preflight('/cors/x', origin);
      assert.equal(r.status, 200);
      assert.equal(r.headers['access-control-allow-origin'], origin);
      assert.equal(r.headers['access-control-allow-methods'], 'GET,PUT');
      assert.equal(r.headers['access-control-allow-headers'], 'x-custom');
      assert.equal(r.headers['access-control-max-age'], '600');
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.equal(r.headers.vary, 'Origin');
      assert.equal(corsApp.received.length, 0);
    });

    it('forwards a preflight from another origin (FORWARD), or answers it bare (IGNORE)', async () => {
      const fwd = await preflight('/cors/x', 'https://evil.example');
      assert.equal(fwd.json<FakeUpstreamReply>().method, 'OPTIONS');
      assert.equal(corsApp.received.length, 1);
      const ignored = await preflight('/strict/x', 'https://evil.example');
      assert.equal(ignored.status, 200);
      assert.equal(ignored.headers['access-control-allow-origin'], undefined);
      assert.equal(ignored.body, '');
      assert.equal(corsApp.received.length, 1, 'IGNORE does not forward');
    });

    it('adds the CORS headers to the response of an allowed actual request', async () => {
      const r = await gw.send({ host: HOST, path: '/cors/x', headers: { origin } });
      assert.equal(r.status, 200);
      assert.equal(
        r.headers['access-control-allow-origin'],
        origin,
        "the policy's answer replaces the upstream's *",
      );
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.equal(r.headers['access-control-expose-headers'], 'x-upstream');
      assert.equal(r.headers.vary, 'Accept, Origin');
      const other = await gw.send({
        host: HOST,
        path: '/cors/x',
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(other.headers['access-control-allow-origin'], '*', 'untouched');
      assert.equal(other.headers['access-control-allow-credentials'], undefined);
    });

    it('adds them to responses the proxy makes too', async () => {
      const r = await gw.send({ host: HOST, path: '/hello', headers: { origin: 'https://dev.x' } });
      assert.equal(r.body, 'hi');
      assert.equal(r.headers['access-control-allow-origin'], 'https://dev.x');
    });

    it('adds them to the proxy’s own errors after the CORS stage, so a browser can read them', async () => {
      for (const [path, status, flag] of [
        ['/failing/dead', 503, 'UF'],
        ['/failing/nc', 503, 'NC'],
        ['/failing/uh', 503, 'UH'],
      ] as const) {
        const r = await gw.send({ host: HOST, path, headers: { origin } });
        assert.equal(r.status, status, path);
        assert.equal(r.headers['x-weft-error'], flag, path);
        assert.equal(r.headers['access-control-allow-origin'], origin, path);
        assert.equal(r.headers['access-control-allow-credentials'], 'true', path);
        assert.equal(r.headers['access-control-expose-headers'], 'x-upstream', path);
        const other = await gw.send({ host: HOST, path, headers: { origin: 'https://evil.x' } });
        assert.equal(other.headers['x-weft-error'], flag, path);
        assert.equal(other.headers['access-control-allow-origin'], undefined, path);
      }
      // Istio orders the fault filter before CORS: an injected abort carries no CORS headers.
      const abort = await gw.send({ host: HOST, path: '/failing/abort', headers: { origin } });
      assert.equal(abort.status, 503);
      assert.equal(abort.headers['x-weft-error'], 'FI');
      assert.equal(abort.headers['access-control-allow-origin'], undefined);
    });
  });

  describe('rewrite and redirect', () => {
    it('rewrites the path with uriRegexRewrite and keeps the query', async () => {
      const r = await gw.send({ host: HOST, path: '/service/foo/v1/api?q=2' });
      assert.equal(r.json<FakeUpstreamReply>().path, '/v1/api/instance/foo?q=2');
    });

    it('redirects with prefixRewrite and the request port (FROM_REQUEST_PORT)', async () => {
      const r = await gw.send({ host: HOST, path: '/old/a/b?q=1' });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, `http://${HOST}:${gw.port}/new/a/b?q=1`);
    });

    it('redirects to the scheme’s default port (FROM_PROTOCOL_DEFAULT)', async () => {
      const r = await gw.send({ host: `${HOST}:8080`, path: '/secure/x' });
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, `https://${HOST}/secure/x`);
    });
  });

  it('leaves routes without filters alone', async () => {
    const r = await gw.send({ host: HOST, path: '/plain', headers: { origin: ORIGIN } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    await until(() => events.length > 0, 'the request end event');
    assert.equal(events[0]!.flag, undefined);
  });
});
