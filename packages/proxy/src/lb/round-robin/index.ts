// Round robin over the eligible endpoints. The cursor moves to just after the endpoint it
// picked, not by one, so an ejected endpoint's share is spread over all the others instead
// of landing on its successor.

import { isEligible, nextTier, TIER_COUNT } from '../eligibility.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory, PickContext } from '../types.js';

export const name = 'round-robin';

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
): LoadBalancer => {
  const n = endpoints.length;
  // Negative until the first pick, which starts at a random place: proxies that all start
  // at index 0 would send their first requests to the same endpoint after every swap.
  let cursor = -1;
  return {
    pick(ctx: PickContext) {
      if (n === 0) return undefined;
      if (cursor < 0) cursor = Math.floor(ctx.random() * n) % n;
      for (let tier = 0; tier < TIER_COUNT; tier = nextTier(tier, ctx)) {
        for (let i = 0; i < n; i++) {
          const idx = (cursor + i) % n;
          const e = endpoints[idx]!;
          if (isEligible(e, tier, ctx)) {
            cursor = (idx + 1) % n;
            return e;
          }
        }
      }
      return undefined;
    },
  };
};
