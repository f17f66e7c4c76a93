import { checkSpec } from '../parse-spec.js';
import type { ResourceKind } from '../types.js';
import { destinationRuleSpecSchema, type DestinationRuleSpec } from './schema.js';
import { validateDestinationRule } from './validate.js';

export * from './schema.js';
export { validateDestinationRule } from './validate.js';

const LOAD_BALANCER_FIELDS = [
  'simple',
  'consistentHash.httpHeaderName',
  'consistentHash.httpCookie.name',
  'consistentHash.httpCookie.path',
  'consistentHash.httpCookie.ttl',
  'consistentHash.useSourceIp',
  'consistentHash.httpQueryParameterName',
  'consistentHash.ringHash.minimumRingSize',
  'consistentHash.maglev.tableSize',
  'consistentHash.minimumRingSize',
  'warmupDurationSecs',
  'warmup.duration',
] as const;

/** Circuit breaking, outlier detection and retry budget (docs/reliability.md). */
const RESILIENCE_FIELDS = [
  'connectionPool.tcp.maxConnections',
  'connectionPool.tcp.connectTimeout',
  'connectionPool.tcp.idleTimeout',
  'connectionPool.http.http1MaxPendingRequests',
  'connectionPool.http.http2MaxRequests',
  'connectionPool.http.maxRequestsPerConnection',
  'connectionPool.http.maxRetries',
  'connectionPool.http.idleTimeout',
  'outlierDetection.consecutive5xxErrors',
  'outlierDetection.consecutiveGatewayErrors',
  'outlierDetection.interval',
  'outlierDetection.baseEjectionTime',
  'outlierDetection.maxEjectionPercent',
  'outlierDetection.minHealthPercent',
  'retryBudget.percent',
  'retryBudget.minRetryConcurrency',
] as const;

/** What Weft implements of a DestinationRule; every other field present gets a warning. */
export const DESTINATION_RULE_SUPPORTED_FIELDS = [
  'spec.host',
  ...LOAD_BALANCER_FIELDS.map((f) => `spec.trafficPolicy.loadBalancer.${f}`),
  ...RESILIENCE_FIELDS.map((f) => `spec.trafficPolicy.${f}`),
  'spec.subsets[].name',
  'spec.subsets[].labels',
  ...LOAD_BALANCER_FIELDS.map((f) => `spec.subsets[].trafficPolicy.loadBalancer.${f}`),
  ...RESILIENCE_FIELDS.map((f) => `spec.subsets[].trafficPolicy.${f}`),
  'spec.trafficPolicy.tls.mode',
  'spec.subsets[].name',
  'spec.subsets[].labels',
  ...LOAD_BALANCER_FIELDS.map((f) => `spec.subsets[].trafficPolicy.loadBalancer.${f}`),
  'spec.subsets[].trafficPolicy.tls.mode',
];

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
