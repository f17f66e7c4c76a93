// Smooth weighted round robin (nginx's algorithm): every pick adds each eligible endpoint's
// weight to its running score, takes the highest score and subtracts the total from it.
// Picks interleave (weights 5,1,1 give a a b a c a a, not a a a a a b c), it needs no random
// numbers, and an ineligible endpoint simply stops scoring, so ejection needs no rebuild.
// O(endpoints) per pick, which is fine at mesh cluster sizes; EDF would be O(log n).
// Weights are read at each pick, which is how slow start (warmup) ramps a new endpoint up:
// round robin with a warm-up window runs here, scaling each weight by its warm-up factor.

import { isEligible, nextTier, TIER_COUNT } from '../eligibility.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory, PickContext } from '../types.js';
import { warmupFactor, warmUntil } from '../warmup.js';

export const name = 'weighted-round-robin';

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts = {},
): LoadBalancer => {
  const n = endpoints.length;
  const score = new Float64Array(n);
  const warmupMs = opts.warmupMs ?? 0;
  const warmEnd = warmUntil(endpoints, warmupMs);
  return {
    pick(ctx: PickContext) {
      const warming = ctx.now < warmEnd;
      for (let tier = 0; tier < TIER_COUNT; tier = nextTier(tier, ctx)) {
        let total = 0;
        let best = -1;
        for (let i = 0; i < n; i++) {
          const e = endpoints[i]!;
          if (!isEligible(e, tier, ctx)) continue;
          const w = warming ? e.weight * warmupFactor(e, ctx.now, warmupMs) : e.weight;
          score[i]! += w;
          total += w;
          if (best < 0 || score[i]! > score[best]!) best = i;
        }
        if (best >= 0) {
          score[best]! -= total;
          return endpoints[best];
        }
      }
      return undefined;
    },
  };
};
