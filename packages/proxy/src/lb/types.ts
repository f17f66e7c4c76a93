// One interface for every load-balancing algorithm. An algorithm sees the endpoints of one
// cluster as compiled from one snapshot; health comes from the shared outlier records, so an
// algorithm never needs to be rebuilt when an endpoint is ejected or returns.

import type { ConsistentHash } from '@weft/model';
import type { OutlierRecord } from '../outlier/health-tracker.js';
import type { EndpointLoad } from './endpoint-load.js';

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
  /** Set when calls to it go over mutual TLS: the SPIFFE ID its certificate must carry. */
  readonly tlsIdentity?: string | undefined;
  /** Shared across route tables; the outlier tracker mutates it. */
  readonly outlier: OutlierRecord;
  /** In-flight count, latency estimate, first-seen time; shared like `outlier`. */
  readonly load: EndpointLoad;
}

export interface PickContext {
  random: () => number;
  now: number;
  /** Endpoints to avoid when others are available (already tried by this request). */
  skip?: ((e: EndpointState) => boolean) | undefined;
  /**
   * The request's hash (a uint32) for consistent-hash clusters; undefined when the request
   * carries no key, and for every other cluster. Other algorithms ignore it.
   */
  hash?: number | undefined;
  /** Panic mode (outlier minHealthPercent): ejected endpoints count as in rotation. */
  ignoreEjection?: boolean | undefined;
}

export interface LoadBalancer {
  pick(ctx: PickContext): EndpointState | undefined;
}

export interface LoadBalancerOptions {
  /** Slow start window (ms): round robin, least request and peak-EWMA honour it. */
  warmupMs?: number | undefined;
  /** Ring size / table size for the consistent-hash algorithms. */
  hash?: ConsistentHash | undefined;
}

export type LoadBalancerFactory = (
  endpoints: readonly EndpointState[],
  opts?: LoadBalancerOptions,
) => LoadBalancer;
