// sourceLabels and header matches end to end: Istio YAML applied to a real control plane,
// two real sidecars of one service with different labels, requests through each sidecar's
// outbound listener to fake upstreams registered as the two subsets of another service.
// Each sidecar compiles the same snapshot; only the one whose labels a block selects has it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { explainRequest, startSidecar, type RunningSidecar } from '@weft/proxy';
import type { Snapshot } from '@weft/model';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { eventually } from './support/cluster.js';

const YAML = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  subsets:
    - name: stable
      labels: { track: stable }
    - name: canary
      labels: { track: canary }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings]
  http:
    - name: testers
      match:
        - headers:
            end-user: { exact: jason }
      route: [{ destination: { host: ratings, subset: canary } }]
    - name: web-v2
      match:
        - sourceLabels: { version: v2 }
      route: [{ destination: { host: ratings, subset: canary } }]
    - route: [{ destination: { host: ratings, subset: stable } }]
`;

/** Which ratings instance answered a call made through a sidecar's outbound port. */
function via(port: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/ratings/1', headers: { host: 'ratings', ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve((JSON.parse(body) as FakeUpstreamReply).name)
            : reject(new Error(`${res.statusCode}: ${body}`)),
        );
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('sourceLabels through two sidecars with different labels', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let stable: FakeUpstream;
  let canary: FakeUpstream;
  let app: FakeUpstream;
  let v1: RunningSidecar;
  let v2: RunningSidecar;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-source-labels-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    [stable, canary, app] = await Promise.all([
      startFakeUpstream('ratings-stable'),
      startFakeUpstream('ratings-canary'),
      startFakeUpstream('web-app'),
    ]);
    for (const [track, u] of [
      ['stable', stable],
      ['canary', canary],
    ] as const) {
      const reg = await fetch(`${cp.url}/v1/instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          service: 'ratings',
          address: u.address,
          port: u.port,
          id: `ratings-${track}`,
          labels: { track },
          ttlSeconds: 60,
        }),
      });
      assert.equal(reg.status, 201, await reg.text());
    }
    const res = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'ratings.yaml', content: YAML }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { warnings: { message: string; field?: string }[] };
    assert.deepEqual(
      body.warnings.filter((w) => w.message.includes('not supported')),
      [],
      'sourceLabels is supported',
    );
    // Two instances of one service (both beside the same fake app), labelled v1 and v2.
    const sidecar = (version: string) =>
      startSidecar({
        control: cp.url,
        service: 'web',
        id: `web-${version}`,
        appPort: app.port,
        labels: { version },
        probeIntervalMs: 200,
      });
    [v1, v2] = [await sidecar('v1'), await sidecar('v2')];
    await Promise.all([v1.ready, v2.ready]);
    // Routing is live once the v2 sidecar sends to the canary (the route only it has).
    await eventually(
      async () => ((await via(v2.outboundPort)) === 'ratings-canary' ? true : undefined),
      'the snapshot with the VirtualService',
    );
  });

  after(async () => {
    await Promise.all([v1?.close(), v2?.close()]);
    await Promise.all([stable?.close(), canary?.close(), app?.close()]);
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the block with sourceLabels {version: v2} is in the v2 sidecar only', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal(await via(v2.outboundPort), 'ratings-canary');
      assert.equal(await via(v1.outboundPort), 'ratings-stable');
    }
  });

  it('routes by header on every sidecar, first matching rule first', async () => {
    for (const [sc, otherwise] of [
      [v1, 'ratings-stable'],
      [v2, 'ratings-canary'],
    ] as const) {
      assert.equal(await via(sc.outboundPort, { 'end-user': 'jason' }), 'ratings-canary');
      // Header values match case-sensitively: this one falls through to the next rules.
      assert.equal(await via(sc.outboundPort, { 'end-user': 'JASON' }), otherwise);
    }
  });

  it('explain --from honours the labels of the instance it speaks for', async () => {
    const snapshot = (await (await fetch(`${cp.url}/v1/snapshot`)).json()) as Snapshot;
    const ask = (labels: Record<string, string>) =>
      explainRequest(
        snapshot,
        { method: 'GET', url: 'http://ratings/ratings/1' },
        { view: { kind: 'sidecar', from: 'web', labels } },
      );
    const asV1 = ask({ version: 'v1' });
    assert.equal(asV1.routes[asV1.matched!]?.name, undefined, 'the catch-all rule');
    assert.match(
      asV1.routes[1]!.failures.join('\n'),
      // The instance's own labels may include the mesh's tlsMode label (its sidecar has a
      // workload certificate), which sourceLabels do not name.
      /match\[0\]\.sourceLabels: \{version=v2\} do not select this proxy \(its labels: \{app=web, (security\.istio\.io\/tlsMode=istio, )?version=v1\}\)/,
    );
    const asV2 = ask({ version: 'v2' });
    assert.equal(asV2.routes[asV2.matched!]?.name, 'web-v2');
  });
});
