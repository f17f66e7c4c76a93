// Scoping: a sidecar that declared its app's upstreams (`weft sidecar --upstreams order,stock`)
// gets only the mesh virtual hosts for those hosts and the clusters they route to, so its
// snapshot grows with its fan-out rather than with the mesh (Istio's Sidecar `egress.hosts`,
// and the complaint in istio/istio#7912). The view reuses the snapshot's own objects, so deltas
// between two views compare by identity as cheaply as between whole snapshots.

import { toFqdn, type Route, type Snapshot } from '@weft/model';

export interface Scope {
  /** Stable key of the scope, for caches ('' = the whole mesh). */
  key: string;
  /** Upstream hosts as FQDNs; undefined = everything. */
  hosts?: ReadonlySet<string>;
}

export const WHOLE_MESH: Scope = { key: '' };

/** The scope a proxy declared; short names resolve in the proxy's namespace, as Istio's do. */
export function scopeOf(upstreams: unknown, namespace: string): Scope {
  if (!Array.isArray(upstreams)) return WHOLE_MESH;
  const hosts = [
    ...new Set(
      upstreams
        .filter((u): u is string => typeof u === 'string' && u.trim() !== '')
        .map((u) => toFqdn(u.trim(), namespace)),
    ),
  ].sort();
  return { key: hosts.join(','), hosts: new Set(hosts) };
}

export function scopeSnapshot(snapshot: Snapshot, scope: Scope): Snapshot {
  const hosts = scope.hosts;
  if (hosts === undefined) return snapshot;
  const virtualHosts = snapshot.mesh.virtualHosts.filter((vh) =>
    vh.domains.some((d) => hosts.has(d)),
  );
  const wanted = new Set<string>();
  for (const vh of virtualHosts)
    for (const r of vh.routes) for (const c of clustersOf(r)) wanted.add(c);
  const clusters = snapshot.clusters.filter((c) => wanted.has(c.name) || hosts.has(c.service));
  // A sidecar serves no Gateway: the gateways are left out of every scoped view.
  return {
    version: snapshot.version,
    gateways: [],
    mesh: { virtualHosts },
    clusters,
    // Every sidecar needs the PeerAuthentications to pick its own inbound mode.
    ...(snapshot.security !== undefined ? { security: snapshot.security } : {}),
    // The server-side policies apply to the sidecar's own inbound traffic, whatever it calls.
    ...(snapshot.authorization !== undefined ? { authorization: snapshot.authorization } : {}),
  };
}

function clustersOf(r: Route): string[] {
  if (r.action.type !== 'route') return [];
  return [
    ...r.action.destinations.map((d) => d.cluster),
    ...(r.action.mirrors ?? []).map((m) => m.cluster),
  ];
}
