// Scope learned from traffic, through real processes: a `weft control` and a
// `weft sidecar --learn-upstreams` (with no upstreams declared) in a mesh of 21 services. The
// sidecar starts with an empty scope; the app's first call to `order` is held while the sidecar
// asks the control plane to widen its scope, then routed to order's instance (not lost, not a
// 404); the control plane then lists `order` as the sidecar's only upstream, so its view holds
// order's config and not the other 20 services' (scope.test.ts checks what a view holds). A host
// that is in no registry still gets 404 NR.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { ProxyStatus } from '@weft/model';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { api, getVia, startControlProcess, type ControlProcess } from './support/cluster.js';
import { killGroup, startWeft, type WeftProcess } from '../support/weft-process.js';

let dir: string;
let cp: ControlProcess;
let order: FakeUpstream;
let app: FakeUpstream;
let sidecar: WeftProcess | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-learn-'));
  cp = await startControlProcess(['--data-dir', dir]);
  order = await startFakeUpstream('order-1');
  app = await startFakeUpstream('web-app');
  const register = async (service: string, id: string, port: number) => {
    const r = await api(cp.url, 'POST', '/v1/instances', {
      service,
      id,
      address: '127.0.0.1',
      port,
      ttlSeconds: 300,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  };
  await register('order', 'order-1', order.port);
  for (let s = 1; s <= 20; s++) await register(`svc-${s}`, `svc-${s}-1`, 20_000 + s);
});
after(async () => {
  await killGroup(sidecar);
  await cp?.kill('SIGKILL');
  await order?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

it(
  'holds the first call to a new host until its config arrives, then routes it',
  { timeout: 60_000 },
  async () => {
    sidecar = startWeft('web', [
      '--control',
      cp.url,
      'sidecar',
      '--service',
      'web',
      '--id',
      'web-1',
      '--app-port',
      String(app.port),
      '--learn-upstreams',
      '--learn-hold',
      '20s',
    ]);
    const ready = await sidecar.event((e) => e.event === 'ready');
    const outbound = Number(ready.outboundPort);
    const mine = async () => {
      const r = await api<{ items: ProxyStatus[] }>(cp.url, 'GET', '/v1/proxies');
      return r.json.items.find((p) => p.node.role === 'sidecar' && p.node.service === 'web');
    };
    assert.deepEqual((await mine())?.upstreams, [], 'learn mode starts with an empty scope');

    const first = await getVia(outbound, '/orders/1', 'order:8080');
    assert.equal(first.status, 200, first.body);
    assert.equal((JSON.parse(first.body) as FakeUpstreamReply).name, 'order-1');
    const status = await mine();
    assert.deepEqual(status?.upstreams, ['order.default.svc.cluster.local']);
    assert.equal(status?.pushes?.full, 1, 'the widened scope came as a delta');

    // Later calls are routed at once; a host no registry knows is still 404 NR, named.
    assert.equal((await getVia(outbound, '/orders/2', 'order')).status, 200);
    for (let i = 0; i < 2; i++) {
      const missing = await getVia(outbound, '/', 'nothere');
      assert.equal(missing.status, 404);
      assert.match(missing.body, /WEFT_ERR_NO_ROUTE/);
    }
  },
);
