import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { peerAuthenticationSpecSchema, type PeerAuthenticationSpec } from './schema.js';
import { validatePeerAuthentication } from './validate.js';

export * from './schema.js';
export { validatePeerAuthentication } from './validate.js';
export {
  effectivePeerMode,
  type EffectiveMode,
  type PeerPolicy,
  type Workload,
} from './effective.js';

/** What Weft implements of a PeerAuthentication; every other field present gets a warning. */
export const PEER_AUTHENTICATION_SUPPORTED_FIELDS = [
  'spec.selector.matchLabels',
  'spec.mtls.mode',
  'spec.portLevelMtls',
] as const;

export const peerAuthenticationKind: ResourceKind<PeerAuthenticationSpec> = {
  kind: 'PeerAuthentication',
  group: 'security.istio.io',
  versions: ['v1', 'v1beta1'],
  supportedFields: PEER_AUTHENTICATION_SUPPORTED_FIELDS,
  validateSpec: (spec, ctx) =>
    checkSpec(
      spec,
      {
        schema: peerAuthenticationSpecSchema,
        supportedFields: PEER_AUTHENTICATION_SUPPORTED_FIELDS,
        validate: validatePeerAuthentication,
      },
      ctx,
    ),
};
