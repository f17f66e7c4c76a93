// What ring hash and Maglev share: the request's hash, and the walk from the slot a hash lands
// on to the first endpoint that may take the request. Walking (instead of rebuilding the
// table without the endpoint) keeps everyone else's keys where they are when one endpoint is
// ejected or reports itself unhealthy, and needs nothing rebuilt when it comes back.

import { isEligible, nextTier, TIER_COUNT } from './eligibility.js';
import type { EndpointState, PickContext } from './types.js';

/** The request's hash; a request without a key goes to a random slot, as in Envoy. */
export function requestHash(ctx: PickContext): number {
  return ctx.hash ?? Math.floor(ctx.random() * 0x1_0000_0000) >>> 0;
}

/**
 * The endpoint at `owners[start]`, or the first eligible one after it (wrapping), trying the
 * eligibility tiers in order. `owners` holds endpoint indices.
 */
export function walkFrom(
  owners: Uint32Array,
  start: number,
  endpoints: readonly EndpointState[],
  ctx: PickContext,
): EndpointState | undefined {
  const len = owners.length;
  if (len === 0) return undefined;
  for (let tier = 0; tier < TIER_COUNT; tier = nextTier(tier, ctx)) {
    // The common case: the endpoint the key maps to is fine.
    const home = endpoints[owners[start]!]!;
    if (isEligible(home, tier, ctx)) return home;
    // Only walk a whole table when someone at this tier can be found.
    if (!endpoints.some((e) => isEligible(e, tier, ctx))) continue;
    for (let k = 1; k < len; k++) {
      const idx = start + k < len ? start + k : start + k - len;
      const e = endpoints[owners[idx]!]!;
      if (isEligible(e, tier, ctx)) return e;
    }
  }
  return undefined;
}
