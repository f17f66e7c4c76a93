// The verified identity of the peer on an inbound connection, as authorization sees it
// (`source.principal`): `<trust domain>/ns/<namespace>/sa/<service account>`, Istio's form
// of the SPIFFE ID without `spiffe://`. Plaintext connections have none, and then principal
// and namespace rules never match, as in Istio.
// It is the peer certificate's SPIFFE URI SAN, verified against the mesh root by the sidecar's
// mesh listener (peer-identity.ts, read once per connection).

import type { Socket } from 'node:net';
import { peerIdentity } from './peer-identity.js';

export type PeerPrincipal = (socket: Socket) => string | undefined;

export const peerPrincipal: PeerPrincipal = (socket) => {
  const id = peerIdentity(socket);
  return id === undefined ? undefined : principalFromSpiffe(id);
};

/** `spiffe://cluster.local/ns/a/sa/b` -> `cluster.local/ns/a/sa/b`. */
export function principalFromSpiffe(uri: string): string | undefined {
  return uri.startsWith('spiffe://') ? uri.slice('spiffe://'.length) : undefined;
}
