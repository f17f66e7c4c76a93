import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { authorizationPolicySpecSchema, type AuthorizationPolicySpec } from './schema.js';
import { validateAuthorizationPolicy } from './validate.js';

export * from './schema.js';
export {
  AUTHZ_CONDITION_KEYS,
  HEADER_KEY,
  parseIpBlock,
  validateAuthorizationPolicy,
} from './validate.js';

/**
 * What Weft implements of an AuthorizationPolicy; every other field present gets a warning.
 * Fields Weft knows but cannot evaluate (request principals, CUSTOM) are accepted here and
 * warned about by validateAuthorizationPolicy, which says how the proxy treats them.
 */
export const AUTHORIZATION_POLICY_SUPPORTED_FIELDS = [
  'spec.selector',
  'spec.targetRef',
  'spec.targetRefs',
  'spec.action',
  'spec.provider',
  'spec.rules[].from[].source',
  'spec.rules[].to[].operation',
  'spec.rules[].when[].key',
  'spec.rules[].when[].values',
  'spec.rules[].when[].notValues',
] as const;

export const authorizationPolicyKind: ResourceKind<AuthorizationPolicySpec> = {
  kind: 'AuthorizationPolicy',
  group: 'security.istio.io',
  versions: ['v1', 'v1beta1'],
  supportedFields: AUTHORIZATION_POLICY_SUPPORTED_FIELDS,
  validateSpec: (spec, ctx) =>
    checkSpec(
      spec,
      {
        schema: authorizationPolicySpecSchema,
        supportedFields: AUTHORIZATION_POLICY_SUPPORTED_FIELDS,
        validate: validateAuthorizationPolicy,
      },
      ctx,
    ),
};
