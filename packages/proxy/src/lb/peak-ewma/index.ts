// Weft's default: power of two choices over a latency-aware cost, in the manner of Linkerd's
// peak-EWMA balancer:
//   cost = estimate × (1 + (requests in flight + 1 − usual in flight) × INFLIGHT_PRICE)
// i.e. the endpoint's latency at its usual load (endpoint-load.ts), plus half of it for each
// request it holds above that load (less below). Linkerd's cost, estimate × (in flight +
// 1), prices every request in flight as one more whole round trip, as if each server worked on
// one request at a time: an instance with a few workers holding 7 requests then looks 8 times
// its latency, and an idle instance four times slower wins the pair and queues (2.88x p99
// against round robin in the model where this gets 3.3x, docs/performance.md). An endpoint
// holding more than two requests fewer than usual is priced at the floor: it is the place to
// go, and two such tie (the first draw wins). As in Linkerd, a much slower answer counts at
// once (half of it: one slow or failing instance loses its share within a few requests), the
// estimate starts at 30 ms, and one left alone decays towards zero and is tried again. Unlike
// least-request it sees an instance that is slow but not (yet) busy, which is the usual shape
// of a bad replica.
//
// Draws follow endpoint weights when they differ. Slow start divides the cost by the warm-up
// factor (Istio defines warm-up for ROUND_ROBIN and LEAST_REQUEST only; Weft honours it for its
// default too, since leaving `simple` unset is how a user gets this algorithm).

import { latencyEstimate } from '../endpoint-load.js';
import { createP2CPicker } from '../p2c.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory } from '../types.js';
import { warmupFactor } from '../warmup.js';

export const name = 'peak-ewma';

/**
 * Floor of the cost (ms): a 1 ms clock reports sub-millisecond responses as 0, and two endpoints
 * priced 0 would tie whatever their load.
 */
const MIN_LATENCY_MS = 0.01;

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts = {},
): LoadBalancer => {
  const warmupMs = opts.warmupMs ?? 0;
  const cost =
    warmupMs > 0
      ? (e: EndpointState, now: number) => loadCost(e, now) / warmupFactor(e, now, warmupMs)
      : loadCost;
  return { pick: createP2CPicker(endpoints, cost) };
};

/**
 * What one request in flight above (or below) an endpoint's usual count adds to (or takes
 * from) its cost, as a share of its latency estimate; Linkerd's cost amounts to 1 per request
 * counted from zero. Chosen on the model (bench/lb-sim.mjs, docs/performance.md, 4-worker
 * instances with jitter): 0 lets equal instances drift apart and queue (0.60-0.79x round
 * robin's p99), 0.1 still costs 5 % of throughput at 8 clients; from 0.5 equal instances get
 * round robin's figures; 1 keeps that and the 3x on one slow instance short of capacity, but
 * halves the gain with a slow instance that is not (1.29x against 1.79x at 4 clients).
 */
export const INFLIGHT_PRICE = 0.5;

export function loadCost(e: EndpointState, now: number): number {
  const load = e.load;
  const above = load.active + 1 - load.inflightMean;
  return Math.max(latencyEstimate(load, now) * (1 + above * INFLIGHT_PRICE), MIN_LATENCY_MS);
}
