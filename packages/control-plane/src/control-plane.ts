// The control plane keeps no state of its own beyond caches: it lists the store once, then
// follows its watch, and turns every new revision into a new snapshot. Several replicas on
// one etcd produce the same snapshot for the same revision, because translate is pure.

import type { Instance, Snapshot } from '@weft/model';
import { CONFIG_PREFIX, DNS_PREFIX, INSTANCE_PREFIX, PREFIX, SECURITY_PREFIX } from './keys.js';
import { InstanceGroups } from './registry/instance-groups.js';
import { decodeInstance } from './registry/registry.js';
import type { KeyValue, Store, Watch, WatchEvent } from './store/types.js';
import type {
  DestinationRuleIn,
  GatewayIn,
  AuthorizationPolicyIn,
  Meta,
  ServiceEntryIn,
  PeerAuthenticationIn,
  TranslateInput,
  VirtualServiceIn,
} from './translate/input.js';
import { dryRunOf } from './translate/authorization.js';
import { createTranslateMemo } from './translate/memo.js';
import { translate } from './translate/translate.js';
import type { Logger } from './log.js';

export interface StoredResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: unknown;
}

export interface CachedResource {
  resource: StoredResource;
  createRevision: number;
  modRevision: number;
}

/** A change to one registered instance, as `weft get instances -w` shows it. */
export interface InstanceEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  instance: Instance;
}

export class ControlPlane {
  private readonly instanceListeners = new Set<(events: InstanceEvent[]) => void>();
  private readonly config = new Map<string, CachedResource>();
  private readonly instances = new Map<string, Instance>();
  /** The same instances by service, kept between revisions (translate reads it, not the map). */
  private readonly groups = new InstanceGroups();
  /** DNS name -> addresses, as the elected replica stored them (keyed by store key). */
  private readonly dns = new Map<string, { name: string; addresses: string[] }>();
  private current: Snapshot | undefined;
  /** Makes each rebuild incremental: unchanged services' clusters are reused. */
  private readonly memo = createTranslateMemo();
  private revision = 0;
  private watch: Watch | undefined;
  private rebuildPending = false;
  private readonly listeners = new Set<(s: Snapshot, changedAt: number) => void>();
  private closed = false;
  /** When the first store change of the burst being coalesced was seen (push latency). */
  private changedAt: number | undefined;
  /** Told about every failed store call (metrics count them); `operation` is a fixed name. */
  onStoreError: (operation: 'watch' | 'list') => void = () => undefined;
  /** The mesh CA's trust domain, once the CA is open (start.ts sets it). */
  trustDomain: string | undefined;

  constructor(
    readonly store: Store,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { kvs, revision } = await this.store.range(PREFIX);
    const before = new Map(this.instances);
    this.config.clear();
    this.instances.clear();
    this.groups.clear();
    this.dns.clear();
    for (const kv of kvs) this.applyPut(kv);
    // A re-list (after a watch failure) tells watchers what changed while the store was away.
    if (this.instanceListeners.size > 0) this.emitInstances(diffInstances(before, this.instances));
    this.revision = revision;
    this.rebuild();
    this.watch = this.store.watch(PREFIX, (events) => this.onEvents(events), {
      fromRevision: revision + 1,
      onError: (err) => {
        // A watch that fell behind compaction (or lost etcd) starts over from a fresh list.
        this.log.warn({ err: err.message }, 'store watch failed; re-listing');
        this.onStoreError('watch');
        this.watch?.cancel();
        this.relist(0);
      },
    });
  }

  /** Lists and watches again; while the store does not answer, keeps trying with backoff. */
  private relist(attempt: number): void {
    if (this.closed) return;
    this.start().catch((err: Error) => {
      const retryInMs = Math.min(250 * 2 ** attempt, 10_000);
      this.log.error({ err: err.message, attempt, retryInMs }, 'cannot re-list the store');
      this.onStoreError('list');
      setTimeout(() => this.relist(attempt + 1), retryInMs);
    });
  }

  snapshot(): Snapshot | undefined {
    return this.current;
  }

  resources(): CachedResource[] {
    return [...this.config.values()];
  }

  instanceList(): Instance[] {
    return [...this.instances.values()];
  }

