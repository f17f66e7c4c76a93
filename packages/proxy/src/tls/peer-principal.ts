// The verified identity of the peer on an inbound connection, as authorization sees it
// (`source.principal`): `<trust domain>/ns/<namespace>/sa/<service account>`, Istio's form
// of the SPIFFE ID without `spiffe://`. Plaintext connections have none, and then principal
// and namespace rules never match, as in Istio.
//
// Until mutual TLS lands this always answers undefined; the mTLS work replaces the body (the
// peer certificate's URI SAN, verified against the mesh CA) and nothing else changes.

import type { Socket } from 'node:net';

export type PeerPrincipal = (socket: Socket) => string | undefined;

export const peerPrincipal: PeerPrincipal = () => undefined;

/** `spiffe://cluster.local/ns/a/sa/b` -> `cluster.local/ns/a/sa/b`. */
export function principalFromSpiffe(uri: string): string | undefined {
  return uri.startsWith('spiffe://') ? uri.slice('spiffe://'.length) : undefined;
}
