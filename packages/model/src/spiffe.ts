// Workload identity names shared by the control plane's CA and the proxies: a SPIFFE ID per
// service, spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE, as Istio names service accounts.
// Weft has no service accounts of its own: a service's identity is its name.

/** Istio's default trust domain (MeshConfig.trustDomain). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/**
 * The label a sidecar puts on the instance it registers when it serves mesh mTLS, as Istio
 * does on pods; clients' auto-mTLS reads it.
 */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  service: string;
}

export function spiffeId(id: WorkloadIdentity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.service}`;
}

/** The identity a SPIFFE ID names, or undefined when it is not of the /ns/X/sa/Y form. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (m === null) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, service: m[3]! };
}

/** A DNS label's characters: what a namespace or service name may hold in an identity. */
export function isIdentityName(s: string): boolean {
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s) && s.length <= 253;
}
