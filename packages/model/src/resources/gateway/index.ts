import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { gatewaySpecSchema, type GatewaySpec } from './schema.js';
import { validateGateway } from './validate.js';

export * from './schema.js';
export { validateGateway } from './validate.js';

/** What Weft implements of a Gateway; every other field present gets a warning. */
export const GATEWAY_SUPPORTED_FIELDS = [
  'spec.selector',
  'spec.servers[].port.number',
  'spec.servers[].port.name',
  'spec.servers[].port.protocol',
  'spec.servers[].hosts',
  'spec.servers[].name',
  'spec.servers[].tls.mode',
  'spec.servers[].tls.serverCertificate',
  'spec.servers[].tls.privateKey',
  'spec.servers[].tls.caCertificates',
  'spec.servers[].tls.httpsRedirect',
] as const;

/**
 * Fields Weft does not implement but whose warning validateGateway() words itself, so that
 * the message can say why (Weft reads certificate files, not Kubernetes secrets).
 */
const GATEWAY_SELF_WARNED_FIELDS = [
  'spec.servers[].tls.credentialName',
  'spec.servers[].tls.credentialNames',
] as const;

// One array, so that parse-spec's pattern cache (keyed by the array) keeps working.
const CHECKED_FIELDS = [...GATEWAY_SUPPORTED_FIELDS, ...GATEWAY_SELF_WARNED_FIELDS];

export const gatewayKind: ResourceKind<GatewaySpec> = {
  kind: 'Gateway',
  group: 'networking.istio.io',
  versions: ['v1', 'v1beta1', 'v1alpha3'],
  supportedFields: GATEWAY_SUPPORTED_FIELDS,
  validateSpec: (spec, ctx) =>
    checkSpec(
      spec,
      {
        schema: gatewaySpecSchema,
        supportedFields: CHECKED_FIELDS,
        validate: validateGateway,
      },
      ctx,
    ),
};
