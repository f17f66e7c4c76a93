// DestinationRule portLevelSettings in the data plane. Translate adds a cluster per port the
// rule names (`outbound|9080|v1|ratings...`, Cluster.port set) beside the portless one; here
// each destination learns, once per compile, which of them its traffic goes to:
// - a destination that names a port uses that port's cluster, when there is one;
// - on a sidecar's outbound listener, a destination without a port goes by the request's
//   port (the Host header's, 80/443 by default), as Istio's outbound listener per service
//   port does: the destination keeps a small port -> cluster map for that one lookup;
// - on a gateway, a destination without a port uses the portless cluster: Weft services have
//   no declared ports, and the gateway's listener port is not the service's.
// Everything else uses the portless cluster, which carries the rule's non-port policy.

import { clusterName } from '@weft/model';
import type { RuntimeCluster } from './types.js';

/** Port clusters under the name of the portless cluster they stand beside. */
export type PortClusters = ReadonlyMap<string, ReadonlyMap<number, RuntimeCluster>>;

export function indexPortClusters(clusters: Iterable<RuntimeCluster>): PortClusters {
  const out = new Map<string, Map<number, RuntimeCluster>>();
  for (const c of clusters) {
    if (c.port === undefined) continue;
    const base = clusterName(c.service, c.subset);
    let byPort = out.get(base);
    if (byPort === undefined) out.set(base, (byPort = new Map()));
    byPort.set(c.port, c);
  }
  return out;
}

export interface DestinationClusters {
  /** The cluster when the request's port has none of its own (or none is looked up). */
  readonly cluster: RuntimeCluster | undefined;
  readonly clusterName: string;
  /** Set only when the request's port decides: port -> cluster. */
  readonly byPort?: ReadonlyMap<number, RuntimeCluster> | undefined;
}

export function resolveDestinationClusters(
  name: string,
  port: number | undefined,
  clusters: ReadonlyMap<string, RuntimeCluster>,
  portClusters: PortClusters,
  byRequestPort: boolean,
): DestinationClusters {
  const portless = clusters.get(name);
  const byPort = portClusters.get(name);
  if (byPort === undefined) return { cluster: portless, clusterName: name };
  if (port !== undefined) {
    const own = byPort.get(port);
    return own === undefined
      ? { cluster: portless, clusterName: name }
      : { cluster: own, clusterName: own.name };
  }
  return byRequestPort
    ? { cluster: portless, clusterName: name, byPort }
    : { cluster: portless, clusterName: name };
}

/** The cluster a request to `port` goes to (the hot path's port-level work: one lookup). */
export function clusterForPort(d: DestinationClusters, port: number): RuntimeCluster | undefined {
  return d.byPort === undefined ? d.cluster : (d.byPort.get(port) ?? d.cluster);
}
