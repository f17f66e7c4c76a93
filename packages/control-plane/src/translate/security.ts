// The security part of translate: PeerAuthentications into the snapshot (each sidecar picks its
// own inbound mode from them), and per endpoint whether clients originate mutual TLS to it and
// which SPIFFE ID they must find. Istio's auto-mTLS: a client sends mTLS to an endpoint that
// has a sidecar (the `security.istio.io/tlsMode: istio` label its sidecar registers) unless the
// endpoint's own PeerAuthentication is DISABLE; a DestinationRule's tls mode overrides that,
// ISTIO_MUTUAL always, DISABLE never.

import {
  DEFAULT_TRUST_DOMAIN,
  effectivePeerMode,
  spiffeId,
  TLS_MODE_LABEL,
  type Instance,
  type PeerPolicy,
} from '@weft/model';
import type { Meta, PeerAuthenticationIn, TrafficPolicyIn } from './input.js';

export function toPeerPolicies(pas: readonly PeerAuthenticationIn[]): PeerPolicy[] {
  return [...pas]
    .sort(
      (a, b) =>
        (a.metadata.createRevision ?? 0) - (b.metadata.createRevision ?? 0) ||
        key(a.metadata).localeCompare(key(b.metadata)),
    )
    .map((pa) => {
      const selector = pa.spec.selector?.matchLabels ?? {};
      const ports = Object.entries(pa.spec.portLevelMtls ?? {});
      return {
        namespace: pa.metadata.namespace,
        name: pa.metadata.name,
        ...(Object.keys(selector).length > 0 ? { selector: { ...selector } } : {}),
        mode: pa.spec.mtls?.mode ?? 'UNSET',
        ...(ports.length > 0
          ? { ports: Object.fromEntries(ports.map(([p, m]) => [p, m.mode ?? 'UNSET'])) }
          : {}),
      };
    });
}

/**
 * The DestinationRule's tls mode for a cluster, from the first policy given (subset, then rule)
 * that has `tls` at all: as in Istio, a subset's tls replaces the rule's whole, and a tls
 * without a mode is DISABLE (the proto's default), so `tls: {}` turns auto-mTLS off.
 */
export function tlsModeOf(...policies: (TrafficPolicyIn | undefined)[]): string | undefined {
  const tls = policies.find((p) => p?.tls !== undefined)?.tls;
  return tls === undefined ? undefined : (tls.mode ?? 'DISABLE');
}

/** The SPIFFE ID clients must verify on this endpoint, or undefined for plaintext. */
export function endpointTlsIdentity(
  i: Instance,
  drMode: string | undefined,
  policies: readonly PeerPolicy[],
  trustDomain = DEFAULT_TRUST_DOMAIN,
): string | undefined {
  const mtls =
    drMode === 'ISTIO_MUTUAL' ||
    (drMode === undefined &&
      i.labels[TLS_MODE_LABEL] === 'istio' &&
      effectivePeerMode(policies, { namespace: i.namespace, labels: i.labels }) !== 'DISABLE');
  return mtls ? spiffeId({ trustDomain, namespace: i.namespace, service: i.service }) : undefined;
}

function key(m: Meta): string {
  return `${m.namespace}/${m.name}`;
}
