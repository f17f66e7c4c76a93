// Which endpoints an algorithm may choose, in falling order of preference. Every algorithm
// walks the same tiers so that health, ejection, panic and "fresh endpoint per retry" mean
// the same thing whichever algorithm a cluster uses:
//   0. healthy, not ejected, not yet tried by this request
//   1. healthy, not ejected (a retry may go back to a host it tried when it is the only one)
//   2. healthy, not yet tried, ejected: panic mode. When every endpoint is ejected the
//      proxy uses them all, as Envoy does below its panic threshold, because a stale
//      ejection must not turn a recovered service into a guaranteed 503.
//   3. healthy
// Endpoints that reported themselves unhealthy are never chosen.

import type { EndpointState, PickContext } from './types.js';

export const TIER_COUNT = 4;

export function isEligible(e: EndpointState, tier: number, ctx: PickContext): boolean {
  if (!e.healthy) return false;
  if (tier < 2 && ctx.now < e.outlier.ejectedUntil && ctx.ignoreEjection !== true) return false;
  if ((tier === 0 || tier === 2) && ctx.skip !== undefined && ctx.skip(e)) return false;
  return true;
}

/** Tiers worth trying: without `skip`, tiers 1 and 3 repeat tiers 0 and 2. */
export function nextTier(tier: number, ctx: PickContext): number {
  return ctx.skip === undefined ? tier + 2 : tier + 1;
}
