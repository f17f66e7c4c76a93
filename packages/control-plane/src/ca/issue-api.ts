// POST /v1/certificates: a sidecar (or gateway) sends a CSR and the service it runs for; the CA
// answers with a workload certificate and the root. Which services a caller may ask for is
// decided by its credentials (api/auth.ts) before this runs.

import { isIdentityName } from '@weft/model';
import { HttpError } from '../api/http.js';
import type { IssuedCertificate, MeshCa } from './mesh-ca.js';

export interface CertificateRequest {
  csr?: unknown;
  namespace?: unknown;
  service?: unknown;
}

export function checkCertificateRequest(body: CertificateRequest): {
  csr: string;
  namespace: string;
  service: string;
} {
  const namespace = body?.namespace ?? 'default';
  const { csr, service } = body ?? {};
  if (typeof csr !== 'string' || typeof service !== 'string' || typeof namespace !== 'string')
    throw new HttpError(
      400,
      'WEFT_ERR_BAD_REQUEST',
      'body must be {"csr": "<PEM PKCS#10>", "service": "...", "namespace"?: "..."}',
    );
  for (const [field, v] of [
    ['service', service],
    ['namespace', namespace],
  ] as const)
    if (!isIdentityName(v))
      throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', `${field} "${v}" is not a DNS-style name`);
  return { csr, namespace, service };
}

/** `allow` throws when the caller's credentials do not speak for the identity asked for. */
export function issueCertificate(
  ca: MeshCa,
  body: CertificateRequest,
  allow?: (identity: { namespace: string; service: string }) => void,
): Promise<IssuedCertificate> {
  const r = checkCertificateRequest(body);
  allow?.({ namespace: r.namespace, service: r.service });
  return ca.issueWorkload(r.csr, { namespace: r.namespace, service: r.service });
}
