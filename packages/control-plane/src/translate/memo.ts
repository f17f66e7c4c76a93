// Incremental translate. A control plane re-translates on every store revision; with a large
// registry most services did not change, so their clusters and default routes are handed back
// from the previous run instead of being rebuilt. The memo is only a cache: translate gives the
// same output with or without it (a unit test checks), and the objects it hands back are the
// very ones the previous snapshot holds, so a diff between the two compares them by identity
// and a one-instance change costs a delta of one cluster.
//
// A service's clusters are reused when its instance records are the same objects (the control
// plane keeps an Instance object until its key is written again), its DestinationRule spec is
// the same object, and its ServiceEntry endpoints are equal.

import type { Cluster, Instance, VirtualHost } from '@weft/model';

export interface ClusterMemoEntry {
  instances: readonly Instance[];
  drSpec: unknown;
  drRevision: number | undefined;
  external: string;
  /** PeerAuthentications and trust domain the endpoints' mTLS identities came from. */
  security?: string;
  clusters: Cluster[];
}

export interface TranslateMemo {
  clusters: Map<string, ClusterMemoEntry>;
  /** Default virtual hosts by FQDN, valid while the claimed domains are `defaultHostsClaims`. */
  defaultHosts: Map<string, VirtualHost>;
  defaultHostsClaims: string;
  /** How many services' clusters the last run reused and rebuilt (for profiling). */
  stats: { reused: number; rebuilt: number };
}

export function createTranslateMemo(): TranslateMemo {
  return {
    clusters: new Map(),
    defaultHosts: new Map(),
    defaultHostsClaims: '',
    stats: { reused: 0, rebuilt: 0 },
  };
}

export function sameRefs<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
