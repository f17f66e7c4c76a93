// DestinationRule, from istio/api networking/v1alpha3/destination_rule.proto. Oneofs are
// optional fields here; validate.ts checks how many of them are set.
import { z } from 'zod';
import {
  duration,
  int32,
  percentSchema,
  portNumber,
  portSelectorSchema,
  stringList,
  stringMap,
  uint32,
  uint64,
  workloadSelectorSchema,
} from '../fields.js';

const nonNegativeInt32 = int32.min(0, 'must not be negative');

export const consistentHashLbSchema = z.strictObject({
  // oneof hash_key
  httpHeaderName: z.string().optional(),
  httpCookie: z
    .strictObject({
      name: z.string(),
      path: z.string().optional(),
      ttl: duration.optional(),
      attributes: z
        .array(z.strictObject({ name: z.string(), value: z.string().optional() }))
        .optional(),
    })
    .optional(),
  useSourceIp: z.boolean().optional(),
  httpQueryParameterName: z.string().optional(),
  // oneof hash_algorithm
  ringHash: z.strictObject({ minimumRingSize: uint64.optional() }).optional(),
  maglev: z.strictObject({ tableSize: uint64.optional() }).optional(),
  /** Deprecated in favour of ringHash.minimumRingSize. */
  minimumRingSize: uint64.optional(),
});
export type ConsistentHashLB = z.infer<typeof consistentHashLbSchema>;

export const localityLbSettingSchema = z.strictObject({
  distribute: z
    .array(
      z.strictObject({
        from: z.string().optional(),
        to: z.record(z.string(), uint32).optional(),
      }),
    )
    .optional(),
  failover: z
    .array(z.strictObject({ from: z.string().optional(), to: z.string().optional() }))
    .optional(),
  failoverPriority: stringList.optional(),
  enabled: z.boolean().optional(),
});
export type LocalityLoadBalancerSetting = z.infer<typeof localityLbSettingSchema>;

export const loadBalancerSettingsSchema = z.strictObject({
  // oneof lb_policy { simple | consistentHash }
  simple: z
    .enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'])
    .optional(),
  consistentHash: consistentHashLbSchema.optional(),
  localityLbSetting: localityLbSettingSchema.optional(),
  /** Deprecated in favour of warmup.duration. */
  warmupDurationSecs: duration.optional(),
  warmup: z
    .strictObject({
      duration: duration,
      minimumPercent: z.number().min(0).max(100).optional(),
      aggression: z.number().min(1).optional(),
    })
    .optional(),
});
export type LoadBalancerSettings = z.infer<typeof loadBalancerSettingsSchema>;

export const connectionPoolSettingsSchema = z.strictObject({
  tcp: z
    .strictObject({
      maxConnections: nonNegativeInt32.optional(),
      connectTimeout: duration.optional(),
      tcpKeepalive: z
        .strictObject({
          probes: uint32.optional(),
          time: duration.optional(),
          interval: duration.optional(),
        })
        .optional(),
      maxConnectionDuration: duration.optional(),
      idleTimeout: duration.optional(),
    })
    .optional(),
  http: z
    .strictObject({
      http1MaxPendingRequests: nonNegativeInt32.optional(),
      http2MaxRequests: nonNegativeInt32.optional(),
      maxRequestsPerConnection: nonNegativeInt32.optional(),
      maxRetries: nonNegativeInt32.optional(),
      idleTimeout: duration.optional(),
      h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
      useClientProtocol: z.boolean().optional(),
      maxConcurrentStreams: nonNegativeInt32.optional(),
    })
    .optional(),
});
export type ConnectionPoolSettings = z.infer<typeof connectionPoolSettingsSchema>;

export const outlierDetectionSchema = z.strictObject({
  /** Deprecated; current istiod ignores it. */
  consecutiveErrors: int32.optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: uint32.optional(),
  consecutiveGatewayErrors: uint32.optional(),
  consecutive5xxErrors: uint32.optional(),
  interval: duration.optional(),
  baseEjectionTime: duration.optional(),
  maxEjectionPercent: int32.min(0, 'must be 0-100').max(100, 'must be 0-100').optional(),
  minHealthPercent: int32.min(0, 'must be 0-100').max(100, 'must be 0-100').optional(),
});
export type OutlierDetection = z.infer<typeof outlierDetectionSchema>;

export const clientTlsSettingsSchema = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: stringList.optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: z.string().optional(),
});
export type ClientTLSSettings = z.infer<typeof clientTlsSettingsSchema>;

const policyParts = {
  loadBalancer: loadBalancerSettingsSchema.optional(),
  connectionPool: connectionPoolSettingsSchema.optional(),
  outlierDetection: outlierDetectionSchema.optional(),
  tls: clientTlsSettingsSchema.optional(),
};

export const portTrafficPolicySchema = z.strictObject({
  port: portSelectorSchema.optional(),
  ...policyParts,
});
export type PortTrafficPolicy = z.infer<typeof portTrafficPolicySchema>;

export const trafficPolicySchema = z.strictObject({
  ...policyParts,
  portLevelSettings: z.array(portTrafficPolicySchema).optional(),
  tunnel: z
    .strictObject({
      protocol: z.string().optional(),
      targetHost: z.string(),
      targetPort: portNumber,
    })
    .optional(),
  proxyProtocol: z.strictObject({ version: z.enum(['V1', 'V2']).optional() }).optional(),
  retryBudget: z
    .strictObject({
      percent: percentSchema.optional(),
      minRetryConcurrency: uint32.optional(),
    })
    .optional(),
});
export type TrafficPolicy = z.infer<typeof trafficPolicySchema>;

export const subsetSchema = z.strictObject({
  name: z.string(),
  labels: stringMap.optional(),
  trafficPolicy: trafficPolicySchema.optional(),
});
export type Subset = z.infer<typeof subsetSchema>;

export const destinationRuleSpecSchema = z.strictObject({
  host: z.string(),
  trafficPolicy: trafficPolicySchema.optional(),
  subsets: z.array(subsetSchema).optional(),
  exportTo: stringList.optional(),
  workloadSelector: workloadSelectorSchema.optional(),
});
export type DestinationRuleSpec = z.infer<typeof destinationRuleSpecSchema>;
