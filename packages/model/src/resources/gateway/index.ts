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
] as const;

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
        supportedFields: GATEWAY_SUPPORTED_FIELDS,
        validate: validateGateway,
      },
      ctx,
    ),
};
