// Peer metadata exchange between sidecars, as Istio's metadata-exchange filter does with
// x-envoy-peer-metadata: who the other side is (workload, app, version, namespace...), so that
// a sidecar's inbound metrics can fill the source_* labels and its outbound metrics the
// destination_* ones. Istio's header is a base64 protobuf Struct; Weft's is its own
// (`x-weft-peer-metadata`, base64url of a JSON array of strings), so nobody mistakes one for
// the other.
//
// Trust: the header is believed only on a mutual-TLS connection whose verified SPIFFE ID names
// the same namespace and service account (in Weft, the service) as the metadata. Anything else
// (plaintext, a mismatch, a malformed or oversized value) is ignored, and the labels fall back
// to what the verified identity alone tells (namespace and service), or to `unknown`. The
// header never reaches an app: every listener drops it from requests (upstream/headers.ts) and
// the outbound side from responses.
//
// Labels stay bounded: each value must look like a label value (<= 63 characters of
// [A-Za-z0-9._-]), and a proxy remembers at most MAX_DISTINCT different metadata values; past
// that, new ones count as absent (the principal still names namespace and service).
// Decoding and checking happen once per distinct (header, identity) pair, in the metrics'
// series cache (telemetry/metrics.ts), never per request.

import { parseSpiffeId } from '@weft/model';
import { UNKNOWN, type Workload } from './istio-labels.js';

export const PEER_METADATA_HEADER = 'x-weft-peer-metadata';

/** Different metadata values a proxy accepts (each is a few series at most). */
export const MAX_DISTINCT = 1000;

const VALUE = /^[A-Za-z0-9._-]{1,63}$/;
/** Longest header value decoded: 9 fields of 63 characters, quoted, in base64. */
const MAX_HEADER_LENGTH = 1024;

/** What one sidecar tells the other: its workload, and the service its identity is for. */
export interface PeerMetadata extends Workload {
  /** The service (Weft's service account): must match the peer's verified identity. */
  service: string;
}

const FIELDS = [
  'workload',
  'namespace',
  'service',
  'app',
  'version',
  'canonicalService',
  'canonicalRevision',
  'cluster',
] as const;

/** The header value a proxy sends; computed once per proxy. `principal` is not sent. */
export function encodePeerMetadata(w: Workload, service: string): string {
  const m: Omit<PeerMetadata, 'principal'> = { ...w, service };
  return Buffer.from(JSON.stringify(FIELDS.map((f) => m[f]))).toString('base64url');
}

/** The metadata in a header value, or undefined when it is not exactly what encode() makes. */
export function decodePeerMetadata(value: string): Omit<PeerMetadata, 'principal'> | undefined {
  if (value.length > MAX_HEADER_LENGTH) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== FIELDS.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < FIELDS.length; i++) {
    const v: unknown = parsed[i];
    if (typeof v !== 'string' || !VALUE.test(v)) return undefined;
    out[FIELDS[i]!] = v;
  }
  return out as unknown as Omit<PeerMetadata, 'principal'>;
}

/** `spiffe://td/ns/NS/sa/SA` -> { namespace: NS, serviceAccount: SA }, label-safe values only. */
function identityParts(
  spiffeId: string,
): { namespace: string; serviceAccount: string } | undefined {
  const id = parseSpiffeId(spiffeId);
  if (id === undefined || !VALUE.test(id.namespace) || !VALUE.test(id.service)) return undefined;
  return { namespace: id.namespace, serviceAccount: id.service };
}

/**
 * Who the peer is, for metrics: from its metadata when `verifiedId` (the SPIFFE ID its
 * certificate proved) agrees with it; else from the identity alone (namespace, and the
 * service account as service, app and canonical service, as Weft's service accounts are its
 * services); else undefined (plaintext: unknown, as Istio reports it).
 */
export function peerWorkload(
  header: string | undefined,
  verifiedId: string | undefined,
): Workload | undefined {
  return trustedPeerMetadata(header, verifiedId) ?? workloadOfIdentity(verifiedId);
}

/** The workload in `header`, only when `verifiedId` names its namespace and service. */
export function trustedPeerMetadata(
  header: string | undefined,
  verifiedId: string | undefined,
): Workload | undefined {
  if (verifiedId === undefined || header === undefined) return undefined;
  const id = identityParts(verifiedId);
  if (id === undefined) return undefined;
  const m = decodePeerMetadata(header);
  if (m !== undefined && m.namespace === id.namespace && m.service === id.serviceAccount) {
    return {
      workload: m.workload,
      namespace: m.namespace,
      principal: verifiedId,
      app: m.app,
      version: m.version,
      canonicalService: m.canonicalService,
      canonicalRevision: m.canonicalRevision,
      cluster: m.cluster,
    };
  }
  return undefined;
}

/** What a verified identity alone tells: namespace, and the service (Weft's service account). */
export function workloadOfIdentity(verifiedId: string | undefined): Workload | undefined {
  const id = verifiedId === undefined ? undefined : identityParts(verifiedId);
  if (id === undefined || verifiedId === undefined) return undefined;
  return {
    workload: id.serviceAccount,
    namespace: id.namespace,
    principal: verifiedId,
    app: id.serviceAccount,
    version: UNKNOWN,
    canonicalService: id.serviceAccount,
    canonicalRevision: 'latest',
    cluster: UNKNOWN,
  };
}
