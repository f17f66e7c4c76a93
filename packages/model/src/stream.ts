// Messages on the snapshot stream (a WebSocket at /v1/stream on the control plane).
// The proxy opens with `hello`, the control plane answers with the current snapshot and
// then every newer one; the proxy answers each with `ack` or `nack`.

import type { Cluster, GatewayConfig, Snapshot, VirtualHost } from './snapshot.js';

export type ProxyRole = 'gateway' | 'sidecar';

export interface ProxyNode {
  /** Unique per proxy process, e.g. `gateway-1234` or `user-1.sidecar`. */
  id: string;
  role: ProxyRole;
  namespace: string;
  labels: Record<string, string>;
  /** For sidecars: the service of the app beside it. */
  service?: string;
  /** `host:port` of the proxy's admin listener (metrics, tap), for Prometheus and the CLI. */
  adminAddress?: string;
}

/**
 * What a proxy asks for. `upstreams` (sidecars) scopes its snapshot to the services its app
 * calls (short names or FQDNs); absent, it gets the whole mesh.
 */
export interface ProxyScope {
  upstreams?: string[];
}

export type ProxyMessage =
  | {
      type: 'hello';
      node: ProxyNode;
      version?: number;
      scope?: ProxyScope;
      /** The proxy applies `delta` messages; without it every push is a whole snapshot. */
      deltas?: boolean;
    }
  | { type: 'ack'; version: number }
  | { type: 'nack'; version: number; error: string }
  /** The proxy cannot apply a delta (its version is not the delta's base): send it whole. */
  | { type: 'resync'; version?: number }
  /**
   * A sidecar learning its scope from traffic (docs/clusters.md): its whole new upstream list.
   * The control plane answers at once with the current version in that scope, marked `scopeSeq`.
   */
  | { type: 'scope'; upstreams: string[]; seq: number };

/** Items changed by name; `order` (every name, in order) only when the sequence changed. */
export interface NamedChanges<T> {
  upsert: T[];
  remove: string[];
  order?: string[];
}

/**
 * What changed from snapshot `baseVersion` to `version`: clusters and mesh virtual hosts by
 * name (upserted whole, or removed), gateways whole when any changed. A proxy that runs
 * `baseVersion` rebuilds the full snapshot from it; any other proxy answers `resync`.
 */
export interface SnapshotDelta {
  baseVersion: number;
  version: number;
  clusters: NamedChanges<Cluster>;
  meshVirtualHosts: NamedChanges<VirtualHost>;
  gateways?: GatewayConfig[];
  /** The snapshot's `security` when it changed; null when it went away. */
  security?: Snapshot['security'] | null;
  /** The snapshot's AuthorizationPolicies when they changed; null when they went away. */
  authorization?: Snapshot['authorization'] | null;
}

/** `scopeSeq`: set on the message that answers the proxy's `scope` message of that `seq`. */
export type ControlMessage =
  | { type: 'snapshot'; version: number; snapshot: Snapshot; scopeSeq?: number }
  | { type: 'delta'; version: number; delta: SnapshotDelta; scopeSeq?: number };

export interface ProxyStatus {
  node: ProxyNode;
  connectedAt: string;
  sentVersion?: number;
  ackedVersion?: number;
  nack?: { version: number; error: string };
  /** The upstreams the proxy declared (scoped snapshot); absent = the whole mesh. */
  upstreams?: string[];
  /** Snapshots sent whole and as deltas on this connection. */
  pushes?: { full: number; delta: number };
  /** The control-plane replica that reports this status. */
  replica?: string;
}
