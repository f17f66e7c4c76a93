// A cluster's resilience policies from the snapshot: outlier detection, circuit-breaker limits,
// retry budget, connect timeout. The counters behind the breaker and the budget belong to the
// cluster's name and outlive route tables (ClusterStates), like the outlier records: a
// snapshot swap neither resets a retry budget nor forgets requests in flight.

import type { Cluster, ConnectionPoolPolicy, OutlierPolicy as SnapshotOutlier } from '@weft/model';
import {
  createBreaker,
  limitsAnything,
  UNLIMITED,
  type ClusterBreaker,
  type PoolLimits,
} from '../circuit-breaker/index.js';
import { MAX_EJECTION_MS, type OutlierPolicy } from '../outlier/health-tracker.js';
import {
  createRetryBudget,
  DEFAULT_RETRY_BUDGET,
  type RetryBudget,
  type RetryBudgetConfig,
} from '../retry-budget/index.js';
import { at, CompileError } from '../routing/compile-error.js';

/** Per-cluster counters kept across snapshot swaps, keyed by cluster name. */
export interface ClusterStates {
  readonly budgetConfig: RetryBudgetConfig;
  budget(name: string): RetryBudget;
  breaker(name: string, limits: PoolLimits): ClusterBreaker;
  /** Forgets clusters not in `names` once nothing of theirs is in flight. */
  retain(names: ReadonlySet<string>): void;
}

export function createClusterStates(
  budgetConfig: RetryBudgetConfig = DEFAULT_RETRY_BUDGET,
): ClusterStates {
  const budgets = new Map<string, RetryBudget>();
  const breakers = new Map<string, ClusterBreaker>();
  return {
    budgetConfig,
    budget(name) {
      let b = budgets.get(name);
      if (b === undefined) budgets.set(name, (b = createRetryBudget(budgetConfig)));
      return b;
    },
    breaker(name, limits) {
      let b = breakers.get(name);
      if (b === undefined) breakers.set(name, (b = createBreaker(limits)));
      else b.limits = limits;
      return b;
    },
    retain(names) {
      for (const name of budgets.keys()) if (!names.has(name)) budgets.delete(name);
      for (const [name, b] of breakers) {
        if (!names.has(name) && b.active === 0 && b.queue.length === 0) breakers.delete(name);
      }
    },
  };
}

export interface CompiledClusterPolicy {
  readonly outlier: OutlierPolicy;
  /** Undefined when the cluster has no limits: the hot path skips the breaker. */
  readonly breaker: ClusterBreaker | undefined;
  readonly budget: RetryBudget;
  /** From connectionPool.tcp.connectTimeout; undefined = the proxy's default. */
  readonly connectTimeoutMs: number | undefined;
  /** 0 = unlimited; 1 = no keep-alive. */
  readonly maxRequestsPerConnection: number;
  /** Upstream idle connections close after this; undefined = the agent pool's default. */
  readonly idleTimeoutMs: number | undefined;
}

export function compileClusterPolicy(
  c: Cluster,
  defaultOutlier: OutlierPolicy,
  states: ClusterStates,
): CompiledClusterPolicy {
  const outlier =
    c.outlier === undefined ? defaultOutlier : at('outlier', () => compileOutlier(c.outlier!));
  const limits =
    c.pool === undefined && c.retryBudget === undefined
      ? UNLIMITED
      : at('pool', () => compileLimits(c.pool ?? {}, c.retryBudget));
  return {
    outlier,
    breaker: limitsAnything(limits) ? states.breaker(c.name, limits) : undefined,
    budget: states.budget(c.name),
    connectTimeoutMs: c.pool?.connectTimeoutMs,
    maxRequestsPerConnection: limits.maxRequestsPerConnection,
    idleTimeoutMs: c.pool?.idleTimeoutMs,
  };
}

function compileOutlier(o: SnapshotOutlier): OutlierPolicy {
  const count = (field: keyof SnapshotOutlier, v: number) => {
    if (!Number.isInteger(v) || v < 0)
      throw new CompileError(field, `${String(v)} must be an integer >= 0`);
    return v;
  };
  const ms = (field: keyof SnapshotOutlier, v: number) => {
    if (typeof v !== 'number' || !(v > 0))
      throw new CompileError(field, `${String(v)} must be a number > 0`);
    return v;
  };
  const percent = (field: keyof SnapshotOutlier, v: number) => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 100))
      throw new CompileError(field, `${String(v)} must be 0-100`);
    return v;
  };
  const baseEjectionMs = ms('baseEjectionMs', o.baseEjectionMs);
  return {
    // Connection failures count as 503s towards the streaks below (Envoy, no split).
    consecutiveConnectFailures: 0,
    consecutive5xx: count('consecutive5xxErrors', o.consecutive5xxErrors),
    consecutiveGateway: count('consecutiveGatewayErrors', o.consecutiveGatewayErrors),
    intervalMs: ms('intervalMs', o.intervalMs),
    baseEjectionMs,
    maxEjectionMs: Math.max(MAX_EJECTION_MS, baseEjectionMs),
    maxEjectionPercent: percent('maxEjectionPercent', o.maxEjectionPercent),
    minHealthPercent: percent('minHealthPercent', o.minHealthPercent),
  };
}

function compileLimits(p: ConnectionPoolPolicy, budget: Cluster['retryBudget']): PoolLimits {
  const limit = (field: keyof ConnectionPoolPolicy): number => {
    const v = p[field];
    if (v === undefined) return Infinity;
    if (!Number.isInteger(v) || v < 1)
      throw new CompileError(field, `${String(v)} must be an integer >= 1`);
    return v;
  };
  for (const f of ['connectTimeoutMs', 'idleTimeoutMs'] as const) {
    const v = p[f];
    if (v !== undefined && !(typeof v === 'number' && v > 0))
      throw new CompileError(f, `${String(v)} must be a number > 0`);
  }
  if (budget !== undefined) {
    if (!(budget.percent >= 0 && budget.percent <= 100))
      throw new CompileError('retryBudget.percent', `${String(budget.percent)} must be 0-100`);
    if (!Number.isInteger(budget.minRetryConcurrency) || budget.minRetryConcurrency < 0)
      throw new CompileError('retryBudget.minRetryConcurrency', 'must be an integer >= 0');
  }
  const perConnection = limit('maxRequestsPerConnection');
  return {
    maxConnections: limit('maxConnections'),
    maxPendingRequests: limit('maxPendingRequests'),
    maxRequests: limit('maxRequests'),
    maxRetries: limit('maxRetries'),
    maxRequestsPerConnection: perConnection === Infinity ? 0 : perConnection,
    retryBudget: budget,
  };
}
