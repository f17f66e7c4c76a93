// Circuit breaking (Envoy's per-cluster thresholds, from a DestinationRule's connectionPool):
// counters shared by every request to a cluster, and the decision for each try. Over a limit,
// the request is refused at once (503 UO), never made to wait beyond the pending queue.
//
// Node's HTTP/1.1 client carries one request per connection at a time, so the connections a
// cluster has busy are its tries in flight: `maxConnections` limits those, and a try that
// would need one more connection waits in the pending queue (http1MaxPendingRequests) until
// one is free. `maxRequests` (http2MaxRequests) limits tries in flight plus waiting, as
// Envoy's max_requests does for HTTP/1.1 too. Idle keep-alive sockets are not counted.
//
// No clock, no I/O: the caller owns the waiters and runs the one `admitNext` hands back.

export interface PoolLimits {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  /** Concurrent retries (http.maxRetries), used when there is no retry budget. */
  readonly maxRetries: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  /** DestinationRule retryBudget (Envoy's): retries in flight <= percent of active requests. */
  readonly retryBudget:
    { readonly percent: number; readonly minRetryConcurrency: number } | undefined;
}

export const UNLIMITED: PoolLimits = {
  maxConnections: Infinity,
  maxPendingRequests: Infinity,
  maxRequests: Infinity,
  maxRetries: Infinity,
  maxRequestsPerConnection: 0,
  retryBudget: undefined,
};

export type OverflowKind = 'requests' | 'pending' | 'retries';

export interface Waiter {
  /** Runs once the waiter holds a connection slot. */
  admitted(): void;
}

export interface ClusterBreaker {
  /** Replaced when a new snapshot changes the cluster's limits; the counts carry on. */
  limits: PoolLimits;
  /** Tries in flight (busy connections). */
  active: number;
  /** Retries in flight. */
  retries: number;
  readonly queue: Waiter[];
  /** Refusals so far, by limit: what `weft_upstream_overflow_total` would report. */
  readonly overflows: Record<OverflowKind, number>;
}

export type Admission = 'go' | 'queued' | OverflowKind;

export function createBreaker(limits: PoolLimits = UNLIMITED): ClusterBreaker {
  return {
    limits,
    active: 0,
    retries: 0,
    queue: [],
    overflows: { requests: 0, pending: 0, retries: 0 },
  };
}

/** Whether `limits` limit anything; a cluster without limits skips the breaker entirely. */
export function limitsAnything(l: PoolLimits): boolean {
  return (
    l.maxConnections !== Infinity ||
    l.maxPendingRequests !== Infinity ||
    l.maxRequests !== Infinity ||
    l.maxRetries !== Infinity ||
    l.retryBudget !== undefined
  );
}

/** Asks for a slot for one try: go (slot taken), queued (`w` waits), or the limit hit. */
export function admit(b: ClusterBreaker, w: Waiter): Admission {
  const l = b.limits;
  if (b.active + b.queue.length >= l.maxRequests) return overflow(b, 'requests');
  if (b.active < l.maxConnections) {
    b.active++;
    return 'go';
  }
  if (b.queue.length >= l.maxPendingRequests) return overflow(b, 'pending');
  b.queue.push(w);
  return 'queued';
}

/** A try is over: its slot goes to the first waiter, if any (returned; the caller runs it). */
export function release(b: ClusterBreaker): Waiter | undefined {
  if (b.active > 0) b.active--;
  return admitNext(b);
}

export function admitNext(b: ClusterBreaker): Waiter | undefined {
  if (b.queue.length === 0 || b.active >= b.limits.maxConnections) return undefined;
  b.active++;
  return b.queue.shift();
}

/** A waiter gave up (timeout, client gone): it leaves the queue. */
export function cancel(b: ClusterBreaker, w: Waiter): void {
  const i = b.queue.indexOf(w);
  if (i >= 0) b.queue.splice(i, 1);
}

/** Asks to start one retry; false (and an overflow counted) when retries are at their limit. */
export function admitRetry(b: ClusterBreaker): boolean {
  const l = b.limits;
  const max =
    l.retryBudget === undefined
      ? l.maxRetries
      : Math.max(
          l.retryBudget.minRetryConcurrency,
          Math.floor((l.retryBudget.percent / 100) * (b.active + b.queue.length)),
        );
  if (b.retries >= max) {
    overflow(b, 'retries');
    return false;
  }
  b.retries++;
  return true;
}

export function releaseRetry(b: ClusterBreaker): void {
  if (b.retries > 0) b.retries--;
}

function overflow(b: ClusterBreaker, kind: OverflowKind): OverflowKind {
  b.overflows[kind]++;
  return kind;
}
