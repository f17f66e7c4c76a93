// Outbound mutual TLS to peer sidecars. One keep-alive HTTPS agent per endpoint, as for
// plaintext; each new connection presents the workload certificate current at that moment
// (so a renewal takes effect without closing pooled connections) and accepts the server only
// if its certificate chains to the mesh root and carries the SPIFFE ID the snapshot expects
// for that endpoint's service. Anything else fails the handshake, which the forwarder treats
// as a connection failure of that endpoint.

import type { AgentOptions, ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import type { AgentPool } from '../upstream/agent-pool.js';
import { spiffeUriSan } from './peer-identity.js';
import type { WorkloadCertificateSource } from './workload-certificate.js';

/** The request option that names the SPIFFE ID the server must present (set by forward.ts). */
export const PEER_IDENTITY_OPTION = 'weftPeerIdentity';

export type MeshRequestArgs = ClientRequestArgs & { [PEER_IDENTITY_OPTION]?: string };

/**
 * How a request reaches an endpoint: over mutual TLS when the snapshot gives the endpoint a
 * tlsIdentity and this proxy has mesh agents (the real request and its mirrored copies alike),
 * else plaintext from the plain pool.
 */
export function upstreamTransport(
  ep: { key: string; tlsIdentity?: string | undefined },
  agents: AgentPool,
  meshAgents: AgentPool | undefined,
  idleTimeoutMs?: number,
): Pick<MeshRequestArgs, 'agent' | 'protocol' | typeof PEER_IDENTITY_OPTION> {
  const mesh = ep.tlsIdentity === undefined ? undefined : meshAgents;
  return {
    agent: (mesh ?? agents).get(ep, idleTimeoutMs),
    protocol: mesh === undefined ? 'http:' : 'https:',
    // Read by MeshAgent when it opens a connection: the SPIFFE ID the peer must present.
    [PEER_IDENTITY_OPTION]: ep.tlsIdentity,
  };
}

export class MeshAgent extends HttpsAgent {
  constructor(
    options: AgentOptions,
    private readonly source: WorkloadCertificateSource,
  ) {
    // Session resumption would skip the client certificate; every connection shows its own.
    super({ ...options, maxCachedSessions: 0 });
  }

  /**
   * Node pools idle sockets by this name. The expected peer identity is part of it: a
   * connection verified for one SPIFFE ID must never carry a request meant for another (two
   * services' endpoints can share an address and port, as an impostor's registration would).
   */
  override getName(options?: MeshRequestArgs): string {
    return `${super.getName(options)}:${options?.[PEER_IDENTITY_OPTION] ?? ''}`;
  }

  override createConnection(
    options: MeshRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const cert = this.source.current();
    const expected = options[PEER_IDENTITY_OPTION];
    if (cert === undefined || expected === undefined) {
      const err: NodeJS.ErrnoException = new Error(
        cert === undefined
          ? 'this proxy has no workload certificate yet; cannot open mutual TLS'
          : 'no peer identity to verify',
      );
      // Reported as a connect failure of this try (the request errors, the proxy answers 503).
      err.code = 'ECONNREFUSED';
      callback?.(err, undefined as unknown as Duplex);
      return undefined;
    }
    return super.createConnection(
      {
        ...options,
        secureContext: cert.context,
        rejectUnauthorized: true,
        // Sidecars are addressed by IP; identity comes from the URI SAN, not the host name.
        servername: '',
        checkServerIdentity: (_host: string, peer: PeerCertificate) =>
          checkPeerIdentity(peer, expected),
      } as MeshRequestArgs,
      callback,
    );
  }
}

export function checkPeerIdentity(peer: PeerCertificate, expected: string): Error | undefined {
  const got = spiffeUriSan(peer.subjectaltname);
  if (got === expected) return undefined;
  const err: NodeJS.ErrnoException = new Error(
    `peer identity ${got ?? '(none)'} is not the expected ${expected}`,
  );
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}
