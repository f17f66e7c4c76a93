// Rotating the mesh root without a flag day (docs/security.md "Rotating the root"), with two
// real sidecars (order calls user) under mesh-wide STRICT and the control plane restarted on
// the same port and store at each step, as an operator would:
//   0. root 1 signs and is the only root trusted;
//   1. root 1 signs, the bundle adds root 2: every sidecar renews and now trusts both;
//   2. root 2 signs, the bundle keeps root 1: sidecars renew one at a time, and a sidecar with
//      a root-1 certificate and one with a root-2 certificate still talk;
//   3. root 2 alone: root-1 certificates are refused.
// The sidecars renew by themselves when they reconnect to the restarted control plane
// (certificate.controlPlaneConnected), which is how they take a new bundle at once.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { createMeshRoot, startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { RunningSidecar, WorkloadCertificate } from '@weft/proxy';
import type { FakeUpstream } from '@weft/testkit';
import { send } from './http-helpers.js';
import {
  applyAndWait,
  connectMeshTls,
  MESH_STRICT,
  startMeshServices,
} from '../support/mesh-tls.js';
import { freePort, until } from '../support/weft-process.js';

interface RootFiles {
  certFile: string;
  keyFile: string;
  pem: string;
}

/** Whether a TLS client presenting `cert` and trusting `ca` gets an HTTP answer from `port`. */
async function answered(port: number, cert: WorkloadCertificate, ca: string): Promise<boolean> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    cert: cert.certPem,
    key: cert.keyPem,
    ca,
    checkServerIdentity: () => undefined,
  });
  const outcome = await new Promise<string>((resolve) => {
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    socket.once('data', () => resolve('data'));
    socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nhost: user\r\n\r\n'));
    socket.once('close', () => resolve('closed'));
  });
  socket.destroy();
  return outcome === 'data';
}

describe('rotating the mesh root through a trust bundle', { timeout: 90_000 }, () => {
  let dir: string;
  let port: number;
  let root1: RootFiles;
  let root2: RootFiles;
  let cp: RunningControlPlane | undefined;
  let apps: readonly FakeUpstream[] = [];
  let user: RunningSidecar;
  let order: RunningSidecar;

  async function restart(signing: RootFiles, trust: RootFiles[]): Promise<void> {
    await cp?.close();
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      port,
      caRoot: { certFile: signing.certFile, keyFile: signing.keyFile },
      caTrust: trust.map((r) => r.certFile),
    });
  }

  const signer = (s: RunningSidecar) =>
    new X509Certificate(s.certificate!.current()!.rootPem).fingerprint256;
  const fingerprint = (r: RootFiles) => new X509Certificate(r.pem).fingerprint256;

  /** order -> user through both sidecars, a new mutual-TLS connection (STRICT): 200. */
  async function callWorks(what: string): Promise<void> {
    const r = await send(order.outboundPort, '/rotating', { host: 'user' });
    assert.equal(r.status, 200, `${what}: ${r.body}`);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-root-rotation-'));
    port = await freePort();
    const write = async (name: string): Promise<RootFiles> => {
      const root = await createMeshRoot('cluster.local', Date.now());
      const certFile = join(dir, `${name}-cert.pem`);
      const keyFile = join(dir, `${name}-key.pem`);
      writeFileSync(certFile, root.certificate);
      writeFileSync(keyFile, root.privateKey, { mode: 0o600 });
      return { certFile, keyFile, pem: root.certificate };
    };
    root1 = await write('root1');
    root2 = await write('root2');
    await restart(root1, []);
    const started = await startMeshServices(cp!.url, ['user', 'order']);
    apps = started.apps;
    [user, order] = started.sidecars;
    await applyAndWait(
      cp!.url,
      `${MESH_STRICT}---
# A new connection, so a full handshake, for every call: each step checks the certificates
# and bundles of that moment, not a connection pooled before it.
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: user }
spec:
  host: user
  trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 1 } } }
`,
    );
  });

  after(async () => {
    await Promise.all([user, order].map((s) => s?.close()));
    await Promise.all(apps.map((a) => a.close()));
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Until every sidecar holds a certificate that `ok` accepts (renewed by itself). */
  const renewed = (what: string, ok: (c: WorkloadCertificate) => boolean) =>
    until(
      what,
      async () => ([user, order].every((s) => ok(s.certificate!.current()!)) ? true : undefined),
      20_000,
      50,
    );

  it('moves from root 1 to root 2 with traffic flowing at every step', async () => {
    // 0. Root 1 only.
    assert.equal(signer(user), fingerprint(root1));
    assert.equal(user.certificate!.current()!.trustedRoots, 1);
    await callWorks('step 0');
    const rootOneOnly = order.certificate!.current()!;

    // 1. Root 2 joins the bundle; root 1 still signs. The sidecars reconnect to the restarted
    // control plane and renew by themselves: each now trusts both.
    await restart(root1, [root2]);
    await renewed('both sidecars trust two roots', (c) => c.trustedRoots === 2);
    for (const s of [user, order]) assert.equal(signer(s), fingerprint(root1));
    await callWorks('step 1');
    // A root-1 certificate with the two-root bundle: what a sidecar that has not yet renewed
    // holds during step 2.
    const bridge = order.certificate!.current()!;

    // 2. Root 2 signs, root 1 stays trusted: certificates move to root 2.
    await restart(root2, [root1]);
    await renewed('both sidecars on root 2', (c) => c.rootPem === root2.pem);
    await callWorks('step 2');
    // A peer still on root 1 and one on root 2 verify each other through the bundle...
    assert.equal(
      await answered(user.inboundPort, bridge, bridge.trustPem),
      true,
      'a root-1 peer with the bundle and a root-2 sidecar could not talk',
    );
    // ...while a peer that never got the bundle cannot verify a root-2 sidecar: the flag day
    // the bundle avoids.
    await assert.rejects(connectMeshTls(user.inboundPort, rootOneOnly));

    // 3. Root 1 leaves the bundle: after the renewals, a root-1 certificate is refused.
    await restart(root2, []);
    await renewed('both sidecars trust root 2 alone', (c) => c.trustedRoots === 1);
    await callWorks('step 3');
    assert.equal(
      await answered(user.inboundPort, order.certificate!.current()!, root2.pem),
      true,
      'a root-2 client is served',
    );
    assert.equal(
      await answered(user.inboundPort, bridge, bridge.trustPem),
      false,
      'a root-1 client certificate was accepted after root 1 left the bundle',
    );
  });
});
