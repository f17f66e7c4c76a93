// Weft's default: power of two choices over a latency-aware cost, as Linkerd balances.
//   cost = peak-EWMA latency estimate * (requests in flight + 1)
// i.e. roughly how long a new request would wait behind the ones already there. The estimate
// (endpoint-load.ts) starts at 30 ms, learns from an endpoint's first answers by count, then
// jumps up to a slower response at once and falls back over ~10 s, so one slow or failing
// instance loses its share within a few requests and regains it gradually; an endpoint left
// alone decays towards zero cost and is probed again. Unlike least-request it
// sees an instance that is slow but not (yet) busy, which is the usual shape of a bad replica.
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
 * Floor of the estimate (ms): with a zero estimate the in-flight term would not count, and a
 * 1 ms clock reports sub-millisecond responses as 0.
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

export function loadCost(e: EndpointState, now: number): number {
  return Math.max(latencyEstimate(e.load, now), MIN_LATENCY_MS) * (e.load.active + 1);
}
