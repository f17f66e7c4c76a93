// Envoy's LEAST_REQUEST (Istio's default `simple` policy). With equal weights: power of two
// choices over the requests each endpoint has in flight. When weights differ, or while an
// endpoint warms up, Envoy's weighted form: each endpoint's effective weight is
//   weight * warmup / (active + 1) ^ bias,   bias 1.0 (Envoy's default active_request_bias)
// and picks follow those weights (smooth weighted round robin here, where Envoy uses an EDF
// scheduler: the same shares, with weights read at each pick so load shows at once).

import { isEligible, nextTier, TIER_COUNT } from '../eligibility.js';
import { createP2CPicker } from '../p2c.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory, PickContext } from '../types.js';
import { warmupFactor, warmUntil } from '../warmup.js';

export const name = 'least-request';

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts = {},
): LoadBalancer => {
  const n = endpoints.length;
  const warmupMs = opts.warmupMs ?? 0;
  const warmEnd = warmUntil(endpoints, warmupMs);
  const first = endpoints[0];
  const uniform = first === undefined || endpoints.every((e) => e.weight === first.weight);
  const p2c = createP2CPicker(endpoints, (e) => e.load.active);
  const score = new Float64Array(n);

  function pickWeighted(ctx: PickContext): EndpointState | undefined {
    const now = ctx.now;
    for (let tier = 0; tier < TIER_COUNT; tier = nextTier(tier, ctx)) {
      let total = 0;
      let best = -1;
      for (let i = 0; i < n; i++) {
        const e = endpoints[i]!;
        if (!isEligible(e, tier, ctx)) continue;
        const w = (e.weight * warmupFactor(e, now, warmupMs)) / (e.load.active + 1);
        score[i]! += w;
        total += w;
        if (best < 0 || score[best]! < score[i]!) best = i;
      }
      if (best >= 0) {
        score[best]! -= total;
        return endpoints[best];
      }
    }
    return undefined;
  }

  return {
    pick(ctx) {
      return uniform && ctx.now >= warmEnd ? p2c(ctx) : pickWeighted(ctx);
    },
  };
};
