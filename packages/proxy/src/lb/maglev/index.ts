// Maglev consistent hashing (Google's Maglev paper; Envoy's MAGLEV, Istio's
// `consistentHash.maglev`). A lookup table of a prime size M (default 65537) is filled by
// letting each endpoint, in turn, claim the next free slot of its own pseudo-random
// permutation of the slots; weights decide how often an endpoint gets a turn (Envoy's
// weighted variant). Every endpoint ends up with an almost exactly proportional share of
// slots, and a change in the endpoint set moves about 1/N of keys. Lookup is one modulo.
//
// The table is built once per snapshot compile; the permutation of an endpoint comes from
// murmur3 of its `address:port` with two seeds (offset and skip), so all proxies agree.

import { hashString } from '../hash.js';
import { requestHash, walkFrom } from '../consistent-hash.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory } from '../types.js';

export const name = 'maglev';

/** Istio's and Envoy's default `maglev.tableSize`. */
export const DEFAULT_TABLE_SIZE = 65_537;
/** Istio's documented limit. */
export const MAX_TABLE_SIZE = 5_000_011;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Endpoint index per slot. */
export function buildMaglevTable(
  endpoints: readonly EndpointState[],
  size = DEFAULT_TABLE_SIZE,
): Uint32Array {
  const n = endpoints.length;
  if (n === 0) return new Uint32Array(0);
  if (!isPrime(size)) throw new Error(`maglev table size ${size} is not a prime number`);
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const target = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const e = endpoints[i]!;
    offset[i] = hashString(e.key, 0) % size;
    skip[i] = (hashString(e.key, 1) % (size - 1)) + 1;
    maxWeight = Math.max(maxWeight, e.weight);
  }
  const table = new Uint32Array(size);
  const filled = new Uint8Array(size);
  let count = 0;
  // Envoy's weighted fill: the heaviest endpoint takes a slot every round, one of a third of
  // its weight every third round.
  for (let round = 1; count < size; round++) {
    for (let i = 0; i < n && count < size; i++) {
      if (round * endpoints[i]!.weight < target[i]!) continue;
      target[i]! += maxWeight;
      // offset + skip * next < 5e6 * 5e6: exact in a double.
      let c = (offset[i]! + skip[i]! * next[i]!) % size;
      while (filled[c] === 1) {
        next[i]!++;
        c = (offset[i]! + skip[i]! * next[i]!) % size;
      }
      filled[c] = 1;
      table[c] = i;
      next[i]!++;
      count++;
    }
  }
  return table;
}

export const createLoadBalancer: LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts = {},
): LoadBalancer => {
  const table = buildMaglevTable(endpoints, opts.hash?.tableSize);
  const size = table.length;
  return {
    pick(ctx) {
      if (size === 0) return undefined;
      return walkFrom(table, requestHash(ctx) % size, endpoints, ctx);
    },
  };
};
