// The control plane's own metrics, served at its API's /metrics: proxies connected, snapshot
// pushes, push latency (from the store change a snapshot was built from to each proxy's ACK),
// NACKs, store errors, the snapshot version and registered instances.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProxyRole, ProxyStatus } from '@weft/model';

/** What the snapshot hub reports (distribute/hub.ts calls these). */
export interface HubObserver {
  /** A snapshot of `version`, built from store changes first seen at `changedAt` (ms). */
  published(version: number, changedAt: number): void;
  pushed(role: ProxyRole): void;
  acked(version: number, role: ProxyRole): void;
  nacked(role: ProxyRole): void;
}

export interface ControlPlaneMetrics extends HubObserver {
  readonly registry: Registry;
  /** A store call failed (`operation`: what the control plane was doing). */
  storeError(operation: string): void;
}

export interface ControlPlaneMetricsOptions {
  proxies: () => readonly ProxyStatus[];
  snapshotVersion: () => number | undefined;
  instances: () => readonly { healthy: boolean }[];
  now?: () => number;
  processMetrics?: boolean;
}

/** Versions whose change time is kept for latency; older ACKs are too late to matter. */
const KEPT_VERSIONS = 256;

export function createControlPlaneMetrics(opts: ControlPlaneMetricsOptions): ControlPlaneMetrics {
  const now = opts.now ?? Date.now;
  const registry = new Registry();
  const registers = [registry];
  const changedAt = new Map<number, number>();

  new Gauge({
    name: 'weft_control_plane_connected_proxies',
    help: 'Proxies connected to the snapshot stream, by role.',
    labelNames: ['role'],
    registers,
    collect() {
      const by: Record<ProxyRole, number> = { gateway: 0, sidecar: 0 };
      for (const p of opts.proxies()) by[p.node.role]++;
      for (const [role, n] of Object.entries(by)) this.set({ role }, n);
    },
  });
  new Gauge({
    name: 'weft_control_plane_proxies_behind',
    help: 'Connected proxies whose ACKed version is older than the current snapshot.',
    registers,
    collect() {
      const v = opts.snapshotVersion();
      this.set(
        v === undefined ? 0 : opts.proxies().filter((p) => (p.ackedVersion ?? -1) < v).length,
      );
    },
  });
  new Gauge({
    name: 'weft_control_plane_snapshot_version',
    help: 'Version of the current snapshot (the store revision it was built from).',
    registers,
    collect() {
      const v = opts.snapshotVersion();
      if (v !== undefined) this.set(v);
    },
  });
  new Gauge({
    name: 'weft_control_plane_instances',
    help: 'Registered service instances, by health.',
    labelNames: ['healthy'],
    registers,
    collect() {
      let healthy = 0;
      let unhealthy = 0;
      for (const i of opts.instances()) {
        if (i.healthy) healthy++;
        else unhealthy++;
      }
      this.set({ healthy: 'true' }, healthy);
      this.set({ healthy: 'false' }, unhealthy);
    },
  });
  const pushes = new Counter({
    name: 'weft_control_plane_pushes_total',
    help: 'Snapshots sent to proxies, by proxy role.',
    labelNames: ['role'],
    registers,
  });
  const acks = new Counter({
    name: 'weft_control_plane_push_responses_total',
    help: 'Proxy answers to pushed snapshots: ack, or nack (the proxy kept its last good one).',
    labelNames: ['role', 'outcome'],
    registers,
  });
  const latency = new Histogram({
    name: 'weft_control_plane_push_latency_seconds',
    help: 'Time from a store change to a proxy ACKing the snapshot that contains it.',
    labelNames: ['role'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const storeErrors = new Counter({
    name: 'weft_control_plane_store_errors_total',
    help: 'Store calls that failed, by what the control plane was doing.',
    labelNames: ['operation'],
    registers,
  });
  if (opts.processMetrics !== false) {
    // Sampled every 100 ms, not every 10: the 10 ms timer alone costs an idle process ~5 ms of
    // CPU a second (the proxy's telemetry/process-metrics.ts has the measurement).
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
    // Gauges named *_total, which `promtool check metrics` rejects; the same numbers are
    // exported without the suffix (nodejs_active_handles, ...).
    for (const kind of ['handles', 'requests', 'resources'])
      registry.removeSingleMetric(`nodejs_active_${kind}_total`);
  }

  return {
    registry,
    published(version, at) {
      if (changedAt.has(version)) return;
      changedAt.set(version, at);
      if (changedAt.size > KEPT_VERSIONS) {
        const oldest = changedAt.keys().next().value;
        if (oldest !== undefined) changedAt.delete(oldest);
      }
    },
    pushed(role) {
      pushes.inc({ role });
    },
    acked(version, role) {
      acks.inc({ role, outcome: 'ack' });
      const at = changedAt.get(version);
      if (at !== undefined) latency.observe({ role }, Math.max(0, now() - at) / 1000);
    },
    nacked(role) {
      acks.inc({ role, outcome: 'nack' });
    },
    storeError(operation) {
      storeErrors.inc({ operation });
    },
  };
}
