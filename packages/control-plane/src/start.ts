// `weft control`: open the store, follow it, serve the API and the snapshot stream.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { lockApi, type ApiAuthOptions, type ApiTlsOptions } from './api/lock.js';
import { isElectable, soleLeadership, type Leadership } from './election/leadership.js';
import { startDnsResolution, type Resolve } from './dns/resolver.js';
import { dnsNamesOf } from './translate/service-entry.js';
import type { ServiceEntryIn } from './translate/input.js';
import { createApiServer, listenApi } from './api/server.js';
import { MeshCa, type RootFiles } from './ca/mesh-ca.js';
import { ControlPlane } from './control-plane.js';
import { DashboardCollector } from './dashboard/collector.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { SnapshotHub } from './distribute/hub.js';
import { createLogger } from './log.js';
import { createControlPlaneMetrics } from './metrics/metrics.js';
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
  /** This replica's name in proxy-status and elections. Default: host:pid:random. */
  replica?: string;
  /** Lease TTL of this replica's candidacy (etcd): how long a dead leader keeps the job. */
  electionTtlSeconds?: number;
  /** How DNS ServiceEntry names are resolved (tests inject one). Default: the system's. */
  resolve?: Resolve;
  /** How often DNS ServiceEntry names are resolved again. Default 30 s. */
  dnsIntervalMs?: number;
  /**
   * The dashboard: false turns its collector and endpoints off; `dir` is the built web app
   * (`weft control` passes packages/dashboard/dist); `intervalMs` how often proxies are read
   * while someone watches the dashboard (every 10 s otherwise).
   */
  dashboard?: false | { dir?: string; intervalMs?: number };
  /** The mesh CA's trust domain (default cluster.local). */
  trustDomain?: string;
  /** Use this root (PEM files) instead of the one kept in the store. */
  caRoot?: RootFiles;
  /**
   * PEM files of more roots for the trust bundle sent with every workload certificate: how a
   * root is rotated without a flag day (docs/security.md "Rotating the root").
   */
  caTrust?: readonly string[];
  /** Workload certificate lifetime (default 24 h; tests shorten it to watch rotation). */
  workloadCertLifetimeMs?: number;
  /**
   * Serve the API over HTTPS with a certificate from the mesh CA (SANs: loopback, localhost,
   * this host's name, `host`, and `names`). The root is written to <dataDir>/ca.pem.
   */
  tls?: ApiTlsOptions | boolean;
  /**
   * Lock the API: every change needs a token (api/auth.ts). On the first start an admin token
   * is written to `adminTokenFile` (default <dataDir>/admin-token, mode 0600).
   */
  auth?: ApiAuthOptions | boolean;
}

export interface RunningControlPlane {
  port: number;
  url: string;
  cp: ControlPlane;
  replica: string;
  /** Whether this replica runs the once-per-mesh work (always, on the embedded store). */
  leadership: Leadership;
  /** PEM of the mesh root: what proxies and clients trust. */
  caRoot: string;
  /** With tls: where the root was written. */
  caFile?: string;
  /** With auth: the admin token file, and the token in it when this start wrote or read it. */
  adminTokenFile?: string;
  adminToken?: string;
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
  const ca = await MeshCa.open(store, {
    trustDomain: opts.trustDomain,
    rootFiles: opts.caRoot,
    trustFiles: opts.caTrust,
    workloadLifetimeMs: opts.workloadCertLifetimeMs,
  });
  const replica = opts.replica ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const cp = new ControlPlane(store, log);
  // The hub reports to its metrics, which read it back only when scraped (after both exist).
  const metrics = createControlPlaneMetrics({
    proxies: () => hub.statuses(),
    snapshotVersion: () => cp.snapshot()?.version,
    instances: () => cp.instanceList(),
  });
  cp.onStoreError = (op) => metrics.storeError(op);
  cp.trustDomain = ca.trustDomain;
  const hub = new SnapshotHub(log, { replica, observer: metrics });
  const leadership = isElectable(store)
    ? store.elect('control-plane', replica, opts.electionTtlSeconds ?? 5)
    : soleLeadership();
  leadership.onChange((leader) =>
    log.info({ replica, leader }, leader ? 'elected leader' : 'no longer the leader'),
  );
  cp.onSnapshot((s, changedAt) => hub.publish(s, changedAt));
  await cp.start();
  // Once-only work: the leader resolves DNS ServiceEntries for every replica.
  const dns = startDnsResolution({
    store,
    names: () =>
      dnsNamesOf(
        cp
          .resources()
          .filter((c) => c.resource.kind === 'ServiceEntry')
          .map((c) => ({
            metadata: c.resource.metadata,
            spec: c.resource.spec as ServiceEntryIn['spec'],
          })),
      ),
    onChange: (fn) => cp.onSnapshot(fn),
    leadership,
    log,
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
    ...(opts.dnsIntervalMs !== undefined ? { intervalMs: opts.dnsIntervalMs } : {}),
  });
  const snap = cp.snapshot();
  if (snap) hub.publish(snap);
  const dashboard = opts.dashboard === false ? undefined : (opts.dashboard ?? {});
  const collector =
    dashboard === undefined
      ? undefined
      : new DashboardCollector({ cp, hub, intervalMs: dashboard.intervalMs });
  collector?.start();
  const host = opts.host ?? '127.0.0.1';
  const lock = await lockApi({
    store,
    log,
    ca,
    hub,
    dataDir: opts.dataDir,
    host,
    tls: opts.tls === true ? {} : opts.tls || undefined,
    auth: opts.auth === true ? {} : opts.auth || undefined,
  });
  const server = createApiServer({
    cp,
    hub,
    log,
    auth: lock.auth,
    tls: lock.tls,
    admit: opts.admit,
    metrics,
    extraRoutes:
      collector === undefined ? [] : dashboardRoutes({ cp, hub, collector, dir: dashboard?.dir }),
    ca,
    replica: () => ({ replica, leader: leadership.leader() }),
  });
  const port = await listenApi(server, host, opts.port ?? 15010);
  log.info(
    { host, port, revision: snap?.version, tls: lock.tls !== undefined, locked: !!lock.auth },
    'control plane listening',
  );
  return {
    port,
    url: `${lock.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...lock.files,
    cp,
    replica,
    leadership,
    caRoot: ca.rootPem,
    async close() {
      dns.close();
      lock.auth?.tokens.close();
      await collector?.stop();
      await leadership.close();
      cp.close();
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    },
  };
}
