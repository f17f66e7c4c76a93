// Snapshot deltas: what a control plane sends a proxy that already runs an earlier version.
// Both ends share this code, so a delta applied to its base gives exactly the snapshot it was
// made from (the unit tests check the round trip). Items are compared by identity first: an
// incremental translate hands back the same object for an unchanged cluster, so a diff over a
// large mesh touches only what changed; unequal objects are compared by their JSON.

import type { Cluster, Snapshot, VirtualHost } from './snapshot.js';
import type { NamedChanges, SnapshotDelta } from './stream.js';

export function diffSnapshots(base: Snapshot, next: Snapshot): SnapshotDelta {
  const delta: SnapshotDelta = {
    baseVersion: base.version,
    version: next.version,
    clusters: diffNamed<Cluster>(base.clusters, next.clusters),
    meshVirtualHosts: diffNamed<VirtualHost>(base.mesh.virtualHosts, next.mesh.virtualHosts),
  };
  if (!sameJson(base.gateways, next.gateways)) delta.gateways = next.gateways;
  if (!sameJson(base.security, next.security)) delta.security = next.security ?? null;
  if (!sameJson(base.authorization, next.authorization))
    delta.authorization = next.authorization ?? null;
  return delta;
}

/** The snapshot `delta` was made from; throws when `base` is not the delta's base version. */
export function applyDelta(base: Snapshot, delta: SnapshotDelta): Snapshot {
  if (base.version !== delta.baseVersion)
    throw new Error(`delta from version ${delta.baseVersion} cannot apply to ${base.version}`);
  const security = delta.security === undefined ? base.security : (delta.security ?? undefined);
  const authorization =
    delta.authorization === undefined ? base.authorization : (delta.authorization ?? undefined);
  return {
    version: delta.version,
    gateways: delta.gateways ?? base.gateways,
    mesh: { virtualHosts: applyNamed(base.mesh.virtualHosts, delta.meshVirtualHosts) },
    clusters: applyNamed(base.clusters, delta.clusters),
    ...(authorization !== undefined ? { authorization } : {}),
    ...(security !== undefined ? { security } : {}),
  };
}

/** True when the delta carries no change at all (only the version moved). */
export function isEmptyDelta(d: SnapshotDelta): boolean {
  return (
    d.gateways === undefined &&
    d.security === undefined &&
    d.authorization === undefined &&
    [d.clusters, d.meshVirtualHosts].every(
      (c) => c.upsert.length === 0 && c.remove.length === 0 && c.order === undefined,
    )
  );
}

function diffNamed<T extends { name: string }>(base: T[], next: T[]): NamedChanges<T> {
  const aligned = alignedChanges(base, next);
  if (aligned !== undefined) return { upsert: aligned, remove: [] };
  const before = new Map(base.map((x) => [x.name, x]));
  const upsert: T[] = [];
  const seen = new Set<string>();
  for (const x of next) {
    seen.add(x.name);
    const old = before.get(x.name);
    if (old === undefined || (old !== x && !sameJson(old, x))) upsert.push(x);
  }
  const remove = base.filter((x) => !seen.has(x.name)).map((x) => x.name);
  const out: NamedChanges<T> = { upsert, remove };
  const sameOrder = base.length - remove.length === next.length && sequenceKept(base, next, seen);
  if (!sameOrder) out.order = next.map((x) => x.name);
  return out;
}

/**
 * The common case after an instance change: the same names at the same places, one or two items
 * replaced. Then the diff is a walk comparing references, with no maps (a 1,000-service mesh has
 * 2,000 items). Undefined when the names moved: the general diff handles that.
 */
function alignedChanges<T extends { name: string }>(base: T[], next: T[]): T[] | undefined {
  if (base.length !== next.length) return undefined;
  const upsert: T[] = [];
  for (let i = 0; i < next.length; i++) {
    const x = next[i] as T;
    const old = base[i] as T;
    if (old === x) continue;
    if (old.name !== x.name) return undefined;
    if (!sameJson(old, x)) upsert.push(x);
  }
  return upsert;
}

/** Whether `next` lists the names `base` keeps in the same order and adds none. */
function sequenceKept<T extends { name: string }>(base: T[], next: T[], seen: Set<string>) {
  let j = 0;
  for (const x of base) {
    if (!seen.has(x.name)) continue;
    if (next[j]?.name !== x.name) return false;
    j++;
  }
  return j === next.length;
}

function applyNamed<T extends { name: string }>(base: T[], c: NamedChanges<T>): T[] {
  const byName = new Map(base.map((x) => [x.name, x]));
  for (const name of c.remove) byName.delete(name);
  for (const x of c.upsert) byName.set(x.name, x);
  const order = c.order ?? base.map((x) => x.name).filter((n) => byName.has(n));
  return order.map((name) => {
    const x = byName.get(name);
    if (x === undefined) throw new Error(`delta names '${name}' but does not carry it`);
    return x;
  });
}

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
