// PeerAuthentication, from istio/api security/v1beta1/peer_authentication.proto: which mutual
// TLS a workload's sidecar accepts on its inbound side.
import { z } from 'zod';
import { workloadSelectorSchema } from '../fields.js';

export const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

const mtlsSchema = z.strictObject({ mode: z.enum(MTLS_MODES).optional() });

export const peerAuthenticationSpecSchema = z.strictObject({
  selector: workloadSelectorSchema.optional(),
  mtls: mtlsSchema.optional(),
  /** Keys are workload (target) ports, as strings in YAML maps. */
  portLevelMtls: z.record(z.string(), mtlsSchema).optional(),
});
export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpecSchema>;
