// Workload certificates rotated under load: two real sidecars (order calls user) talk mutual
// TLS under a mesh-wide STRICT policy while the control plane's CA issues certificates that
// live a few seconds, so each sidecar renews several times during the run. Steady keep-alive
// load must see no failed request; connections opened after a renewal must present the new
// certificate (its serial) on both ends, and connections opened before it must keep working.
// Everything awaits events (renewals, requests seen by the inbound side); nothing is timed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { RunningSidecar } from '@weft/proxy';
import type { FakeUpstream } from '@weft/testkit';
import {
  applyAndWait,
  connectMeshTls,
  MESH_STRICT,
  startMeshServices,
} from '../support/mesh-tls.js';
import { until } from '../support/weft-process.js';

/** Short enough that each sidecar renews (at half life) several times within the test. */
const CERT_LIFETIME_MS = 4_000;
const ROUNDS = 3;
const WORKERS = 4;
/** Makes the app answer a burst's requests late, so each holds its connection meanwhile. */
const HOLD = { 'x-fake-delay': '200' };

interface Outcome {
  status: number;
  body: string;
  socket: Socket;
  reused: boolean;
}

function get(
  send: typeof request | typeof httpsRequest,
  port: number,
  agent: Agent | false,
  path: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = send(
      { host: '127.0.0.1', port, path, headers: { host: 'user', ...headers }, agent },
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            socket: req.socket!,
            reused: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

/** What the user sidecar's inbound side saw on one mutual-TLS request. */
interface Seen {
  /** Serial of the client certificate (order's) on that connection. */
  peer: string;
  /** Serial of the certificate the user sidecar presented on it. */
  local: string;
  /** Index in orderSerials of order's current certificate when the request arrived. */
  orderCurrent: number;
}

describe('workload certificate rotation under load', { timeout: 90_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let userApp: FakeUpstream;
  let orderApp: FakeUpstream;
  let user: RunningSidecar;
  let order: RunningSidecar;
  const orderSerials: string[] = [];
  const userSerials: string[] = [];
  const seen: Seen[] = [];
  const inboundSockets = new Set<TLSSocket>();
  const socketSerials = new WeakMap<TLSSocket, { peer: string; local: string }>();

  const onServerRequest = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    if (!(socket instanceof TLSSocket) || socket.localPort !== user?.inboundPort) return;
    let serials = socketSerials.get(socket);
    if (serials === undefined) {
      serials = {
        peer: socket.getPeerCertificate().serialNumber,
        local: (socket.getCertificate() as { serialNumber?: string } | null)?.serialNumber ?? '',
      };
      socketSerials.set(socket, serials);
      inboundSockets.add(socket);
      socket.once('close', () => inboundSockets.delete(socket));
    }
    seen.push({ ...serials, orderCurrent: orderSerials.length - 1 });
  };

  before(async () => {
    diagnosticsChannel.subscribe('http.server.request.start', onServerRequest);
    dir = mkdtempSync(join(tmpdir(), 'weft-mtls-rotation-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      port: 0,
      workloadCertLifetimeMs: CERT_LIFETIME_MS,
    });
    ({
      apps: [userApp, orderApp],
      sidecars: [user, order],
    } = await startMeshServices(cp.url, ['user', 'order']));
    for (const [s, serials] of [
      [user, userSerials],
      [order, orderSerials],
    ] as const) {
      serials.push(serialOf(s.certificate!.current()!.certPem));
      s.certificate!.onChange((c) => serials.push(serialOf(c.certPem)));
    }
    // STRICT mesh-wide: every request between the sidecars must be mutual TLS.
    await applyAndWait(cp.url, MESH_STRICT);
  });

  after(async () => {
    diagnosticsChannel.unsubscribe('http.server.request.start', onServerRequest);
    await Promise.all([user, order].map((s) => s?.close()));
    await Promise.all([userApp, orderApp].map((a) => a?.close()));
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renews both sidecars several times with no failed request; new handshakes show new serials, old connections keep working', async () => {
    // An old connection: opened now, straight to user's inbound port with order's first
    // certificate, and used again after every rotation.
    const first = order.certificate!.current()!;
    const oldAgent = new HttpsAgent({
      keepAlive: true,
      maxSockets: 1,
      cert: first.certPem,
      key: first.keyPem,
      ca: first.rootPem,
      checkServerIdentity: () => undefined,
    });
    const opened = await get(httpsRequest, user.inboundPort, oldAgent, '/old-connection');
    assert.equal(opened.status, 200, opened.body);
    const oldServerSerial = (opened.socket as TLSSocket).getPeerCertificate().serialNumber;
    assert.equal(oldServerSerial, userSerials.at(-1));

    // Steady keep-alive load through order's outbound listener to user, until told to stop.
    let stopped = false;
    let ok = 0;
    const failures: string[] = [];
    const clientAgent = new Agent({ keepAlive: true, maxSockets: WORKERS });
    const record = async (p: Promise<Outcome>) => {
      try {
        const r = await p;
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    };
    const worker = async () => {
      while (!stopped) await record(get(request, order.outboundPort, clientAgent, '/load'));
    };
    const workers = Array.from({ length: WORKERS }, worker);

    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const o0 = orderSerials.length;
        const u0 = userSerials.length;
        await until(
          `both sidecars renew (round ${round})`,
          async () => (orderSerials.length > o0 && userSerials.length > u0 ? true : undefined),
          CERT_LIFETIME_MS * 5,
          20,
        );
        // New connections between the sidecars: a burst of slow requests wider than the pool
        // makes order open some, which must show certificates issued in this round on both ends.
        await until(
          `a new sidecar-to-sidecar connection carries this round's certificates (round ${round})`,
          async () => {
            const width = inboundSockets.size + 8;
            await Promise.all(
              Array.from({ length: width }, () =>
                record(get(request, order.outboundPort, false, '/burst', HOLD)),
              ),
            );
            return seen.some(
              (s) => orderSerials.indexOf(s.peer) >= o0 && userSerials.indexOf(s.local) >= u0,
            )
              ? true
              : undefined;
          },
          20_000,
          0,
        );
        // A fresh handshake straight to user's inbound port presents user's new certificate.
        const fresh = await connectMeshTls(user.inboundPort, order.certificate!.current()!);
        const presented = fresh.getPeerCertificate().serialNumber;
        fresh.destroy();
        assert.ok(
          userSerials.indexOf(presented) >= u0,
          `user presented ${presented}, not a certificate of round ${round} (${userSerials.slice(u0).join(', ')})`,
        );
      }
    } finally {
      stopped = true;
      await Promise.all(workers);
      clientAgent.destroy();
    }

    assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} requests failed`);
    assert.ok(orderSerials.length > ROUNDS && userSerials.length > ROUNDS);
    assert.equal(
      new Set([...orderSerials, ...userSerials]).size,
      orderSerials.length + userSerials.length,
    );
    // Requests went on over sidecar-to-sidecar connections opened with a certificate that had
    // since been replaced.
    assert.ok(
      seen.some((s) => {
        const i = orderSerials.indexOf(s.peer);
        return i >= 0 && i < s.orderCurrent;
      }),
      'no request used a connection opened before a rotation',
    );
    // And the old direct connection still works, with the certificates it was opened with,
    // though both have been replaced (and have expired: TLS checks them at the handshake only).
    const again = await get(httpsRequest, user.inboundPort, oldAgent, '/old-connection');
    assert.equal(again.status, 200, again.body);
    assert.ok(again.reused, 'the old connection was closed');
    assert.equal((again.socket as TLSSocket).getPeerCertificate().serialNumber, oldServerSerial);
    assert.notEqual(userSerials.at(-1), oldServerSerial);
    oldAgent.destroy();
  });
});
