// The registry's instances grouped by service, kept between revisions. Translate needs the
// instances of each service; grouping 10,000 records on every revision was the last pass over
// the whole registry per change. Here a watch event touches only its own service's group, and a
// group's array is replaced (a new object) only when one of its instances changed, so translate's
// memo sees an untouched service by identity and a one-instance change costs one group's copy.

import { toFqdn, type Instance } from '@weft/model';

export class InstanceGroups {
  /** Service FQDN -> its instances by store key (mutable, in arrival order). */
  private readonly members = new Map<string, Map<string, Instance>>();
  /** Service FQDN -> the array translate sees; replaced whole when the group changes. */
  private readonly arrays = new Map<string, readonly Instance[]>();
  /** Groups changed since the last `groups()`; their arrays are made again then. */
  private readonly dirty = new Set<string>();
  /** Store key -> FQDN of the group it is in (an update may move it to another service). */
  private readonly groupOf = new Map<string, string>();
  /** namespace -> service -> FQDN: one toFqdn per service, not per event. */
  private readonly names = new Map<string, Map<string, string>>();

  set(key: string, instance: Instance): void {
    const fqdn = this.fqdnOf(instance);
    const was = this.groupOf.get(key);
    if (was !== undefined && was !== fqdn) this.delete(key);
    let group = this.members.get(fqdn);
    if (!group) this.members.set(fqdn, (group = new Map()));
    group.set(key, instance);
    this.groupOf.set(key, fqdn);
    this.dirty.add(fqdn);
  }

  delete(key: string): void {
    const fqdn = this.groupOf.get(key);
    if (fqdn === undefined) return;
    this.groupOf.delete(key);
    this.members.get(fqdn)?.delete(key);
    this.dirty.add(fqdn);
  }

  clear(): void {
    for (const fqdn of this.members.keys()) this.dirty.add(fqdn);
    this.members.clear();
    this.groupOf.clear();
  }

  /**
   * Instances by service FQDN. Only the groups changed since the last call get a new array; the
   * map itself is the same object every time (read it before the next change, do not keep it).
   */
  groups(): ReadonlyMap<string, readonly Instance[]> {
    for (const fqdn of this.dirty) {
      const group = this.members.get(fqdn);
      if (group === undefined || group.size === 0) {
        this.members.delete(fqdn);
        this.arrays.delete(fqdn);
      } else this.arrays.set(fqdn, [...group.values()]);
    }
    this.dirty.clear();
    return this.arrays;
  }

  private fqdnOf(i: Instance): string {
    let inNs = this.names.get(i.namespace);
    if (!inNs) this.names.set(i.namespace, (inNs = new Map()));
    let fqdn = inNs.get(i.service);
    if (fqdn === undefined) inNs.set(i.service, (fqdn = toFqdn(i.service, i.namespace)));
    return fqdn;
  }
}
