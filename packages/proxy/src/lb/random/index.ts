// Random choice, weighted by endpoint weight. With equal weights the common case costs one
// random number: try a random index and only count the eligible endpoints when it misses
// (which keeps the choice uniform: a miss re-draws among the eligible ones).

import { isEligible, nextTier, TIER_COUNT } from '../eligibility.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory, PickContext } from '../types.js';

export const name = 'random';

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
): LoadBalancer => {
  const n = endpoints.length;
  const first = endpoints[0];
  const uniform = first === undefined || endpoints.every((e) => e.weight === first.weight);

  function pickUniform(ctx: PickContext, tier: number): EndpointState | undefined {
    const guess = endpoints[Math.floor(ctx.random() * n) % n]!;
    if (isEligible(guess, tier, ctx)) return guess;
    let count = 0;
    for (let i = 0; i < n; i++) if (isEligible(endpoints[i]!, tier, ctx)) count++;
    if (count === 0) return undefined;
    let k = Math.floor(ctx.random() * count) % count;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i]!;
      if (isEligible(e, tier, ctx) && k-- === 0) return e;
    }
    return undefined;
  }

  function pickWeighted(ctx: PickContext, tier: number): EndpointState | undefined {
    let total = 0;
    let last: EndpointState | undefined;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i]!;
      if (isEligible(e, tier, ctx)) {
        total += e.weight;
        last = e;
      }
    }
    if (last === undefined) return undefined;
    let r = ctx.random() * total;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i]!;
      if (isEligible(e, tier, ctx)) {
        r -= e.weight;
        if (r < 0) return e;
      }
    }
    // Floating-point rounding can leave r at a hair above zero.
    return last;
  }

  return {
    pick(ctx) {
      if (n === 0) return undefined;
      for (let tier = 0; tier < TIER_COUNT; tier = nextTier(tier, ctx)) {
        const e = uniform ? pickUniform(ctx, tier) : pickWeighted(ctx, tier);
        if (e) return e;
      }
      return undefined;
    },
  };
};
