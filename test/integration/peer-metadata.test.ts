// Istio's metadata exchange between real sidecars over mutual TLS: order's sidecar calls
// user's; user's inbound metrics (reporter="destination") name order as the source, from the
// metadata order's sidecar sent and its certificate vouches for; order's outbound metrics
// (reporter="source") name user's verified identity as destination_principal. The header
// never reaches either app, and a plaintext client cannot forge it. gRPC requests are
// reported as request_protocol="grpc".

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { RunningSidecar } from '@weft/proxy';
import type { FakeUpstream } from '@weft/testkit';
import { startMeshServices } from '../support/mesh-tls.js';
import { until } from '../support/weft-process.js';

const HEADER = 'x-weft-peer-metadata';

function send(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of the istio_requests_total series whose labels include all of `labels`. */
async function requestsTotal(
  sidecar: RunningSidecar,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const text = await (await fetch(`http://${sidecar.adminAddress}/stats/prometheus`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('peer metadata exchange between sidecars', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let userApp: FakeUpstream;
  let orderApp: FakeUpstream;
  let user: RunningSidecar;
  let order: RunningSidecar;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-peer-metadata-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    ({
      apps: [userApp, orderApp],
      sidecars: [user, order],
    } = await startMeshServices(cp.url, ['user', 'order'], { order: { version: 'v2' } }));
  });

  after(async () => {
    await Promise.all([user, order].map((s) => s?.close()));
    await Promise.all([userApp, orderApp].map((a) => a?.close()));
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fills source_* on the server side and destination_principal on the client side', async () => {
    const r = await send(order.outboundPort, '/hello', { host: 'user' });
    assert.equal(r.status, 200);
    assert.equal(r.headers[HEADER], undefined, 'the app behind the client saw the metadata');
    const seen = userApp.received.at(-1)!;
    assert.equal(seen.headers[HEADER], undefined, 'the server app saw the metadata');

    const inbound = await until('the inbound series with order as source', () =>
      requestsTotal(user, {
        reporter: 'destination',
        // From the metadata: the principal alone knows neither the version nor the workload.
        source_workload: 'order-v2',
        source_version: 'v2',
        source_canonical_revision: 'v2',
        source_workload_namespace: 'default',
        source_principal: 'spiffe://cluster.local/ns/default/sa/order',
        source_app: 'order',
        source_canonical_service: 'order',
        destination_workload: 'user',
        connection_security_policy: 'mutual_tls',
        request_protocol: 'http',
      }),
    );
    assert.equal(inbound, 1);
    const outbound = await until('the outbound series with user as verified destination', () =>
      requestsTotal(order, {
        reporter: 'source',
        source_workload: 'order-v2',
        destination_workload: 'user',
        destination_principal: 'spiffe://cluster.local/ns/default/sa/user',
      }),
    );
    assert.equal(outbound, 1);
  });

  it('ignores metadata a plaintext client sends, and strips it before the app', async () => {
    const forged = Buffer.from(
      JSON.stringify(['admin', 'kube-system', 'admin', 'admin', 'v1', 'admin', 'v1', 'x']),
    ).toString('base64url');
    const r = await send(user.inboundPort, '/forged', { host: 'user', [HEADER]: forged });
    assert.equal(r.status, 200);
    assert.equal(userApp.received.at(-1)!.headers[HEADER], undefined);
    assert.equal(r.headers[HEADER], undefined, 'answered a plaintext caller with metadata');
    const n = await until('the plaintext inbound series', () =>
      requestsTotal(user, {
        reporter: 'destination',
        source_workload: 'unknown',
        source_principal: 'unknown',
        connection_security_policy: 'none',
      }),
    );
    assert.equal(n, 1);
  });

  it('reports gRPC requests as request_protocol="grpc"', async () => {
    const r = await send(order.outboundPort, '/shop.Cart/Get', {
      host: 'user',
      'content-type': 'application/grpc',
    });
    assert.equal(r.status, 200);
    const n = await until('the grpc series on both sides', async () => {
      const src = await requestsTotal(order, { reporter: 'source', request_protocol: 'grpc' });
      const dst = await requestsTotal(user, {
        reporter: 'destination',
        request_protocol: 'grpc',
        source_workload: 'order-v2',
      });
      return src !== undefined && dst !== undefined ? src + dst : undefined;
    });
    assert.equal(n, 2);
  });
});
