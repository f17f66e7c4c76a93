// `weft control`: open the store, follow it, serve the API and the snapshot stream.

import { createApiServer, listenApi } from './api/server.js';
import { ControlPlane } from './control-plane.js';
import { SnapshotHub } from './distribute/hub.js';
import { createLogger } from './log.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';
import type { Snapshot } from '@weft/model';

export interface ControlPlaneOptions {
  /** Folder for the embedded store's file (when storeUrl names none); created when missing. */
  dataDir: string;
  host?: string;
  port?: number;
  /** Use this store instead of the embedded one (tests, etcd). */
  store?: Store;
  /**
   * Where the store is: `etcd://host:port[,host:port...]`, `file://<path>` (embedded), or none
   * for <dataDir>/weft.db. An etcd that does not answer yet is retried with backoff.
   */
  storeUrl?: string;
  /** etcd only: where Weft's keys live in etcd (default '/weft/'). */
  etcdPrefix?: string;
  /**
   * Admission: throws when some proxy would reject the snapshot an apply produces, and the
   * apply is refused. The control plane cannot import the proxy's compiler, so the caller
   * (`weft control`) hands it in.
   */
  admit?: (snapshot: Snapshot) => void;
}

export interface RunningControlPlane {
  port: number;
  url: string;
  cp: ControlPlane;
  close(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const log = createLogger('weft-control');
  let store = opts.store;
  if (!store) {
    store = await openStore({
      url: opts.storeUrl,
      dataDir: opts.dataDir,
      etcdPrefix: opts.etcdPrefix,
      log,
    });
  }
  const cp = new ControlPlane(store, log);
  const hub = new SnapshotHub(log);
  cp.onSnapshot((s) => hub.publish(s));
  await cp.start();
  const snap = cp.snapshot();
  if (snap) hub.publish(snap);
  const server = createApiServer({ cp, hub, log, admit: opts.admit });
  const host = opts.host ?? '127.0.0.1';
  const port = await listenApi(server, host, opts.port ?? 15010);
  log.info({ host, port, revision: snap?.version }, 'control plane listening');
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    cp,
    async close() {
      cp.close();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    },
  };
}
