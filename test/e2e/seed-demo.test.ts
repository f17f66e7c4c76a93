// The seed's mesh end to end, as real processes on 127.0.0.1: the same code path as
// `weft demo`, with the gateway on port 0.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import { startDemo, type RunningDemo } from '@weft/cli';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json?: Record<string, unknown>;
}

const agent = new Agent({ keepAlive: true });

function get(port: number, path: string, host = 'my-service'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          ...(json ? { json } : {}),
        });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('seed demo, end to end', { timeout: 120_000 }, () => {
  let demo: RunningDemo;

  before(async () => {
    demo = await startDemo({ port: 0 });
  });

  after(async () => {
    agent.destroy();
    await demo?.stop();
  });

  for (const service of ['user', 'order', 'stock']) {
    it(`/${service} reaches the ${service} service through the gateway`, async () => {
      const r = await get(demo.gatewayPort, `/${service}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json?.service, service);
      assert.equal(r.json?.path, `/${service}`);
    });
  }

  it('order calls user and stock through its sidecar', async () => {
    const r = await get(demo.gatewayPort, '/order/42');
    assert.equal(r.status, 200, r.body);
    const user = r.json?.user as Record<string, unknown>;
    const stock = r.json?.stock as Record<string, unknown>;
    assert.equal(user?.service, 'user', JSON.stringify(r.json));
    assert.equal(stock?.service, 'stock', JSON.stringify(r.json));
    assert.equal(user?.status, 200);
  });

  it('requests spread over both instances of a service', async () => {
    // Weft's default balancer (peak-EWMA) sends one client's sequential requests to the
    // instance it measures fastest, which need not be even; ROUND_ROBIN is the even split.
    const revision = await configure(
      'POST',
      '/v1/apply',
      JSON.stringify({
        files: [
          {
            path: 'stock-dr.yaml',
            content:
              'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: stock}\n' +
              'spec: {host: stock, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}\n',
          },
        ],
      }),
    );
    try {
      const seen = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const r = await get(demo.gatewayPort, '/stock');
        assert.equal(r.status, 200, r.body);
        const inst = String(r.json?.instance);
        seen.set(inst, (seen.get(inst) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), ['stock-1', 'stock-2']);
      for (const n of seen.values())
        assert.ok(n >= 15, `uneven split ${JSON.stringify([...seen])}`);
    } finally {
      assert.ok(revision > 0);
      await configure('DELETE', '/v1/resources/DestinationRule/default/stock');
    }
  });

  /** Calls the (locked) control plane API as the admin and waits until every proxy runs the change. */
  async function configure(method: string, path: string, body?: string): Promise<number> {
    const { revision } = await demo.api.request<{ revision: number }>(
      method,
      path,
      body === undefined ? undefined : JSON.parse(body),
    );
    await demo.api.request('GET', `/v1/proxies/wait?version=${revision}&timeoutMs=10000`);
    return revision;
  }

  it('is locked: the API wants a token, and sidecars accept mTLS only (STRICT)', async () => {
    assert.match(demo.controlUrl, /^https:/);
    const anonymous = await demo.api.fetch('/v1/apply', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: '' },
      body: '{"files":[]}',
    });
    assert.equal(anonymous.status, 401);
    // A plaintext client on a sidecar's inbound port is disconnected (nothing answers).
    const inbound = Number(demo.child('user-1.sidecar')?.ready.inboundPort);
    assert.ok(inbound > 0);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: inbound,
            path: '/user',
            headers: { host: 'user' },
            agent: false,
          },
          resolve,
        );
        req.on('error', reject);
        req.end();
      }),
    );
  });

  it('a request for an unknown host gets a 404 that says the gateway made it', async () => {
    const r = await get(demo.gatewayPort, '/user', 'nobody.example');
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-weft-error'], 'NR');
    assert.match(r.body, /no route/i);
  });

  it('after an instance is killed with SIGKILL, every request succeeds again within seconds', async () => {
    const victim = demo.child('user-1');
    assert.ok(victim, 'user-1 app process');
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    // Keep sending; the mesh must converge: retries hide the dead instance at once, and the
    // sidecar's probe takes it out of the rotation within about a second.
    const deadline = Date.now() + 10_000;
    let streak = 0;
    let sent = 0;
    while (streak < 50) {
      assert.ok(Date.now() < deadline, `no 50-request success streak within 10 s (${sent} sent)`);
      const r = await get(demo.gatewayPort, '/user');
      sent++;
      if (r.status === 200 && r.json?.instance === 'user-2') streak++;
      else streak = 0;
    }
    // And order, which calls user through its sidecar, works too.
    const o = await get(demo.gatewayPort, '/order');
    assert.equal(o.status, 200);
    assert.equal((o.json?.user as Record<string, unknown>)?.instance, 'user-2');
  });

  it('after a sidecar is killed with SIGKILL, its instance leaves the rotation', async () => {
    const victim = demo.child('stock-2.sidecar');
    assert.ok(victim);
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    const deadline = Date.now() + 15_000;
    let streak = 0;
    while (streak < 50) {
      assert.ok(Date.now() < deadline, 'stock did not recover within 15 s');
      const r = await get(demo.gatewayPort, '/stock');
      if (r.status === 200 && r.json?.instance === 'stock-1') streak++;
      else streak = 0;
    }
  });
});
