// Messages on the snapshot stream (a WebSocket at /v1/stream on the control plane).
// The proxy opens with `hello`, the control plane answers with the current snapshot and
// then every newer one; the proxy answers each with `ack` or `nack`.

import type { Snapshot } from './snapshot.js';

export type ProxyRole = 'gateway' | 'sidecar';

export interface ProxyNode {
  /** Unique per proxy process, e.g. `gateway-1234` or `user-1.sidecar`. */
  id: string;
  role: ProxyRole;
  namespace: string;
  labels: Record<string, string>;
  /** For sidecars: the service of the app beside it. */
  service?: string;
}

export type ProxyMessage =
  | { type: 'hello'; node: ProxyNode; version?: number }
  | { type: 'ack'; version: number }
  | { type: 'nack'; version: number; error: string };

export type ControlMessage = { type: 'snapshot'; version: number; snapshot: Snapshot };

export interface ProxyStatus {
  node: ProxyNode;
  connectedAt: string;
  sentVersion?: number;
  ackedVersion?: number;
  nack?: { version: number; error: string };
}
