import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { serviceEntrySpecSchema, type ServiceEntrySpec } from './schema.js';
import { validateServiceEntry } from './validate.js';

export * from './schema.js';
export { validateServiceEntry } from './validate.js';

/** What Weft implements of a ServiceEntry; every other field present gets a warning. */
export const SERVICE_ENTRY_SUPPORTED_FIELDS = [
  'spec.hosts',
  'spec.ports[].number',
  'spec.ports[].name',
  'spec.ports[].protocol',
  'spec.ports[].targetPort',
  // Only reported on: the mesh has no mTLS for it to switch, and telemetry does not use it yet.
  'spec.location',
  'spec.resolution',
  'spec.endpoints[].address',
  'spec.endpoints[].ports',
  'spec.endpoints[].labels',
  'spec.endpoints[].weight',
] as const;

/** Fields whose warning validateServiceEntry() words itself. */
const SERVICE_ENTRY_SELF_WARNED_FIELDS = ['spec.workloadSelector'] as const;

// One array, so that parse-spec's pattern cache (keyed by the array) keeps working.
const CHECKED_FIELDS = [...SERVICE_ENTRY_SUPPORTED_FIELDS, ...SERVICE_ENTRY_SELF_WARNED_FIELDS];

export const serviceEntryKind: ResourceKind<ServiceEntrySpec> = {
  kind: 'ServiceEntry',
  group: 'networking.istio.io',
  versions: ['v1', 'v1beta1', 'v1alpha3'],
  supportedFields: SERVICE_ENTRY_SUPPORTED_FIELDS,
  validateSpec: (spec, ctx) =>
    checkSpec(
      spec,
      {
        schema: serviceEntrySpecSchema,
        supportedFields: CHECKED_FIELDS,
        validate: validateServiceEntry,
      },
      ctx,
    ),
};
