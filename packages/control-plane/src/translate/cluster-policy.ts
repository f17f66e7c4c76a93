// DestinationRule connectionPool, outlierDetection and retryBudget -> the snapshot's cluster
// policies. Istio merges traffic policies per component: a subset's `outlierDetection` (or
// `connectionPool`, `retryBudget`) replaces the top-level one whole, never field by field.
// Defaults are filled in here so the proxy and golden files see the values that apply.

import {
  parseDurationMs,
  type Cluster,
  type ConnectionPoolPolicy,
  type OutlierPolicy,
} from '@weft/model';
import type { TrafficPolicyIn } from './input.js';

type ClusterPolicies = Pick<Cluster, 'outlier' | 'pool' | 'retryBudget'>;

/** Istio's outlierDetection defaults (destination_rule.proto). */
const OUTLIER_DEFAULTS: OutlierPolicy = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
};

export function clusterPoliciesOf(...policies: (TrafficPolicyIn | undefined)[]): ClusterPolicies {
  const out: ClusterPolicies = {};
  const od = policies.find((p) => p?.outlierDetection !== undefined)?.outlierDetection;
  if (od !== undefined) out.outlier = outlierOf(od);
  const cp = policies.find((p) => p?.connectionPool !== undefined)?.connectionPool;
  const pool = cp === undefined ? undefined : poolOf(cp);
  if (pool !== undefined) out.pool = pool;
  const rb = policies.find((p) => p?.retryBudget !== undefined)?.retryBudget;
  if (rb !== undefined) {
    // Istio's defaults: 20 % of active requests, at least 3 concurrent retries.
    out.retryBudget = {
      percent: rb.percent?.value ?? 20,
      minRetryConcurrency: rb.minRetryConcurrency ?? 3,
    };
  }
  return out;
}

function outlierOf(od: NonNullable<TrafficPolicyIn['outlierDetection']>): OutlierPolicy {
  const d = OUTLIER_DEFAULTS;
  return {
    consecutive5xxErrors: od.consecutive5xxErrors ?? d.consecutive5xxErrors,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? d.consecutiveGatewayErrors,
    intervalMs: positiveMs(od.interval) ?? d.intervalMs,
    baseEjectionMs: positiveMs(od.baseEjectionTime) ?? d.baseEjectionMs,
    maxEjectionPercent: od.maxEjectionPercent ?? d.maxEjectionPercent,
    minHealthPercent: od.minHealthPercent ?? d.minHealthPercent,
  };
}

function poolOf(
  cp: NonNullable<TrafficPolicyIn['connectionPool']>,
): ConnectionPoolPolicy | undefined {
  const out: ConnectionPoolPolicy = {};
  // Protobuf cannot tell 0 from unset, and Istio reads both as "the default" (unlimited).
  const limit = (key: keyof ConnectionPoolPolicy, n: number | undefined) => {
    if (n !== undefined && n > 0) out[key] = n;
  };
  limit('maxConnections', cp.tcp?.maxConnections);
  limit('maxPendingRequests', cp.http?.http1MaxPendingRequests);
  limit('maxRequests', cp.http?.http2MaxRequests);
  limit('maxRequestsPerConnection', cp.http?.maxRequestsPerConnection);
  limit('maxRetries', cp.http?.maxRetries);
  limit('connectTimeoutMs', positiveMs(cp.tcp?.connectTimeout));
  limit('idleTimeoutMs', positiveMs(cp.http?.idleTimeout ?? cp.tcp?.idleTimeout));
  return Object.keys(out).length > 0 ? out : undefined;
}

function positiveMs(d: string | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ms = parseDurationMs(d);
  return ms !== undefined && ms > 0 ? ms : undefined;
}
