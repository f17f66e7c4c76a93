// The fixed points at which the proxy reports what it did (DESIGN.md habit 10). Metrics,
// tracing and access logs subscribe; publishers check `hasSubscribers` first, so a proxy
// nobody observes pays one property read per event.

import diagnosticsChannel from 'node:diagnostics_channel';

export const CHANNEL_NAMES = {
  requestEnd: 'weft:proxy:request:end',
  endpointEjected: 'weft:proxy:endpoint:ejected',
  tableSwapped: 'weft:proxy:table:swapped',
  authzDecision: 'weft:proxy:authz:decision',
} as const;

export type ProxyKind = 'gateway' | 'outbound' | 'inbound';

export interface RequestEndEvent {
  proxyId: string;
  kind: ProxyKind;
  method: string;
  authority: string;
  path: string;
  /** Undefined when no route matched. */
  routeId: string | undefined;
  cluster: string | undefined;
  /** `address:port` of the last endpoint tried. */
  endpoint: string | undefined;
  status: number;
  /** Envoy-style response flags, comma-joined (`UF,URX`), when something went wrong. */
  flag: string | undefined;
  durationMs: number;
  attempts: number;
  requestId: string | undefined;
  /**
   * True for a mirrored copy (shadow traffic, filters/mirror): its response was dropped and
   * nobody waited for it. Absent on real requests.
   */
  shadow?: true;
  /**
   * Downstream wire bytes of this request and its response, headers included, as Istio's
   * istio_request_bytes / istio_response_bytes record them (telemetry/wire-bytes.ts).
   * Optional so that publishers that cannot tell (tests) may leave them out.
   */
  requestBytes?: number;
  responseBytes?: number;
  /** The trace this request belongs to, when tracing knows one (telemetry/tracing/). */
  traceId?: string | undefined;
  /**
   * Whether the downstream connection was mutual TLS with a verified mesh peer, and that
   * peer's SPIFFE ID (tls/peer-identity.ts); a sidecar's inbound requests from other sidecars
   * have both. Metrics report connection_security_policy "mutual_tls" from it.
   */
  mutualTls?: boolean;
  peerPrincipal?: string | undefined;
  /**
   * The downstream peer's metadata header as received (telemetry/peer-metadata.ts); metrics
   * believe it only when it agrees with `peerPrincipal`.
   */
  peerMetadata?: string | undefined;
  /** The SPIFFE ID the upstream endpoint proved over mutual TLS; undefined for plaintext. */
  upstreamIdentity?: string | undefined;
  /** The upstream's metadata header from its response, checked against `upstreamIdentity`. */
  upstreamPeerMetadata?: string | undefined;
  /** The request was gRPC (content-type application/grpc...): request_protocol "grpc". */
  grpc?: boolean;
  /** grpc-status of a gRPC response (header, or trailer once the body ended); -1 = none. */
  grpcStatus?: number;
}

export interface EndpointEjectedEvent {
  proxyId: string;
  cluster: string;
  endpoint: string;
  durationMs: number;
  ejections: number;
  reason: string;
}

export interface TableSwappedEvent {
  proxyId: string;
  version: number;
  previousVersion: number | undefined;
  clusters: number;
  warnings: readonly string[];
}

export const requestEndChannel = diagnosticsChannel.channel(CHANNEL_NAMES.requestEnd);
export const endpointEjectedChannel = diagnosticsChannel.channel(CHANNEL_NAMES.endpointEjected);
export const tableSwappedChannel = diagnosticsChannel.channel(CHANNEL_NAMES.tableSwapped);

/** A request an AuthorizationPolicy denied, or one an AUDIT policy marked. */
export interface AuthzDecisionEvent {
  proxyId: string;
  allowed: boolean;
  /** The DENY (or CUSTOM) policy that denied; undefined when no ALLOW policy matched. */
  policy: string | undefined;
  /** The AUDIT policy that matched, if any. */
  audit: string | undefined;
  method: string;
  path: string;
  sourceIp: string;
  principal: string | undefined;
}

export const authzDeniedChannel = diagnosticsChannel.channel(CHANNEL_NAMES.authzDecision);
