// Mutual TLS between real sidecars on 127.0.0.1: workload certificates from the control plane's
// CA, auto-mTLS from order's sidecar to user's, the peer's SPIFFE identity checked on both
// ends, PeerAuthentication STRICT / PERMISSIVE / DISABLE on the inbound side, DestinationRule
// tls modes on the client side, and the telemetry flag. The apps are fake upstreams; the
// sidecars, the control plane and the CA are Weft's own.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { CHANNEL_NAMES, type RunningSidecar } from '@weft/proxy';
import type { FakeUpstream } from '@weft/testkit';
import { eventually } from './http-helpers.js';
import {
  applyAndWait,
  connectMeshTls,
  MESH_STRICT,
  startMeshServices,
  waitForProxies as waitForProxiesOf,
} from '../support/mesh-tls.js';

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request; rejects when the connection fails (a refused handshake, a reset). */
function send(port: number, path: string, host: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function apply(cp: RunningControlPlane, yaml: string): Promise<void> {
  return applyAndWait(cp.url, yaml);
}

async function remove(cp: RunningControlPlane, kind: string, ns: string, name: string) {
  const res = await fetch(`${cp.url}/v1/resources/${kind}/${ns}/${name}`, { method: 'DELETE' });
  const body = (await res.json()) as { revision: number };
  assert.equal(res.status, 200, JSON.stringify(body));
  await waitForProxies(cp, body.revision);
}

function waitForProxies(cp: RunningControlPlane, version: number): Promise<void> {
  return waitForProxiesOf(cp.url, version);
}

/** Runs `body` with mesh-wide STRICT plus one more resource applied; removes both after. */
async function withMeshStrict(
  cp: RunningControlPlane,
  extra: { yaml: string; kind: string; namespace: string; name: string },
  body: () => Promise<void>,
): Promise<void> {
  await apply(cp, `${MESH_STRICT}---\n${extra.yaml}`);
  try {
    await body();
  } finally {
    await remove(cp, extra.kind, extra.namespace, extra.name);
    await remove(cp, 'PeerAuthentication', 'istio-system', 'default');
  }
}

describe('mutual TLS between sidecars', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let userApp: FakeUpstream;
  let orderApp: FakeUpstream;
  let stockApp: FakeUpstream;
  let user: RunningSidecar;
  let order: RunningSidecar;
  let stock: RunningSidecar;
  const events: { proxyId: string; kind: string; status: number; mutualTls: boolean }[] = [];
  const onEnd = (e: unknown) => events.push(e as (typeof events)[number]);

  before(async () => {
    diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onEnd);
    dir = mkdtempSync(join(tmpdir(), 'weft-mtls-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    ({
      apps: [userApp, orderApp, stockApp],
      sidecars: [user, order, stock],
    } = await startMeshServices(cp.url, ['user', 'order', 'stock']));
  });

  after(async () => {
    diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onEnd);
    await Promise.all([user, order, stock].map((s) => s?.close()));
    await Promise.all([userApp, orderApp, stockApp].map((a) => a?.close()));
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives each sidecar a certificate for its own SPIFFE identity', () => {
    assert.equal(
      user.certificate?.current()?.identity,
      'spiffe://cluster.local/ns/default/sa/user',
    );
    assert.equal(
      order.certificate?.current()?.identity,
      'spiffe://cluster.local/ns/default/sa/order',
    );
  });

  it('calls a peer sidecar over mutual TLS by default (PERMISSIVE), and the inbound side says so', async () => {
    events.length = 0;
    const seen = userApp.requests;
    const r = await send(order.outboundPort, '/hello', 'user');
    assert.equal(r.status, 200, r.body);
    assert.equal(userApp.requests, seen + 1);
    const inbound = events.find((e) => e.proxyId === 'user-1.sidecar' && e.kind === 'inbound');
    assert.equal(inbound?.mutualTls, true, JSON.stringify(events));
    // PERMISSIVE: a plaintext client (outside the mesh) is served too.
    const plain = await send(user.inboundPort, '/plain', 'user');
    assert.equal(plain.status, 200);
    const plainEvent = events.findLast((e) => e.proxyId === 'user-1.sidecar');
    assert.equal(plainEvent?.mutualTls, false);
  });

  it('reuses pooled mutual-TLS connections: one handshake serves many requests', async () => {
    const handshakes = async () => {
      const text = await (await fetch(`http://${user.adminAddress}/stats/prometheus`)).text();
      const m =
        /^weft_downstream_connections_total\{listener="inbound",security="mutual_tls"\} (\d+)$/m.exec(
          text,
        );
      assert.ok(m, 'no mutual_tls connection counter in the metrics');
      return Number(m[1]);
    };
    // Sequential requests: order's pool has an idle connection to user for every one after the first.
    await send(order.outboundPort, '/warm', 'user');
    const before = await handshakes();
    assert.ok(before >= 1, 'the warm-up request made no handshake');
    for (let i = 0; i < 20; i++) {
      const r = await send(order.outboundPort, `/pooled/${i}`, 'user');
      assert.equal(r.status, 200, r.body);
    }
    assert.equal(await handshakes(), before, 'a pooled mTLS connection was not reused');
    // The pooled connection is still open on user's inbound listener, and counted there.
    const text = await (await fetch(`http://${user.adminAddress}/stats/prometheus`)).text();
    const active = /^weft_downstream_connections_active\{listener="inbound"\} (\d+)$/m.exec(text);
    assert.ok(active, 'no active-connections gauge for the inbound listener');
    assert.ok(Number(active[1]) >= 1, `inbound connections active: ${active[1]}`);
  });

  it('hands the verified peer identity to the inbound side', async () => {
    // A TLS client with order's certificate: the user sidecar accepts it, and presents user's.
    const cert = order.certificate!.current()!;
    const socket = await connectMeshTls(user.inboundPort, cert);
    assert.match(socket.getPeerX509Certificate()!.subjectAltName!, /sa\/user$/);
    socket.destroy();
    // Without a client certificate the handshake is refused.
    const anonymous = tlsConnect({
      host: '127.0.0.1',
      port: user.inboundPort,
      ca: cert.rootPem,
      checkServerIdentity: () => undefined,
    });
    const outcome = await new Promise<string>((resolve) => {
      anonymous.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      anonymous.once('data', () => resolve('data'));
      anonymous.once('secureConnect', () =>
        anonymous.write('GET / HTTP/1.1\r\nhost: user\r\n\r\n'),
      );
      anonymous.once('close', () => resolve('closed'));
    });
    assert.notEqual(outcome, 'data');
  });

  it('refuses a plaintext client under STRICT while sidecars keep talking mTLS', async () => {
    await apply(cp, MESH_STRICT);
    try {
      await assert.rejects(send(user.inboundPort, '/plain', 'user'), /ECONNRESET|socket hang up/);
      const r = await send(order.outboundPort, '/strict', 'user');
      assert.equal(r.status, 200, r.body);
      // A DestinationRule that turns TLS off towards a STRICT server: refused, 503.
      await apply(
        cp,
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: user-plain }
spec: { host: user, trafficPolicy: { tls: { mode: DISABLE } } }
`,
      );
      const refused = await send(order.outboundPort, '/dr-disable', 'user');
      assert.equal(refused.status, 503, refused.body);
      await remove(cp, 'DestinationRule', 'default', 'user-plain');
    } finally {
      await remove(cp, 'PeerAuthentication', 'istio-system', 'default');
    }
  });

  it('serves plaintext only under a workload DISABLE, and clients follow it', async () => {
    const yaml = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: user-off }
spec: { selector: { matchLabels: { app: user } }, mtls: { mode: DISABLE } }
`;
    const extra = { yaml, kind: 'PeerAuthentication', namespace: 'default', name: 'user-off' };
    await withMeshStrict(cp, extra, async () => {
      events.length = 0;
      const r = await send(order.outboundPort, '/disabled', 'user');
      assert.equal(r.status, 200, r.body);
      const inbound = events.find((e) => e.proxyId === 'user-1.sidecar');
      assert.equal(inbound?.mutualTls, false, 'order sent plaintext to a DISABLE workload');
      assert.equal((await send(user.inboundPort, '/plain', 'user')).status, 200);
      // Stock is still STRICT (mesh policy).
      await assert.rejects(send(stock.inboundPort, '/plain', 'stock'));
    });
  });

  it('sends mirrored copies over mutual TLS too, so a STRICT mirror accepts them', async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: user-mirror }
spec:
  hosts: [user]
  http:
    - route: [{ destination: { host: user } }]
      mirror: { host: stock }
      mirrorPercentage: { value: 100 }
`;
    const extra = { yaml, kind: 'VirtualService', namespace: 'default', name: 'user-mirror' };
    await withMeshStrict(cp, extra, async () => {
      events.length = 0;
      const copies = stockApp.received.length;
      const r = await send(order.outboundPort, '/mirrored', 'user');
      assert.equal(r.status, 200, r.body);
      const copy = await eventually('the copy to reach stock', async () =>
        stockApp.received.slice(copies).find((q) => q.path === '/mirrored'),
      );
      assert.equal(copy.headers.host, 'user-shadow');
      const inbound = await eventually('stock inbound event', async () =>
        events.find((e) => e.proxyId === 'stock-1.sidecar' && e.kind === 'inbound'),
      );
      assert.equal(inbound.mutualTls, true, 'the copy reached stock without mutual TLS');
    });
  });

  it('refuses a peer whose certificate is for another service', async () => {
    // "billing" is registered at stock's sidecar: its certificate says stock, not billing.
    const reg = await fetch(`${cp.url}/v1/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: 'billing',
        id: 'billing-impostor',
        address: '127.0.0.1',
        port: stock.inboundPort,
        labels: { 'security.istio.io/tlsMode': 'istio' },
        ttlSeconds: 30,
      }),
    });
    assert.equal(reg.status, 201);
    const { revision } = (await reg.json()) as { revision: number };
    await waitForProxies(cp, revision);
    // order holds a pooled connection to that address, verified as stock's: never reused for billing.
    assert.equal((await send(order.outboundPort, '/warm', 'stock')).status, 200);
    const before = stockApp.requests;
    const r = await send(order.outboundPort, '/pay', 'billing');
    assert.equal(r.status, 503, r.body);
    assert.equal(stockApp.requests, before, 'nothing reached the impostor app');
    await fetch(`${cp.url}/v1/instances/billing-impostor`, { method: 'DELETE' });
  });
});
