// Who is on the other end of an inbound connection. A sidecar's mesh listener accepts TLS only
// from clients whose certificate chains to the mesh root (requestCert + rejectUnauthorized),
// so an encrypted, authorized socket carries a verified workload certificate, and its SPIFFE
// URI SAN is the caller's identity: what AuthorizationPolicy's `principals` match and what
// telemetry reports as mutual TLS. Read once per connection and kept on the socket, so the
// requests of a keep-alive connection pay one property read.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

const kPeer = Symbol('weft.peerIdentity');

type Tagged = Partial<TLSSocket> & { [kPeer]?: string | null };

/**
 * The verified SPIFFE ID (`spiffe://TRUST_DOMAIN/ns/NS/sa/SA`) of the peer of this socket, or
 * undefined for plaintext, a TLS client without a verified certificate, or a certificate
 * without a SPIFFE URI SAN. Pass `req.socket`.
 */
export function peerIdentity(socket: Socket): string | undefined {
  const s = socket as Tagged;
  const cached = s[kPeer];
  if (cached !== undefined) return cached ?? undefined;
  let id: string | null = null;
  if (s.encrypted === true && s.authorized === true) {
    id = spiffeUriSan(s.getPeerX509Certificate?.()?.subjectAltName) ?? null;
  }
  s[kPeer] = id;
  return id ?? undefined;
}

/** True when the connection is mutual TLS with a verified mesh peer. */
export function isMutualTls(socket: Socket): boolean {
  return peerIdentity(socket) !== undefined;
}

/** The first `URI:spiffe://...` entry of a subjectAltName string as node:crypto formats it. */
export function spiffeUriSan(subjectAltName: string | undefined): string | undefined {
  if (subjectAltName === undefined) return undefined;
  for (const part of subjectAltName.split(', ')) {
    if (part.startsWith('URI:spiffe://')) return part.slice(4);
  }
  return undefined;
}
