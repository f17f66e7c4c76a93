import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { virtualServiceSpecSchema, type VirtualServiceSpec } from './schema.js';
import { validateVirtualService } from './validate.js';

export * from './schema.js';
export { validateVirtualService } from './validate.js';

/** What Weft implements of a VirtualService; every other field present gets a warning. */
export const VIRTUAL_SERVICE_SUPPORTED_FIELDS = [
  'spec.hosts',
  'spec.gateways',
  'spec.http[].name',
  'spec.http[].match[].name',
  'spec.http[].match[].uri',
  'spec.http[].match[].headers',
  'spec.http[].match[].queryParams',
  'spec.http[].match[].withoutHeaders',
  'spec.http[].match[].method',
  'spec.http[].match[].authority',
  'spec.http[].match[].scheme',
  'spec.http[].match[].ignoreUriCase',
  'spec.http[].match[].port',
  'spec.http[].match[].sourceLabels',
  'spec.http[].match[].sourceNamespace',
  'spec.http[].route[].destination.host',
  'spec.http[].route[].destination.subset',
  'spec.http[].route[].destination.port',
  'spec.http[].route[].weight',
  'spec.http[].route[].headers',
  'spec.http[].redirect.uri',
  'spec.http[].redirect.authority',
  'spec.http[].redirect.scheme',
  'spec.http[].redirect.port',
  'spec.http[].redirect.redirectCode',
  'spec.http[].redirect.prefixRewrite',
  'spec.http[].redirect.derivePort',
  'spec.http[].directResponse.status',
  'spec.http[].directResponse.body.string',
  'spec.http[].rewrite.uri',
  'spec.http[].rewrite.authority',
  'spec.http[].rewrite.uriRegexRewrite',
  'spec.http[].timeout',
  'spec.http[].retries.attempts',
  'spec.http[].retries.perTryTimeout',
  'spec.http[].retries.retryOn',
  'spec.http[].retries.backoff',
  'spec.http[].headers',
  'spec.http[].fault.delay.fixedDelay',
  'spec.http[].fault.delay.percentage',
  'spec.http[].fault.delay.percent',
  'spec.http[].fault.abort.httpStatus',
  'spec.http[].fault.abort.percentage',
  'spec.http[].mirror',
  'spec.http[].mirrorPercentage',
  'spec.http[].mirrorPercent',
  'spec.http[].mirrors[].destination',
  'spec.http[].mirrors[].percentage',
  'spec.http[].corsPolicy.allowOrigins',
  'spec.http[].corsPolicy.allowOrigin',
  'spec.http[].corsPolicy.allowMethods',
  'spec.http[].corsPolicy.allowHeaders',
  'spec.http[].corsPolicy.exposeHeaders',
  'spec.http[].corsPolicy.maxAge',
  'spec.http[].corsPolicy.allowCredentials',
  'spec.http[].corsPolicy.unmatchedPreflights',
] as const;

export const virtualServiceKind: ResourceKind<VirtualServiceSpec> = {
  kind: 'VirtualService',
  group: 'networking.istio.io',
  versions: ['v1', 'v1beta1', 'v1alpha3'],
  supportedFields: VIRTUAL_SERVICE_SUPPORTED_FIELDS,
  validateSpec: (spec, ctx) =>
    checkSpec(
      spec,
      {
        schema: virtualServiceSpecSchema,
        supportedFields: VIRTUAL_SERVICE_SUPPORTED_FIELDS,
        validate: validateVirtualService,
      },
      ctx,
    ),
};
