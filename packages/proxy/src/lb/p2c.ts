// Power of two choices: draw two different eligible endpoints at random and take the one with
// the lower cost. It needs no global view and no sorting, avoids the herd that "always the
// least loaded" causes when many proxies act on the same stale numbers, and gets most of the
// benefit of looking at everything (Mitzenmacher). Used by least-request and peak-EWMA.
//
// Draws are uniform, or proportional to endpoint weight when weights differ; a tie goes to
// the first draw, so with equal costs the picks spread as the draws do (by weight).

import { isEligible, nextTier, TIER_COUNT } from './eligibility.js';
import type { EndpointState, PickContext } from './types.js';

export type CostFn = (e: EndpointState, now: number) => number;

export function createP2CPicker(
  endpoints: readonly EndpointState[],
  cost: CostFn,
): (ctx: PickContext) => EndpointState | undefined {
  const n = endpoints.length;
  const first = endpoints[0];
  const uniform = first === undefined || endpoints.every((e) => e.weight === first.weight);
  // Cumulative weights for drawing by weight in O(log n) when every endpoint is eligible.
  const bounds = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += endpoints[i]!.weight;
    bounds[i] = total;
  }

  function better(a: EndpointState, b: EndpointState, now: number): EndpointState {
    return cost(b, now) < cost(a, now) ? b : a;
  }

  /** An index drawn by weight; with `not` >= 0, from the others only (exactly, no re-draws). */
  function drawByWeight(random: () => number, not: number): number {
    let r: number;
    if (not < 0) {
      r = random() * total;
    } else {
      const w = endpoints[not]!.weight;
      r = random() * (total - w);
      // Skip over the excluded endpoint's span of the cumulative weights.
      if (r >= bounds[not]! - w) r += w;
    }
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r < bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Both draws among all endpoints; undefined when one of them is not eligible. */
  function fast(ctx: PickContext, tier: number): EndpointState | undefined {
    let i: number;
    let j: number;
    if (uniform) {
      i = Math.floor(ctx.random() * n) % n;
      j = Math.floor(ctx.random() * (n - 1)) % (n - 1);
      if (j >= i) j++;
    } else {
      i = drawByWeight(ctx.random, -1);
      j = drawByWeight(ctx.random, i);
      // Only floating-point rounding at the very end of the range can give i again.
      if (j === i) return undefined;
    }
    const a = endpoints[i]!;
    const b = endpoints[j]!;
    if (!isEligible(a, tier, ctx) || !isEligible(b, tier, ctx)) return undefined;
    return better(a, b, ctx.now);
  }

  /** Both draws among the eligible endpoints only: O(n), when the fast path missed. */
  function slow(ctx: PickContext, tier: number): EndpointState | undefined {
    let count = 0;
    let weight = 0;
    let only: EndpointState | undefined;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i]!;
      if (isEligible(e, tier, ctx)) {
        count++;
        weight += e.weight;
        only = e;
      }
    }
    if (count <= 1) return only;
    const a = drawEligible(ctx, tier, undefined, uniform ? count : weight);
    const b = drawEligible(ctx, tier, a, uniform ? count - 1 : weight - a.weight);
    return better(a, b, ctx.now);
  }

  /** One eligible endpoint other than `not`, uniformly or by weight (`span` = count or weight). */
  function drawEligible(
    ctx: PickContext,
    tier: number,
    not: EndpointState | undefined,
    span: number,
  ): EndpointState {
    let r = uniform ? Math.floor(ctx.random() * span) % span : ctx.random() * span;
    let last: EndpointState | undefined;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i]!;
      if (e === not || !isEligible(e, tier, ctx)) continue;
      last = e;
      r -= uniform ? 1 : e.weight;
      if (r < 0) return e;
    }
    // Floating-point rounding can leave r a hair above zero.
    return last!;
  }

  return (ctx) => {
    if (n === 0) return undefined;
    for (let tier = 0; tier < TIER_COUNT; tier = nextTier(tier, ctx)) {
      const e = (n > 1 ? fast(ctx, tier) : undefined) ?? slow(ctx, tier);
      if (e !== undefined) return e;
    }
    return undefined;
  };
}
