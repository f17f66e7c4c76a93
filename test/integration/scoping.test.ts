// Scoping: a sidecar that declares its upstreams receives only their config. Against a real
// control plane with 40 services, a stand-in sidecar declaring `svc-1,svc-2` (one of which
// routes to a third service by VirtualService) gets those three clusters and two virtual hosts,
// while an undeclared one gets the whole mesh; a change to a service outside the scope moves
// the scoped sidecar's version without sending it anything of that service. Sizes are printed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { ProxyStatus } from '@weft/model';
import { api, recordingProxy, type RecordingProxy } from './support/cluster.js';

const SERVICES = 40;
let cp: RunningControlPlane;
let dir: string;
const proxies: RecordingProxy[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-scope-'));
  cp = await startControlPlane({ dataDir: dir, port: 0 });
  for (let s = 1; s <= SERVICES; s++)
    for (let i = 1; i <= 3; i++) {
      const r = await api(cp.url, 'POST', '/v1/instances', {
        service: `svc-${s}`,
        id: `svc-${s}-${i}`,
        address: '127.0.0.1',
        port: 10_000 + s * 10 + i,
      });
      assert.equal(r.status, 201);
    }
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: svc-2 }
spec:
  hosts: [svc-2]
  http:
    - match: [{ headers: { x-beta: { exact: '1' } } }]
      route: [{ destination: { host: svc-30 } }]
    - route: [{ destination: { host: svc-2 } }]
`;
  const applied = await api(cp.url, 'POST', '/v1/apply', {
    files: [{ path: 'vs.yaml', content: vs }],
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.json));
});
after(async () => {
  for (const p of proxies) p.close();
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

it(
  'sends a scoped sidecar only its upstreams and what they route to',
  { timeout: 30_000 },
  async () => {
    const latest = cp.cp.snapshot()?.version ?? 0;
    const scoped = recordingProxy({
      control: [cp.url],
      id: 'svc-1-1.sidecar',
      service: 'svc-1',
      upstreams: ['svc-1', 'svc-2'],
    });
    const whole = recordingProxy({ control: [cp.url], id: 'svc-5-1.sidecar', service: 'svc-5' });
    proxies.push(scoped, whole);
    const s = await scoped.until((x) => x.version >= latest);
    const w = await whole.until((x) => x.version >= latest);
    assert.deepEqual(s.clusters.map((c) => c.service.split('.')[0]).sort(), [
      'svc-1',
      'svc-2',
      'svc-30',
    ]);
    assert.deepEqual(s.mesh.virtualHosts.map((v) => v.name).sort(), [
      'default/svc-2',
      'default|svc-1.default.svc.cluster.local',
    ]);
    assert.equal(w.clusters.length, SERVICES);
    const scopedBytes = JSON.stringify(s).length;
    const wholeBytes = JSON.stringify(w).length;
    assert.ok(scopedBytes < wholeBytes / 5, `${scopedBytes} vs ${wholeBytes}`);
    console.log(
      `# scoping: ${SERVICES} services x 3 instances: whole snapshot ${wholeBytes} B, scoped to 2 upstreams (3 clusters) ${scopedBytes} B`,
    );

    // A change outside the scope: the version moves, nothing of svc-20 arrives.
    const reg = await api(cp.url, 'POST', '/v1/instances', {
      service: 'svc-20',
      id: 'svc-20-9',
      address: '127.0.0.1',
      port: 19_999,
    });
    assert.equal(reg.status, 201);
    const moved = await whole.until((x) =>
      x.clusters.some((c) => c.endpoints.some((e) => e.id === 'svc-20-9')),
    );
    const s2 = await scoped.until((x) => x.version >= moved.version);
    assert.ok(!JSON.stringify(s2).includes('svc-20'));
    // A change inside it arrives.
    await api(cp.url, 'POST', '/v1/instances', {
      service: 'svc-30',
      id: 'svc-30-9',
      address: '127.0.0.1',
      port: 19_998,
    });
    await scoped.until((x) => x.clusters.some((c) => c.endpoints.some((e) => e.id === 'svc-30-9')));
    const status = await api<{ items: ProxyStatus[] }>(cp.url, 'GET', '/v1/proxies');
    const mine = status.json.items.find((p) => p.node.id === 'svc-1-1.sidecar');
    assert.deepEqual(mine?.upstreams, [
      'svc-1.default.svc.cluster.local',
      'svc-2.default.svc.cluster.local',
    ]);
    assert.equal(mine?.pushes?.full, 1, 'after the first, every push is a delta');
  },
);
