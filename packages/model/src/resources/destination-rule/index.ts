import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { destinationRuleSpecSchema, type DestinationRuleSpec } from './schema.js';
import { validateDestinationRule } from './validate.js';

export * from './schema.js';
export { validateDestinationRule } from './validate.js';

/** What Weft implements of a DestinationRule; every other field present gets a warning. */
export const DESTINATION_RULE_SUPPORTED_FIELDS = [
  'spec.host',
  'spec.trafficPolicy.loadBalancer.simple',
  'spec.subsets[].name',
  'spec.subsets[].labels',
  'spec.subsets[].trafficPolicy.loadBalancer.simple',
] as const;

export const destinationRuleKind: ResourceKind<DestinationRuleSpec> = {
  kind: 'DestinationRule',
  group: 'networking.istio.io',
  versions: ['v1', 'v1beta1', 'v1alpha3'],
  supportedFields: DESTINATION_RULE_SUPPORTED_FIELDS,
  validateSpec: (spec, ctx) =>
    checkSpec(
      spec,
      {
        schema: destinationRuleSpecSchema,
        supportedFields: DESTINATION_RULE_SUPPORTED_FIELDS,
        validate: validateDestinationRule,
      },
      ctx,
    ),
};
