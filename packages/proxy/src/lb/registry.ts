// LbPolicy (from the DestinationRule, via the snapshot) -> algorithm. Adding an algorithm is
// a new folder under lb/ plus one line here.

import type { LbPolicy } from '@weft/model';
import * as random from './random/index.js';
import * as roundRobin from './round-robin/index.js';
import type { EndpointState, LoadBalancer, LoadBalancerFactory } from './types.js';
import * as weightedRoundRobin from './weighted-round-robin/index.js';

export const algorithms = {
  [roundRobin.name]: roundRobin.createLoadBalancer,
  [random.name]: random.createLoadBalancer,
  [weightedRoundRobin.name]: weightedRoundRobin.createLoadBalancer,
} as const satisfies Record<string, LoadBalancerFactory>;

export type AlgorithmName = keyof typeof algorithms;

const byPolicy: Record<LbPolicy, AlgorithmName> = {
  ROUND_ROBIN: 'round-robin',
  RANDOM: 'random',
  // Until least-request (P2C) lands in its own folder, round robin is the closest
  // behaviour that needs no in-flight accounting.
  LEAST_REQUEST: 'round-robin',
  // The proxy has no original-destination forwarding yet; the endpoints are known.
  PASSTHROUGH: 'round-robin',
  // Until peak-EWMA P2C lands in its own folder.
  PEAK_EWMA: 'round-robin',
};

/** The algorithm a cluster uses: round robin becomes weighted when endpoint weights differ. */
export function algorithmFor(policy: LbPolicy, endpoints: readonly EndpointState[]): AlgorithmName {
  // The snapshot is data from the wire: a policy this build does not know must fail the
  // compile (and so NACK), not fall through to a prototype property.
  if (!Object.hasOwn(byPolicy, policy)) throw new Error(`unknown load balancer policy "${policy}"`);
  const base = byPolicy[policy];
  if (base === 'round-robin') {
    const w = endpoints[0]?.weight;
    if (endpoints.some((e) => e.weight !== w)) return 'weighted-round-robin';
  }
  return base;
}

export function createClusterLoadBalancer(
  policy: LbPolicy,
  endpoints: readonly EndpointState[],
): { algorithm: AlgorithmName; lb: LoadBalancer } {
  const algorithm = algorithmFor(policy, endpoints);
  return { algorithm, lb: algorithms[algorithm](endpoints) };
}
