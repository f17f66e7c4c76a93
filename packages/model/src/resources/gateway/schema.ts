// Gateway, from istio/api networking/v1alpha3/gateway.proto.
import { z } from 'zod';
import { portNumber, stringList, stringMap, uint32 } from '../fields.js';

export const serverPortSchema = z.strictObject({
  number: portNumber,
  protocol: z.string(),
  name: z.string().optional(),
  /** Deprecated in Istio. */
  targetPort: uint32.optional(),
});
export type ServerPort = z.infer<typeof serverPortSchema>;

const tlsProtocolVersion = z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']);

export const serverTlsSettingsSchema = z.strictObject({
  httpsRedirect: z.boolean().optional(),
  mode: z
    .enum([
      'PASSTHROUGH',
      'SIMPLE',
      'MUTUAL',
      'AUTO_PASSTHROUGH',
      'ISTIO_MUTUAL',
      'OPTIONAL_MUTUAL',
    ])
    .optional(),
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  caCrl: z.string().optional(),
  credentialName: z.string().optional(),
  credentialNames: stringList.optional(),
  tlsCertificates: z
    .array(
      z.strictObject({
        serverCertificate: z.string().optional(),
        privateKey: z.string().optional(),
        caCertificates: z.string().optional(),
      }),
    )
    .optional(),
  subjectAltNames: stringList.optional(),
  verifyCertificateSpki: stringList.optional(),
  verifyCertificateHash: stringList.optional(),
  minProtocolVersion: tlsProtocolVersion.optional(),
  maxProtocolVersion: tlsProtocolVersion.optional(),
  cipherSuites: stringList.optional(),
});
export type ServerTLSSettings = z.infer<typeof serverTlsSettingsSchema>;

export const serverSchema = z.strictObject({
  port: serverPortSchema,
  bind: z.string().optional(),
  hosts: stringList,
  tls: serverTlsSettingsSchema.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});
export type Server = z.infer<typeof serverSchema>;

export const gatewaySpecSchema = z.strictObject({
  servers: z.array(serverSchema),
  selector: stringMap.optional(),
});
export type GatewaySpec = z.infer<typeof gatewaySpecSchema>;
