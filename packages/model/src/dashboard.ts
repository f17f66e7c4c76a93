// What the control plane's dashboard API serves (GET /v1/dashboard/graph, /services/NAME and
// the SSE stream /v1/dashboard/events). The dashboard package imports these types only, so
// the browser bundle and the server agree on one shape.

/** Traffic over the collector's window: null where no request was seen. */
export interface GoldenSignals {
  /** Requests per second. */
  rps: number;
  /** Share of requests that got a non-5xx answer, 0..1. */
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

/**
 * healthy: every instance up and success >= 99%; degraded: some instance down or success
 * between 95% and 99%; unhealthy: no healthy instance or success under 95%; idle: no
 * instances and no traffic (an external or gateway node with nothing to say).
 */
export type NodeHealth = 'healthy' | 'degraded' | 'unhealthy' | 'idle';

export interface GraphNode {
  /** `service:NAMESPACE/NAME`, `gateway:PROXY-ID`, `external:HOST` or `unknown`. */
  id: string;
  kind: 'service' | 'gateway' | 'external' | 'unknown';
  name: string;
  namespace: string;
  health: NodeHealth;
  instances: { total: number; healthy: number };
  versions: string[];
  /** What the node received (inbound), as its own sidecars report it. */
  inbound: GoldenSignals;
}

export interface GraphEdge {
  /** `SOURCE->TARGET` with node ids. */
  id: string;
  source: string;
  target: string;
  health: NodeHealth;
  signals: GoldenSignals;
}

export interface MeshGraph {
  generatedAt: string;
  /** Snapshot version the control plane serves. */
  version: number | null;
  /** Rates are over this many seconds, ending at generatedAt. */
  windowSeconds: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Proxies whose metrics could not be read this round (their traffic is missing). */
  unreachable: string[];
}

export interface InstanceDetail {
  id: string;
  address: string;
  port: number;
  labels: Record<string, string>;
  healthy: boolean;
  /** Outlier detection in some caller's proxy has taken it out of rotation right now. */
  ejected: boolean;
  inbound: GoldenSignals;
}

export interface ConfigRef {
  kind: string;
  namespace: string;
  name: string;
  /** Validation warnings for this resource, as `field: message`. */
  warnings: string[];
}

export interface HistoryPoint {
  /** Unix ms. */
  t: number;
  rps: number;
  successRate: number | null;
  p99Ms: number | null;
}

export interface ServiceDetail {
  node: GraphNode;
  instances: InstanceDetail[];
  inboundEdges: GraphEdge[];
  outboundEdges: GraphEdge[];
  config: ConfigRef[];
  history: HistoryPoint[];
}
