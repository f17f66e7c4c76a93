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

/** What a PortTrafficPolicy may carry: the four components, never retryBudget. */
const PORT_LEVEL_FIELDS = [
  'port.number',
  ...LOAD_BALANCER_FIELDS.map((f) => `loadBalancer.${f}`),
  ...RESILIENCE_FIELDS.filter((f) => !f.startsWith('retryBudget.')),
  'tls.mode',
];

/** The fields of a TrafficPolicy (top level or a subset's) that Weft implements. */
const trafficPolicyFields = (at: string) => [
  ...LOAD_BALANCER_FIELDS.map((f) => `${at}.loadBalancer.${f}`),
  ...RESILIENCE_FIELDS.map((f) => `${at}.${f}`),
  `${at}.tls.mode`,
  ...PORT_LEVEL_FIELDS.map((f) => `${at}.portLevelSettings[].${f}`),
];

/** What Weft implements of a DestinationRule; every other field present gets a warning. */
export const DESTINATION_RULE_SUPPORTED_FIELDS = [
  'spec.host',
  ...trafficPolicyFields('spec.trafficPolicy'),
  'spec.subsets[].name',
  'spec.subsets[].labels',
  ...trafficPolicyFields('spec.subsets[].trafficPolicy'),
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
