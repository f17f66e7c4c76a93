// Choosing and opening the store from a URL, for `weft control --store URL`:
//
//   (none)                    the embedded store, <data-dir>/weft.db
//   file://<path>             the embedded store in that SQLite file (file:///abs or file://rel)
//   etcd://host:port[,...]    etcd, any of its members; keys under `etcdPrefix` (default /weft/)
//
// etcd may not be up yet when the control plane starts (both started by one script, or etcd
// restarting): opening it is retried with backoff, every failure logged, rather than the process
// exiting and a supervisor restarting it in a loop. A file the embedded store cannot open fails
// at once: waiting would not fix a path or a lock held by another control plane.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import { openEmbeddedStore } from './embedded.js';
import { openEtcdStore, parseEtcdUrl } from './etcd.js';
import type { Store } from './types.js';
import { StoreError } from './types.js';

export interface OpenStoreOptions {
  /** The store URL; undefined or '' for the embedded default. */
  url?: string;
  /** Folder of the default embedded store. */
  dataDir: string;
  /** etcd only: where Weft's keys live in etcd. Default '/weft/'. */
  etcdPrefix?: string;
  log: Logger;
  /** etcd only: attempts before giving up. Default: no limit. */
  maxAttempts?: number;
  /** etcd only: the longest wait between attempts. Default 10 s. */
  maxBackoffMs?: number;
  /** etcd only: how long one attempt keeps trying (EtcdStoreOptions.dialTimeoutMs). */
  dialTimeoutMs?: number;
}

export type StoreLocation =
  { kind: 'embedded'; path: string } | { kind: 'etcd'; endpoints: string[] };

/** Where a store URL points; throws a TypeError naming the accepted forms when it is neither. */
export function parseStoreUrl(url: string | undefined, dataDir: string): StoreLocation {
  if (url === undefined || url === '') return { kind: 'embedded', path: join(dataDir, 'weft.db') };
  if (url.startsWith('etcd://')) return { kind: 'etcd', endpoints: parseEtcdUrl(url) };
  if (url.startsWith('file://') && url.length > 'file://'.length)
    return { kind: 'embedded', path: url.slice('file://'.length) };
  throw new TypeError(
    `unknown store URL '${url}': use etcd://host:port[,host:port...] or file://<path to weft.db>`,
  );
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const where = parseStoreUrl(opts.url, opts.dataDir);
  if (where.kind === 'embedded') {
    mkdirSync(dirname(where.path), { recursive: true });
    opts.log.info({ store: 'embedded', path: where.path }, 'opening the store');
    return openEmbeddedStore({ path: where.path });
  }
  const prefix = opts.etcdPrefix ?? '/weft/';
  const maxAttempts = opts.maxAttempts ?? Infinity;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  const log = opts.log;
  for (let attempt = 1; ; attempt++) {
    try {
      const store = await openEtcdStore({
        endpoints: where.endpoints,
        prefix,
        ...(opts.dialTimeoutMs !== undefined && { dialTimeoutMs: opts.dialTimeoutMs }),
        onBackgroundError: (err) =>
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'etcd store'),
      });
      log.info({ store: 'etcd', endpoints: where.endpoints, prefix, attempt }, 'store opened');
      return store;
    } catch (err) {
      // Only "etcd did not answer" is worth waiting for; anything else is a mistake to report.
      if (!(err instanceof StoreError && err.code === 'WEFT_ERR_STORE_UNAVAILABLE')) throw err;
      const message = err.message;
      if (attempt >= maxAttempts) throw err;
      const waitMs = Math.min(500 * 2 ** (attempt - 1), maxBackoffMs);
      log.error(
        { store: 'etcd', endpoints: where.endpoints, attempt, retryInMs: waitMs, err: message },
        'cannot reach the store; retrying',
      );
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}
