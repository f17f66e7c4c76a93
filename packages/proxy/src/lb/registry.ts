// LbPolicy (from the DestinationRule, via the snapshot) -> algorithm. Adding an algorithm is
// a new folder under lb/ plus one line here.

import type { ConsistentHash, LbPolicy } from '@weft/model';
import * as leastRequest from './least-request/index.js';
import * as maglev from './maglev/index.js';
import * as peakEwma from './peak-ewma/index.js';
import * as random from './random/index.js';
import * as ringHash from './ring-hash/index.js';
import * as roundRobin from './round-robin/index.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory } from './types.js';
import * as weightedRoundRobin from './weighted-round-robin/index.js';

export const algorithms = {
  [roundRobin.name]: roundRobin.createLoadBalancer,
  [random.name]: random.createLoadBalancer,
  [weightedRoundRobin.name]: weightedRoundRobin.createLoadBalancer,
  [leastRequest.name]: leastRequest.createLoadBalancer,
  [peakEwma.name]: peakEwma.createLoadBalancer,
  [ringHash.name]: ringHash.createLoadBalancer,
  [maglev.name]: maglev.createLoadBalancer,
} as const satisfies Record<string, LoadBalancerFactory>;

export type AlgorithmName = keyof typeof algorithms;

const byPolicy: Record<LbPolicy, AlgorithmName> = {
  ROUND_ROBIN: 'round-robin',
  RANDOM: 'random',
  LEAST_REQUEST: 'least-request',
  // The proxy has no original-destination forwarding: it balances over the service's known
  // endpoints instead (validation warns about it).
  PASSTHROUGH: 'round-robin',
  PEAK_EWMA: 'peak-ewma',
};

export interface ClusterLbOptions {
  /** Consistent hashing replaces the policy. */
  hash?: ConsistentHash | undefined;
  warmupMs?: number | undefined;
}

/**
 * The algorithm a cluster uses: consistent hashing when asked for; round robin becomes
 * weighted when endpoint weights differ or a warm-up window is set (warm-up varies weights).
 */
export function algorithmFor(
  policy: LbPolicy,
  endpoints: readonly EndpointState[],
  opts: ClusterLbOptions = {},
): AlgorithmName {
  // The snapshot is data from the wire: a policy this build does not know must fail the
  // compile (and so NACK), not fall through to a prototype property.
  if (!Object.hasOwn(byPolicy, policy)) throw new Error(`unknown load balancer policy "${policy}"`);
  if (opts.hash !== undefined) return opts.hash.algorithm === 'MAGLEV' ? 'maglev' : 'ring-hash';
  const base = byPolicy[policy];
  if (base === 'round-robin') {
    if ((opts.warmupMs ?? 0) > 0) return 'weighted-round-robin';
    const w = endpoints[0]?.weight;
    if (endpoints.some((e) => e.weight !== w)) return 'weighted-round-robin';
  }
  return base;
}

export function createClusterLoadBalancer(
  policy: LbPolicy,
  endpoints: readonly EndpointState[],
  opts: ClusterLbOptions = {},
): { algorithm: AlgorithmName; lb: LoadBalancer } {
  const algorithm = algorithmFor(policy, endpoints, opts);
  return { algorithm, lb: algorithms[algorithm](endpoints, opts) };
}
