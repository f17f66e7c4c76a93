// DestinationRule portLevelSettings through real proxies: one service, two ports, a different
// balancer and a different connection limit on each. Istio YAML applied to a real control
// plane; a gateway routes by a VirtualService that names the port, a sidecar by the port in
// the Host header. Waits on requests reaching an upstream, never on sleeps.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { startGateway, startSidecar, type RunningGateway, type RunningSidecar } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { applyYaml, registerInstance, send, type Reply } from './http-helpers.js';

const toPort = (host: string, port: number) => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: p${port}
spec:
  hosts: [${host}]
  gateways: [edge]
  http:
    - route: [{ destination: { host: ratings, port: { number: ${port} } } }]
`;

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
${toPort('p9080.test', 9080)}${toPort('p9090.test', 9090)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
      - port: { number: 9090 }
        loadBalancer:
          consistentHash: { httpHeaderName: x-user }
        connectionPool:
          http: { http2MaxRequests: 1 }
`;

const nameOf = (r: Reply) => (JSON.parse(r.body) as FakeUpstreamReply).name;

describe('DestinationRule portLevelSettings through real proxies', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let gw: RunningGateway;
  let sidecar: RunningSidecar;
  let app: FakeUpstream;
  const ups: FakeUpstream[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-port-level-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    for (const name of ['r1', 'r2']) {
      const u = await startFakeUpstream(name);
      ups.push(u);
      await registerInstance(cp.url, {
        service: 'ratings',
        address: u.address,
        port: u.port,
        id: name,
      });
    }
    const { warnings } = await applyYaml(cp.url, 'port-level.yaml', YAML);
    assert.deepEqual(warnings, [], 'portLevelSettings is supported: no warning');
    gw = await startGateway({ control: cp.url, port: 0, id: 'port-level-gw' });
    app = await startFakeUpstream('web');
    sidecar = await startSidecar({
      control: cp.url,
      service: 'web',
      id: 'web-1',
      appPort: app.port,
      probeIntervalMs: 200,
    });
    await Promise.all([gw.ready, sidecar.ready]);
  });

  after(async () => {
    await sidecar?.close();
    await gw?.close();
    await Promise.all([...ups, app].filter(Boolean).map((u) => u.close()));
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Which instances answered `n` requests for one user, in order. */
  async function names(port: number, host: string, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await send(port, '/', { host, headers: { 'x-user': 'alice' } });
      assert.equal(r.status, 200, r.body);
      out.push(nameOf(r));
    }
    return out;
  }

  for (const via of ['gateway', 'sidecar'] as const) {
    it(`balances each port as its settings say (${via})`, async () => {
      const port = via === 'gateway' ? gw.port : sidecar.outboundPort;
      const host = (p: number) => (via === 'gateway' ? `p${p}.test` : `ratings:${p}`);
      // 9080 has no port-level entry: the top-level ROUND_ROBIN spreads one user's requests.
      // (A snapshot swap restarts the cursor, so strict alternation is not asserted.)
      const rr = await names(port, host(9080), 6);
      assert.equal(new Set(rr).size, 2, rr.join(','));
      // 9090: consistent hash on x-user keeps one user on one instance.
      const hashed = await names(port, host(9090), 6);
      assert.equal(new Set(hashed).size, 1, hashed.join(','));
    });
  }

  it('limits concurrent requests on one port and not on the other', async () => {
    const arrived = Promise.race(ups.map((u) => u.nextRequest()));
    let firstDone = false;
    const first = send(gw.port, '/', {
      host: 'p9090.test',
      headers: { 'x-user': 'alice', 'x-fake-delay': '2000' },
    }).then((r) => {
      firstDone = true;
      return r;
    });
    await arrived;
    // 9090 allows one request at a time (http2MaxRequests: 1)...
    const refused = await send(gw.port, '/', { host: 'p9090.test', headers: { 'x-user': 'bob' } });
    // ...9080 has no limit, and its cluster counts its own requests.
    const served = await send(gw.port, '/', { host: 'p9080.test' });
    assert.equal(firstDone, false, 'both answered while the first was still in flight');
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['x-weft-error'], 'UO');
    // Only the 9090 entry has a limit, so this is its cluster refusing.
    assert.match(refused.body, /connectionPool limit of 1 concurrent requests/);
    // The message names whose pool is full: the 9090 port's, not the service's.
    assert.match(refused.body, /\(port 9090\) is at its DestinationRule connectionPool limit/);
    assert.equal(served.status, 200);
    assert.equal((await first).status, 200);
  });
});
