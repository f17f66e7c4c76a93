// ServiceEntry end to end: Istio YAML applied to a real control plane, a gateway routing by
// VirtualService to (1) a STATIC entry whose endpoint is a fake upstream on 127.0.0.1, with a
// DestinationRule subset picking the endpoint by label, and (2) a DNS entry whose endpoint is
// `localhost`, resolved by the control plane's system resolver (the elected replica's job).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { startGateway, type RunningGateway } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { api, eventually, getVia } from './support/cluster.js';

let cp: RunningControlPlane;
let gateway: RunningGateway;
let dir: string;
let stable: FakeUpstream;
let canary: FakeUpstream;
let local: FakeUpstream;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-se-'));
  [stable, canary, local] = await Promise.all([
    startFakeUpstream('payments-stable'),
    startFakeUpstream('payments-canary'),
    startFakeUpstream('geo-local'),
  ]);
  cp = await startControlPlane({ dataDir: dir, port: 0 });
  gateway = await startGateway({ control: cp.url, port: 0, id: 'se-gw' });
});
after(async () => {
  await gateway?.close();
  await cp?.close();
  await Promise.all([stable, canary, local].map((u) => u?.close()));
  rmSync(dir, { recursive: true, force: true });
});

const yaml = () => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payments }
spec:
  hosts: [payments.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: ${stable.port}, name: http, protocol: HTTP }]
  endpoints:
    - { address: 127.0.0.1, labels: { track: stable } }
    - { address: 127.0.0.1, ports: { http: ${canary.port} }, labels: { track: canary } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments.example.com
  subsets:
    - { name: stable, labels: { track: stable } }
    - { name: canary, labels: { track: canary } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: geo }
spec:
  hosts: [geo.example.com]
  resolution: DNS
  ports: [{ number: 80, name: http, targetPort: ${local.port} }]
  endpoints: [{ address: localhost }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge-routes }
spec:
  hosts: ['*']
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /pay }, headers: { x-canary: { exact: '1' } } }]
      route: [{ destination: { host: payments.example.com, subset: canary } }]
    - match: [{ uri: { prefix: /pay } }]
      route: [{ destination: { host: payments.example.com, subset: stable } }]
    - match: [{ uri: { prefix: /geo } }]
      route: [{ destination: { host: geo.example.com } }]
`;

it('routes to STATIC and DNS ServiceEntry endpoints, with DestinationRule subsets', async () => {
  const applied = await api<{ warnings: unknown[] }>(cp.url, 'POST', '/v1/apply', {
    files: [{ path: 'external.yaml', content: yaml() }],
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.json));
  const nameAt = async (path: string, headers: Record<string, string> = {}) => {
    const r = await getVia(gateway.port, path, 'shop.example', headers);
    return r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `HTTP ${r.status}`;
  };
  await eventually(
    async () => ((await nameAt('/pay')) === 'payments-stable' ? true : undefined),
    'the stable payments endpoint',
  );
  assert.equal(await nameAt('/pay', { 'x-canary': '1' }), 'payments-canary');
  // DNS: the control plane resolved `localhost` and stored the answer; the gateway reaches it.
  await eventually(
    async () => ((await nameAt('/geo')) === 'geo-local' ? true : undefined),
    'the DNS-resolved geo endpoint',
  );
  const snap = cp.cp.snapshot();
  const geo = snap?.clusters.find((c) => c.service === 'geo.example.com');
  assert.deepEqual(
    geo?.endpoints.map((e) => `${e.address}:${e.port}`),
    [`127.0.0.1:${local.port}`],
  );
  const listed = await api<{ items: { metadata: { name: string } }[] }>(
    cp.url,
    'GET',
    '/v1/resources?kind=ServiceEntry',
  );
  assert.deepEqual(listed.json.items.map((i) => i.metadata.name).sort(), ['geo', 'payments']);
});
