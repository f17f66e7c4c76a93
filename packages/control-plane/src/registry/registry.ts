// The service registry: instances registered by sidecars, each under its own lease. A sidecar
// that stops heartbeating loses its lease, the store deletes the key, and the next snapshot
// no longer has the endpoint: the same model as etcd-based discovery everywhere.

import { randomBytes } from 'node:crypto';
import { DEFAULT_NAMESPACE, type Instance, type InstanceRegistration } from '@weft/model';
import { INSTANCE_PREFIX, instanceKey } from '../keys.js';
import type { KeyValue, Lease, Store } from '../store/types.js';

export const DEFAULT_TTL_SECONDS = 10;
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export class RegistryError extends Error {
  constructor(
    readonly code: 'WEFT_ERR_BAD_REGISTRATION' | 'WEFT_ERR_INSTANCE_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

type Stored = Omit<Instance, 'revision' | 'leaseId'>;

export function validateRegistration(r: InstanceRegistration): string[] {
  const problems: string[] = [];
  if (typeof r.service !== 'string' || !NAME.test(r.service))
    problems.push('service: must be a DNS label (lower case letters, digits, "-")');
  if (r.namespace !== undefined && (typeof r.namespace !== 'string' || !NAME.test(r.namespace)))
    problems.push('namespace: must be a DNS label');
  if (typeof r.address !== 'string' || r.address.length === 0) problems.push('address: required');
  if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535)
    problems.push('port: must be an integer from 1 to 65535');
  if (r.id !== undefined && (typeof r.id !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(r.id)))
    problems.push('id: letters, digits, ".", "_" and "-" only, at most 128');
  if (
    r.ttlSeconds !== undefined &&
    (!Number.isInteger(r.ttlSeconds) || r.ttlSeconds < 1 || r.ttlSeconds > 3600)
  )
    problems.push('ttlSeconds: must be an integer from 1 to 3600');
  if (r.weight !== undefined && (!Number.isInteger(r.weight) || r.weight < 1 || r.weight > 1000))
    problems.push('weight: must be an integer from 1 to 1000');
  if (r.labels !== undefined) {
    if (typeof r.labels !== 'object' || r.labels === null || Array.isArray(r.labels))
      problems.push('labels: must be a map of strings');
    else
      for (const [k, v] of Object.entries(r.labels))
        if (typeof v !== 'string') problems.push(`labels.${k}: must be a string`);
  }
  return problems;
}

export function decodeInstance(kv: KeyValue): Instance {
  const s = JSON.parse(kv.value) as Stored;
  return { ...s, leaseId: kv.lease, revision: kv.modRevision };
}

/** Throws when the caller may not touch this instance (api/auth.ts decides). */
export type Allow = (inst: Instance) => void;

export class Registry {
  constructor(private readonly store: Store) {}

  /** `allow` (the API's credentials check) sees the record an id would replace, before any write. */
  async register(r: InstanceRegistration, allow?: Allow): Promise<Instance> {
    const problems = validateRegistration(r);
    if (problems.length > 0)
      throw new RegistryError('WEFT_ERR_BAD_REGISTRATION', problems.join('; '));
    const namespace = r.namespace ?? DEFAULT_NAMESPACE;
    const id = r.id ?? `${r.service}-${randomBytes(4).toString('hex')}`;
    const lease = await this.leaseFor(id, r.ttlSeconds ?? DEFAULT_TTL_SECONDS, allow);
    const stored: Stored = {
      id,
      service: r.service,
      namespace,
      address: r.address,
      port: r.port,
      labels: { ...(r.labels ?? {}) },
      healthy: true,
      weight: r.weight ?? 1,
    };
    // Re-registering an id (a restarted sidecar) replaces the old record and its lease. The put
    // returns the record it replaced (etcd's prev_kv), so a registration is two store round
    // trips (lease, put) rather than three, and the lease revoked is exactly the replaced one's.
    const { revision, prevKv } = await this.store.put(instanceKey(id), JSON.stringify(stored), {
      lease: lease.id,
      prevKv: true,
    });
    if (prevKv && prevKv.lease !== 0 && prevKv.lease !== lease.id)
      await this.store.revokeLease(prevKv.lease).catch(() => undefined);
    return { ...stored, leaseId: lease.id, revision };
  }

  /**
   * The new registration's lease. With a credentials check, the record the id would replace is
   * read at the same time as the lease is granted (one round trip, not two: a lease alone
   * changes no key and no revision), and the lease is revoked when the check refuses.
   */
  private async leaseFor(id: string, ttlSeconds: number, allow?: Allow): Promise<Lease> {
    if (!allow) return this.store.grantLease(ttlSeconds);
    const [old, lease] = await Promise.allSettled([
      this.find(id),
      this.store.grantLease(ttlSeconds),
    ]);
    try {
      if (old.status === 'rejected') throw old.reason;
      if (old.value) allow(old.value);
    } catch (err) {
      if (lease.status === 'fulfilled')
        await this.store.revokeLease(lease.value.id).catch(() => undefined);
      throw err;
    }
    if (lease.status === 'rejected') throw lease.reason;
    return lease.value;
  }

  async list(): Promise<{ instances: Instance[]; revision: number }> {
    const { kvs, revision } = await this.store.range(INSTANCE_PREFIX);
    return { instances: kvs.map(decodeInstance), revision };
  }

  async find(id: string): Promise<Instance | undefined> {
    const kv = await this.store.get(instanceKey(id));
    return kv ? decodeInstance(kv) : undefined;
  }

  async heartbeat(id: string, allow?: Allow): Promise<Instance> {
    const inst = await this.mustFind(id, allow);
    await this.store.keepAlive(inst.leaseId);
    return inst;
  }

  async setHealth(id: string, healthy: boolean, allow?: Allow): Promise<Instance> {
    const inst = await this.mustFind(id, allow);
    if (inst.healthy === healthy) return inst;
    const { leaseId: lease, revision: _r, ...rest } = inst;
    const stored: Stored = { ...rest, healthy };
    const { revision } = await this.store.put(instanceKey(inst.id), JSON.stringify(stored), {
      lease,
    });
    return { ...stored, leaseId: lease, revision };
  }

  /**
   * Removes the instance and returns a revision at which it is gone: a proxy that ACKed a
   * snapshot of that version or newer no longer routes to it (what a draining sidecar waits for).
   */
  async deregister(id: string, allow?: Allow): Promise<{ revision: number }> {
    const inst = await this.mustFind(id, allow);
    await this.store.revokeLease(inst.leaseId).catch(async () => {
      await this.store.delete(instanceKey(inst.id));
    });
    return { revision: await this.store.revision() };
  }

  private async mustFind(id: string, allow?: Allow): Promise<Instance> {
    const inst = await this.find(id);
    if (!inst)
      throw new RegistryError(
        'WEFT_ERR_INSTANCE_NOT_FOUND',
        `no instance with id "${id}" (its lease may have expired)`,
      );
    allow?.(inst);
    return inst;
  }
}
