// Retries, timeouts, outlier detection, circuit breaking and the retry budget end to end:
// Istio YAML applied to a real control plane, pushed to a real gateway on 127.0.0.1, requests
// through it to fake upstreams registered as instances. Waits on events (the proxy's
// diagnostics channels, requests reaching an upstream), never on sleeps.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { CHANNEL_NAMES, startGateway, type RunningGateway } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';

const route = (host: string, service: string, extra = '') => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${service}
spec:
  hosts: [${host}]
  gateways: [edge]
  http:
    - route: [{ destination: { host: ${service} } }]
${extra}`;

const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ['*.test']
${route('outlier.test', 'ratings', '      retries: { attempts: 0 }')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 2s
      maxEjectionPercent: 100
${route('overflow.test', 'stock')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: stock
spec:
  host: stock
  trafficPolicy:
    connectionPool:
      http: { http2MaxRequests: 1 }
${route('queue.test', 'cart')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: cart
spec:
  host: cart
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1 }
${route('timeout.test', 'slow', '      timeout: 200ms')}
${route('retry.test', 'pay')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: pay
spec:
  host: pay
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
${route('storm.test', 'down', "      retries: { attempts: 3, retryOn: '5xx' }")}
`;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(port: number, host: string, opts: { method?: string; delayMs?: number } = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        method: opts.method ?? 'GET',
        headers: {
          host,
          ...(opts.delayMs !== undefined ? { 'x-fake-delay': String(opts.delayMs) } : {}),
        },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.method === 'POST' ? 'payload' : undefined);
  });
}

const nameOf = (r: Reply) => (JSON.parse(r.body) as FakeUpstreamReply).name;

interface EjectedEvent {
  cluster: string;
  endpoint: string;
  durationMs: number;
  reason: string;
}
interface EndEvent {
  authority: string;
  flag: string | undefined;
  attempts: number;
}

