// One interface for every load-balancing algorithm. An algorithm sees the endpoints of one
// cluster as compiled from one snapshot; health comes from the shared outlier records, so an
// algorithm never needs to be rebuilt when an endpoint is ejected or returns.

import type { OutlierRecord } from '../outlier/health-tracker.js';

export interface EndpointState {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** `address:port`: the key for outlier records and connection pools. */
  readonly key: string;
  readonly weight: number;
  /** What the instance itself reported (its app's probe). Never picked when false. */
  readonly healthy: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** Shared across route tables; the outlier tracker mutates it. */
  readonly outlier: OutlierRecord;
}

export interface PickContext {
  random: () => number;
  now: number;
  /** Endpoints to avoid when others are available (already tried by this request). */
  skip?: ((e: EndpointState) => boolean) | undefined;
}

export interface LoadBalancer {
  pick(ctx: PickContext): EndpointState | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- room for per-algorithm knobs (e.g. least-request choice count)
export interface LoadBalancerOptions {}

export type LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts?: LoadBalancerOptions,
) => LoadBalancer;
