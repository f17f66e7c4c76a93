// Helpers for the mutual-TLS tests: sidecars with fake apps, and TLS connections made by the
// test itself with a workload certificate taken from a running proxy.

import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { startSidecar, type RunningSidecar } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { applyYaml } from '../integration/http-helpers.js';

export interface WorkloadCredentials {
  certPem: string;
  keyPem: string;
  rootPem: string;
}

/**
 * A TLS connection to 127.0.0.1:port presenting `cert`, resolved once the handshake is done. The server is checked against the mesh root only (the caller looks at
 * its SPIFFE ID or serial if it cares).
 */
export async function connectMeshTls(port: number, cert: WorkloadCredentials): Promise<TLSSocket> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    cert: cert.certPem,
    key: cert.keyPem,
    ca: cert.rootPem,
    checkServerIdentity: () => undefined,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** One app and one sidecar per service, in the order the services were given. */
export interface MeshServices<S extends readonly string[]> {
  apps: { [K in keyof S]: FakeUpstream };
  sidecars: { [K in keyof S]: RunningSidecar };
}

/**
 * A fake app and an in-process sidecar (id `<service>-1`) per service, each with its workload
 * certificate, registered, and every sidecar holding the snapshot that has them all.
 */
export async function startMeshServices<const S extends readonly string[]>(
  controlUrl: string,
  services: S,
  /** Extra labels per service's sidecar (e.g. a version). */
  labels: Partial<Record<S[number], Record<string, string>>> = {},
): Promise<MeshServices<S>> {
  const apps = await Promise.all(services.map((s) => startFakeUpstream(s)));
  const sidecars = await Promise.all(
    services.map((service, i) =>
      startSidecar({
        control: controlUrl,
        service,
        id: `${service}-1`,
        appPort: apps[i]!.port,
        ttlSeconds: 30,
        labels: labels[service as S[number]],
      }),
    ),
  );
  await Promise.all(sidecars.flatMap((s) => [s.ready, s.registered]));
  const { version } = (await (await fetch(`${controlUrl}/v1/snapshot`)).json()) as {
    version: number;
  };
  await waitForProxies(controlUrl, version);
  return { apps, sidecars } as unknown as MeshServices<S>;
}

/** Resolves once every proxy runs `version` (or later) of the snapshot. */
export async function waitForProxies(controlUrl: string, version: number): Promise<void> {
  const res = await fetch(`${controlUrl}/v1/proxies/wait?version=${version}&timeoutMs=10000`);
  const body = (await res.json()) as { done: boolean };
  assert.ok(body.done, `proxies did not take version ${version}: ${JSON.stringify(body)}`);
}

/** Mesh-wide STRICT (the root namespace's PeerAuthentication). */
export const MESH_STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`;

/** Applies YAML through the API and waits until every proxy runs the result. */
export async function applyAndWait(controlUrl: string, yaml: string): Promise<void> {
  const { revision } = await applyYaml(controlUrl, 'mesh.yaml', yaml);
  await waitForProxies(controlUrl, revision);
}
