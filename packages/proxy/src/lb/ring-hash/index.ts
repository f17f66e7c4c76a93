// Consistent hashing on a ring (Envoy's RING_HASH, Istio's `consistentHash.ringHash`, the
// default hash algorithm). Every endpoint puts points on a 32-bit ring (more points for more
// weight); a request goes to the owner of the first point at or after its hash. Adding a fifth
// endpoint to four moves only the keys that land on its new points: about a fifth of them.
//
// The ring is built once per snapshot compile (never per request). Sizing differs from Envoy's
// on purpose: Envoy spreads a ring of about minRingSize points over the endpoints, so adding
// one takes points away from all the others, and the keys on those points move between old
// endpoints too (4 -> 5 endpoints moves ~28% of keys instead of 20%). Here an endpoint's point
// count depends only on its weight: minRingSize / 2 points per unit of weight relative to the
// lightest endpoint, so two endpoints already fill minRingSize, and a new endpoint only adds
// points. Past 131,072 points (256 endpoints of equal weight; more if minRingSize asks) every
// count is scaled down to fit, which keeps a compile cheap and the ring near 1 MB.
// Point k of an endpoint is fmix32(murmur3(`address:port`) + k * 0x9e3779b9): pseudo-random,
// the same in every proxy (a key lands on the same endpoint whichever proxy it passes), and
// one multiply per point instead of a string hash.

import { fmix32, hashString } from '../hash.js';
import { requestHash, walkFrom } from '../consistent-hash.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory } from '../types.js';

export const name = 'ring-hash';

/** Istio's default `ringHash.minimumRingSize`. */
export const DEFAULT_MIN_RING_SIZE = 1024;
/** Envoy's default maximum_ring_size: the most minRingSize may ask for. */
export const MAX_RING_SIZE = 8_388_608;
/** Above this many points, point counts shrink (unless minRingSize is larger). */
const SOFT_MAX_POINTS = 131_072;

export interface Ring {
  /** Point hashes, ascending. */
  readonly hashes: Uint32Array;
  /** Endpoint index owning each point. */
  readonly owners: Uint32Array;
}

export function buildRing(
  endpoints: readonly EndpointState[],
  minRingSize = DEFAULT_MIN_RING_SIZE,
): Ring {
  const n = endpoints.length;
  if (n === 0) return { hashes: new Uint32Array(0), owners: new Uint32Array(0) };
  let total = 0;
  let minWeight = Infinity;
  for (const e of endpoints) {
    total += e.weight;
    minWeight = Math.min(minWeight, e.weight);
  }
  const perUnit = Math.ceil(minRingSize / 2);
  // Points per unit of weight, shrunk only when the ring would pass MAX_RING_SIZE.
  const maxPoints = Math.min(Math.max(SOFT_MAX_POINTS, minRingSize), MAX_RING_SIZE);
  const scale = Math.min(perUnit / minWeight, maxPoints / total);
  // Sort (hash, owner) pairs as one number: hash * 2^21 + owner stays below 2^53.
  const sorted = new Float64Array(Math.ceil(scale * total) + 1);
  let made = 0;
  let target = 0;
  for (let i = 0; i < n; i++) {
    const e = endpoints[i]!;
    const base = hashString(e.key);
    target += scale * e.weight;
    for (let k = 0; made < target; k++, made++) {
      sorted[made] = fmix32((base + Math.imul(k, 0x9e3779b9)) | 0) * 0x20_0000 + i;
    }
  }
  sorted.subarray(0, made).sort();
  const hashes = new Uint32Array(made);
  const owners = new Uint32Array(made);
  for (let i = 0; i < made; i++) {
    const v = sorted[i]!;
    const owner = v % 0x20_0000;
    owners[i] = owner;
    hashes[i] = (v - owner) / 0x20_0000;
  }
  return { hashes, owners };
}

/** Index of the first point at or after `h`, wrapping to 0 past the last. */
export function ringIndex(hashes: Uint32Array, h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts = {},
): LoadBalancer => {
  const { hashes, owners } = buildRing(endpoints, opts.hash?.minRingSize);
  return {
    pick(ctx) {
      if (hashes.length === 0) return undefined;
      return walkFrom(owners, ringIndex(hashes, requestHash(ctx)), endpoints, ctx);
    },
  };
};
