// DNS resolution for DNS ServiceEntries, run by the elected replica only: it resolves every
// name the entries need, and stores the answers under /weft/dns/ when they change. Every
// replica reads them from the store like any other record, so translate stays pure and all
// replicas build the same snapshot for a revision. It re-resolves every `intervalMs` (Istio
// and Envoy re-resolve every 5 s by default; 30 s here suits a control plane that writes to
// etcd) and at once when the set of names changes. A failed lookup keeps the last answer,
// as Envoy keeps its last hosts when DNS fails.

import { lookup } from 'node:dns/promises';
import { DNS_PREFIX } from '../keys.js';
import type { Leadership } from '../election/leadership.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';

/** name -> IPv4 addresses. */
export type Resolve = (name: string) => Promise<string[]>;

/** IPv4 only, as Istio's default DNS lookup family (V4_ONLY) on single-stack clusters. */
export const systemResolve: Resolve = async (name) =>
  (await lookup(name, { all: true, family: 4 })).map((a) => a.address);

export interface DnsResolutionOptions {
  store: Store;
  /** The names DNS ServiceEntries need now (from the replica's cache). */
  names: () => string[];
  /** Subscribe to changes of the cache: `names()` is read again after each. */
  onChange: (fn: () => void) => () => void;
  leadership: Leadership;
  log: Logger;
  resolve?: Resolve;
  /** Default 30 s. */
  intervalMs?: number;
}

export interface DnsResolution {
  /** Resolves every name once and stores what changed (the leader's loop calls it). */
  resolveNow(): Promise<void>;
  close(): void;
}

export function dnsKey(name: string): string {
  return `${DNS_PREFIX}${name}`;
}

export function startDnsResolution(opts: DnsResolutionOptions): DnsResolution {
  const resolve = opts.resolve ?? systemResolve;
  const intervalMs = opts.intervalMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let lastNames = '';

  const resolveNow = async (): Promise<void> => {
    const names = opts.names();
    lastNames = names.join(',');
    const { kvs } = await opts.store.range(DNS_PREFIX);
    const stored = new Map(kvs.map((kv) => [kv.key, kv.value]));
    for (const name of names) {
      let addresses: string[];
      try {
        addresses = [...new Set(await resolve(name))].sort();
      } catch (err) {
        opts.log.warn(
          { name, err: (err as Error).message },
          'DNS lookup failed; keeping the last answer',
        );
        continue;
      }
      const value = JSON.stringify({ name, addresses });
      if (stored.get(dnsKey(name)) !== value) await opts.store.put(dnsKey(name), value);
    }
    // Names no entry needs any more.
    const wanted = new Set(names.map(dnsKey));
    for (const key of stored.keys()) if (!wanted.has(key)) await opts.store.delete(key);
  };

  const run = () => {
    if (closed || !opts.leadership.leader()) return;
    if (running) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    running = resolveNow()
      .catch((err: Error) => opts.log.warn({ err: err.message }, 'DNS resolution round failed'))
      .finally(() => {
        running = undefined;
        if (closed) return;
        if (again) {
          again = false;
          run();
          return;
        }
        timer = setTimeout(run, intervalMs);
        timer.unref();
      });
  };

  const offLeader = opts.leadership.onChange((leader) => {
    if (leader) run();
    else if (timer) clearTimeout(timer);
  });
  const offChange = opts.onChange(() => {
    if (opts.names().join(',') !== lastNames) run();
  });
  run();
  return {
    resolveNow,
    close() {
      closed = true;
      offLeader();
      offChange();
      if (timer) clearTimeout(timer);
    },
  };
}