  onSnapshot(fn: (s: Snapshot, changedAt: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed = true;
    this.watch?.cancel();
  }

  /** Called with every batch of instance changes; returns the unsubscribe function. */
  onInstanceEvents(fn: (events: InstanceEvent[]) => void): () => void {
    this.instanceListeners.add(fn);
    return () => this.instanceListeners.delete(fn);
  }

  private emitInstances(events: InstanceEvent[]): void {
    if (events.length === 0) return;
    for (const fn of this.instanceListeners) fn(events);
  }

  private onEvents(all: WatchEvent[]): void {
    // The CA root and API tokens are not part of any snapshot: a token's use (its "last used"
    // time) must not make a new version for every proxy.
    const events = all.filter((e) => !e.kv.key.startsWith(SECURITY_PREFIX));
    if (events.length === 0) return;
    const changes: InstanceEvent[] = [];
    for (const e of events) {
      const old = this.instances.get(e.kv.key);
      if (e.type === 'put') this.applyPut(e.kv);
      else {
        this.config.delete(e.kv.key);
        this.instances.delete(e.kv.key);
        this.groups.delete(e.kv.key);
        this.dns.delete(e.kv.key);
      }
      const now = this.instances.get(e.kv.key);
      if (now) changes.push({ type: old ? 'MODIFIED' : 'ADDED', instance: now });
      else if (old) changes.push({ type: 'DELETED', instance: old });
      this.revision = Math.max(this.revision, e.kv.modRevision);
    }
    this.emitInstances(changes);
    // Coalesce a burst of revisions (an apply, many heartbeats' health flips) into one snapshot.
    this.changedAt ??= Date.now();
    if (this.rebuildPending) return;
    this.rebuildPending = true;
    setImmediate(() => {
      this.rebuildPending = false;
      this.rebuild();
    });
  }

  private applyPut(kv: KeyValue): void {
    try {
      if (kv.key.startsWith(CONFIG_PREFIX)) {
        const resource = JSON.parse(kv.value) as StoredResource;
        this.config.set(kv.key, {
          resource,
          createRevision: kv.createRevision,
          modRevision: kv.modRevision,
        });
      } else if (kv.key.startsWith(INSTANCE_PREFIX)) {
        const instance = decodeInstance(kv);
        this.instances.set(kv.key, instance);
        this.groups.set(kv.key, instance);
      } else if (kv.key.startsWith(DNS_PREFIX)) {
        const v = JSON.parse(kv.value) as { name: string; addresses: string[] };
        this.dns.set(kv.key, { name: v.name, addresses: v.addresses });
      }
    } catch (err) {
      // A record another writer corrupted must not take the mesh down; it is skipped and named.
      this.log.error({ key: kv.key, err: (err as Error).message }, 'skipping unreadable record');
    }
  }

  private rebuild(): void {
    const input = this.translateInput();
    const snap = translate(input, this.memo);
    this.current = snap;
    const changedAt = this.changedAt ?? Date.now();
    this.changedAt = undefined;
    for (const fn of this.listeners) fn(snap, changedAt);
  }

  translateInput(): TranslateInput {
    const of = <T>(kind: string): T[] =>
      [...this.config.values()]
        .filter((c) => c.resource.kind === kind)
        .map((c) => {
          const metadata: Meta = {
            name: c.resource.metadata.name,
            namespace: c.resource.metadata.namespace,
            createRevision: c.createRevision,
            ...dryRunOf(c.resource.metadata.annotations),
          };
          return { metadata, spec: c.resource.spec } as T;
        });
    const instances = this.instances;
    return {
      version: this.revision,
      virtualServices: of<VirtualServiceIn>('VirtualService'),
      destinationRules: of<DestinationRuleIn>('DestinationRule'),
      gateways: of<GatewayIn>('Gateway'),
      authorizationPolicies: of<AuthorizationPolicyIn>('AuthorizationPolicy'),
      // Copied only when read (admission, the dashboard): translate reads `instanceGroups`, so a
      // rebuild does no per-instance work for the services that did not change.
      get instances() {
        return [...instances.values()];
      },
      instanceGroups: this.groups.groups(),
      serviceEntries: of<ServiceEntryIn>('ServiceEntry'),
      dnsAddresses: Object.fromEntries([...this.dns.values()].map((d) => [d.name, d.addresses])),
      peerAuthentications: of<PeerAuthenticationIn>('PeerAuthentication'),
      ...(this.trustDomain !== undefined ? { trustDomain: this.trustDomain } : {}),
    };
  }
}

function diffInstances(
  before: Map<string, Instance>,
  after: Map<string, Instance>,
): InstanceEvent[] {
  const out: InstanceEvent[] = [];
  for (const [k, i] of after) {
    const old = before.get(k);
    if (!old) out.push({ type: 'ADDED', instance: i });
    else if (old.revision !== i.revision) out.push({ type: 'MODIFIED', instance: i });
  }
  for (const [k, i] of before) if (!after.has(k)) out.push({ type: 'DELETED', instance: i });
  return out;
}