describe('resilience from Istio YAML through a gateway', { timeout: 120_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let gw: RunningGateway;
  const ups: Record<string, FakeUpstream> = {};
  const ejected: Array<EjectedEvent & { at: number }> = [];
  const ends: EndEvent[] = [];
  const onEjected = (m: unknown) => void ejected.push({ ...(m as EjectedEvent), at: Date.now() });
  const onEnd = (m: unknown) => void ends.push(m as EndEvent);

  before(async () => {
    diagnosticsChannel.subscribe(CHANNEL_NAMES.endpointEjected, onEjected);
    diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onEnd);
    dir = mkdtempSync(join(tmpdir(), 'weft-resilience-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    const instances: Array<[service: string, name: string]> = [
      ['ratings', 'r1'],
      ['ratings', 'r2'],
      ['stock', 's1'],
      ['cart', 'c1'],
      ['slow', 'w1'],
      ['pay', 'p1'],
      ['pay', 'p2'],
      ['down', 'd1'],
      ['down', 'd2'],
    ];
    for (const [service, name] of instances) {
      const u = (ups[name] = await startFakeUpstream(name));
      const reg = await fetch(`${cp.url}/v1/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          service,
          address: u.address,
          port: u.port,
          id: name,
          ttlSeconds: 60,
        }),
      });
      assert.equal(reg.status, 201, await reg.text());
    }
    const res = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'resilience.yaml', content: YAML }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const applied = (await res.json()) as { warnings: { message: string }[] };
    assert.deepEqual(
      applied.warnings.filter((w) => w.message.includes('not supported')),
      [],
      'every resilience field used is supported',
    );
    gw = await startGateway({ control: cp.url, port: 0, id: 'resilience-gw' });
    await gw.ready;
  });

  after(async () => {
    diagnosticsChannel.unsubscribe(CHANNEL_NAMES.endpointEjected, onEjected);
    diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onEnd);
    await gw?.close();
    await Promise.all(Object.values(ups).map((u) => u.close()));
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ejects an instance that answers 503 and takes it back after baseEjectionTime', async () => {
    const [r1, r2] = [ups.r1!, ups.r2!];
    r2.set({ status: 503 });
    // Round robin: r2 gets every other request; its second 503 in a row ejects it.
    for (let i = 0; i < 20 && ejected.length === 0; i++) await send(gw.port, 'outlier.test');
    const ej = ejected.find((e) => e.endpoint === `${r2.address}:${r2.port}`);
    assert.ok(ej, `no ejection event: ${JSON.stringify(ejected)}`);
    assert.match(ej.cluster, /ratings/);
    assert.match(ej.reason, /^consecutive-5xx/);
    assert.equal(ej.durationMs, 2000, 'baseEjectionTime x 1');

    // While it is out, everything goes to r1. Only requests answered well inside the
    // ejection count (the event is published in the same tick as the ejection).
    const before = r2.requests;
    let inside = 0;
    for (let i = 0; i < 10; i++) {
      const r = await send(gw.port, 'outlier.test');
      if (Date.now() >= ej.at + ej.durationMs - 50) break;
      assert.equal(r.status, 200);
      assert.equal(nameOf(r), 'r1');
      inside++;
    }
    assert.ok(inside > 0, 'at least one request inside the ejection');
    assert.equal(r2.requests, before, 'the ejected instance got nothing');

    // Healthy again: it comes back on its own once the ejection time is over.
    r2.set({});
    const back = r2.nextRequest();
    let returned = false;
    void back.then(() => (returned = true));
    // The tracker has no timers: an ejection ends when a pick happens after its time. So wait
    // for that time (on a fast machine 400 requests take less than the 2 s ejection), then
    // send until r2 is picked again.
    await new Promise((r) => setTimeout(r, Math.max(0, ej.at + ej.durationMs - Date.now())));
    for (let i = 0; i < 400 && !returned; i++) {
      await send(gw.port, 'outlier.test');
      if (!returned) await new Promise((r) => setImmediate(r));
    }
    assert.ok(returned, 'r2 came back');
    assert.ok(Date.now() >= ej.at + ej.durationMs - 5, 'not before its ejection time');
    assert.ok(r1.requests > 0);
  });

  it('answers 503 UO at once when a connectionPool limit is reached', async () => {
    const s1 = ups.s1!;
    const arrived = s1.nextRequest();
    let firstDone = false;
    const first = send(gw.port, 'overflow.test', { delayMs: 2000 }).then((r) => {
      firstDone = true;
      return r;
    });
    await arrived;
    const second = await send(gw.port, 'overflow.test');
    assert.equal(firstDone, false, 'refused while the first was still in flight, not after it');
    assert.equal(second.status, 503);
    assert.equal(second.headers['x-weft-error'], 'UO');
    assert.equal(second.headers['x-weft-proxy'], 'resilience-gw');
    assert.match(
      second.body,
      /upstream overflow: .*stock.* 1 concurrent requests \(http2MaxRequests\).*\(UO, WEFT_ERR_UPSTREAM_OVERFLOW\)\n$/,
    );
    assert.equal((await first).status, 200);
    assert.equal((await send(gw.port, 'overflow.test')).status, 200, 'the slot came back');
  });

  it('queues up to http1MaxPendingRequests behind maxConnections and refuses the rest', async () => {
    const c1 = ups.c1!;
    const arrived = c1.nextRequest();
    let firstDone = false;
    const first = send(gw.port, 'queue.test', { delayMs: 2000 }).then((r) => {
      firstDone = true;
      return r;
    });
    await arrived;
    const [a, b] = await Promise.all([
      send(gw.port, 'queue.test').then((r) => ({ r, whileFirst: !firstDone })),
      send(gw.port, 'queue.test').then((r) => ({ r, whileFirst: !firstDone })),
    ]);
    const refused = [a, b].filter((x) => x.r.status === 503);
    const served = [a, b].filter((x) => x.r.status === 200);
    assert.equal(refused.length, 1, 'one waits, the other is refused');
    assert.equal(served.length, 1);
    assert.equal(refused[0]!.r.headers['x-weft-error'], 'UO');
    assert.equal(refused[0]!.whileFirst, true, 'refused at once');
    assert.match(refused[0]!.r.body, /http1MaxPendingRequests/);
    assert.equal(served[0]!.whileFirst, false, 'the queued one went once the first was done');
    assert.equal((await first).status, 200);
  });

  it('answers 504 UT when the route timeout expires', async () => {
    const r = await send(gw.port, 'timeout.test', { delayMs: 3000 });
    assert.equal(r.status, 504);
    assert.equal(r.headers['x-weft-error'], 'UT');
    assert.equal(r.headers['x-weft-proxy'], 'resilience-gw');
    assert.match(r.body, /route timeout of 200 ms.*\(UT, WEFT_ERR_UPSTREAM_TIMEOUT\)\n$/);
  });

  it("retries a GET's 503 on the other instance by default, never a POST's", async () => {
    const [p1, p2] = [ups.p1!, ups.p2!];
    p1.set({ status: 503 });
    const before = { p1: p1.requests, p2: p2.requests };
    const endsBefore = ends.length;
    for (let i = 0; i < 10; i++) {
      const r = await send(gw.port, 'retry.test');
      assert.equal(r.status, 200, r.body);
      assert.equal(nameOf(r), 'p2');
    }
    const p1Tries = p1.requests - before.p1;
    assert.ok(p1Tries >= 1, 'round robin sent some first tries to p1');
    assert.equal(p2.requests - before.p2, 10, 'p2 answered each request once');
    // A retry goes to a fresh endpoint: a request that started on p1 went to p2 next, never
    // back to p1, so no request took more than 2 tries, and p1 saw one try per such request.
    const mine = ends.slice(endsBefore).filter((e) => e.authority === 'retry.test');
    assert.equal(mine.length, 10);
    assert.ok(
      mine.every((e) => e.attempts <= 2),
      JSON.stringify(mine.map((e) => e.attempts)),
    );
    assert.equal(mine.filter((e) => e.attempts === 2).length, p1Tries);

    const beforePost = { p1: p1.requests, p2: p2.requests };
    const posts = await Promise.all(
      Array.from({ length: 6 }, () => send(gw.port, 'retry.test', { method: 'POST' })),
    );
    const failed = posts.filter((r) => r.status === 503).length;
    assert.equal(failed, p1.requests - beforePost.p1, "each POST that reached p1 got p1's 503");
    assert.equal(posts.length - failed, p2.requests - beforePost.p2, 'and was not retried');
    p1.set({});
  });

  it('stops a retry storm at the retry budget', async (t) => {
    const [d1, d2] = [ups.d1!, ups.d2!];
    d1.set({ status: 503 });
    d2.set({ status: 503 });
    const before = d1.requests + d2.requests;
    const endsBefore = ends.length;
    const requests = 150;
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < requests) {
          next++;
          const r = await send(gw.port, 'storm.test');
          assert.equal(r.status, 503, 'the upstream 503 passes through');
        }
      }),
    );
    const tries = d1.requests + d2.requests - before;
    t.diagnostic(`${requests} requests, ${tries} upstream tries (600 without a budget)`);
    // Without a budget: 150 x 4 = 600 tries. With Linkerd's default: retries <= 20 % of the
    // requests plus 10/s over the 10 s window.
    // A run longer than the window (a very loaded machine) gets the floor once per window.
    const elapsed = Date.now() - started;
    const windows = elapsed < 9_000 ? 1 : Math.ceil(elapsed / 10_000) + 1;
    const maxRetries = 0.2 * requests + 100 * windows;
    assert.ok(tries >= requests, `${tries} tries`);
    assert.ok(tries <= requests + maxRetries, `${tries} tries for ${requests} requests`);
    const flagged = ends
      .slice(endsBefore)
      .filter((e) => e.authority === 'storm.test' && (e.flag ?? '').includes('RBX')).length;
    assert.ok(flagged > 0, 'requests denied a retry say so (RBX)');
    d1.set({});
    d2.set({});
  });
});
