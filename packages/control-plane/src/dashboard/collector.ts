// Reads every connected proxy's traffic counters from its admin listener and keeps the mesh
// graph, per-instance signals and a short history per service, which the dashboard API serves.
// Counters stay in the proxies (as Prometheus would scrape them): the control plane only keeps
// a few rounds to take differences, so its cost grows with the number of proxies, not with
// traffic. Every `intervalMs` while someone looks at the dashboard (a dashboard request in the
// last minute, or an open event stream), every `idleIntervalMs` otherwise: a read costs each
// proxy a few ms of CPU, which a mesh nobody is watching should not pay every 2 s
// (docs/performance.md, "Cost of telemetry").

import type { GoldenSignals, HistoryPoint, MeshGraph, ProxyNode, ServiceDetail } from '@weft/model';
import type { CachedResource, ControlPlane } from '../control-plane.js';
import type { SnapshotHub } from '../distribute/hub.js';
import { configRefsFor } from './config-refs.js';
import { buildGraph } from './graph.js';
import {
  flattenReading,
  signalsOf,
  trafficBetween,
  TRAFFIC_METRICS,
  type JsonMetric,
  type Reading,
} from './traffic.js';

export interface CollectorOptions {
  cp: ControlPlane;
  hub: SnapshotHub;
  /** How often proxies are read while someone watches the dashboard. */
  intervalMs?: number;
  /** How often they are read when nobody does (history stays, coarser). */
  idleIntervalMs?: number;
  /** Rates are taken over at least this long (from the newest reading at least this old). */
  windowMs?: number;
  /** How much history a service page can chart. */
  historyMs?: number;
  now?: () => number;
  /** Reads one admin endpoint; tests hand in their own. */
  fetchJson?: (url: string) => Promise<unknown>;
}

interface Round {
  atMs: number;
  readings: Map<string, Reading>;
}

const DEFAULT_INTERVAL_MS = 2_000;
const DEFAULT_IDLE_INTERVAL_MS = 10_000;
/** A dashboard request counts as someone watching for this long. */
const WATCH_MS = 60_000;
const DEFAULT_WINDOW_MS = 10_000;
const DEFAULT_HISTORY_MS = 10 * 60_000;
const READ_TIMEOUT_MS = 1_500;

async function fetchJsonWithTimeout(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

/** The hosts ServiceEntries declare: external nodes, shown before any traffic reaches them. */
function externalHosts(resources: readonly CachedResource[]): string[] {
  const hosts = new Set<string>();
  for (const { resource } of resources) {
    if (resource.kind !== 'ServiceEntry') continue;
    const spec = resource.spec as { hosts?: unknown };
    for (const h of Array.isArray(spec.hosts) ? spec.hosts : [])
      if (typeof h === 'string' && !h.includes('*')) hosts.add(h);
  }
  return [...hosts];
}

export class DashboardCollector {
  private readonly intervalMs: number;
  private readonly idleIntervalMs: number;
  private readonly windowMs: number;
  private readonly historyMs: number;
  private watchedUntil = 0;
  private readonly now: () => number;
  private readonly fetchJson: (url: string) => Promise<unknown>;
  private rounds: Round[] = [];
  private graph: MeshGraph;
  private instanceSignals = new Map<string, GoldenSignals>();
  private readonly history = new Map<string, HistoryPoint[]>();
  private readonly listeners = new Set<(g: MeshGraph) => void>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: CollectorOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.idleIntervalMs = Math.max(
      this.intervalMs,
      opts.idleIntervalMs ?? DEFAULT_IDLE_INTERVAL_MS,
    );
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.historyMs = opts.historyMs ?? DEFAULT_HISTORY_MS;
    this.now = opts.now ?? Date.now;
    this.fetchJson = opts.fetchJson ?? fetchJsonWithTimeout;
    this.graph = this.build(undefined, []);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.collect();
  }

  /** What the timer runs: a round when one is due at the current pace. */
  tick(): Promise<void> {
    const last = this.rounds.at(-1)?.atMs;
    const pace = this.watched() ? this.intervalMs : this.idleIntervalMs;
    // Half an interval of slack: a timer that fires a little early still reads.
    if (last !== undefined && this.now() - last < pace - this.intervalMs / 2)
      return Promise.resolve();
    return this.collect();
  }

  /**
   * Someone looks at the dashboard: read at the fast pace for the next minute, and now if the
   * last reading is older than one fast interval.
   */
  watch(): void {
    const wasWatched = this.watched();
    this.watchedUntil = Math.max(this.watchedUntil, this.now() + WATCH_MS);
    const last = this.rounds.at(-1)?.atMs;
    if (!wasWatched && (last === undefined || this.now() - last >= this.intervalMs))
      void this.collect();
  }

  private watched(): boolean {
    return this.listeners.size > 0 || this.now() < this.watchedUntil;
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  current(): MeshGraph {
    return this.graph;
  }

  /** Called with every new graph; returns the unsubscribe function. A subscriber watches. */
  subscribe(fn: (g: MeshGraph) => void): () => void {
    this.watch();
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** One round: read every proxy, then rebuild the graph. Rounds never overlap. */
  collect(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  service(namespace: string, name: string): ServiceDetail | undefined {
    const id = `service:${namespace}/${name}`;
    const node = this.graph.nodes.find((n) => n.id === id);
    if (node === undefined) return undefined;
    const ejected = new Set<string>();
    for (const r of this.rounds.at(-1)?.readings.values() ?? [])
      for (const e of r.ejected) ejected.add(e);
    const instances = this.opts.cp
      .instanceList()
      .filter((i) => i.service === name && i.namespace === namespace)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((i) => ({
        id: i.id,
        address: i.address,
        port: i.port,
        labels: i.labels,
        healthy: i.healthy,
        ejected: ejected.has(`${i.address}:${i.port}`),
        inbound: this.instanceSignals.get(i.id) ?? signalsOf(undefined),
      }));
    return {
      node,
      instances,
      inboundEdges: this.graph.edges.filter((e) => e.target === id),
      outboundEdges: this.graph.edges.filter((e) => e.source === id),
      config: configRefsFor(this.opts.cp.resources(), name, namespace),
      history: this.history.get(id) ?? [],
    };
  }

  private async round(): Promise<void> {
    const nodes = this.opts.hub.statuses().map((s) => s.node);
    const unreachable: string[] = [];
    const readings = new Map<string, Reading>();
    await Promise.all(
      nodes.map(async (node) => {
        if (node.adminAddress === undefined) return;
        try {
          const url = `http://${node.adminAddress}/stats/json?name=${TRAFFIC_METRICS.join(',')}`;
          const metrics = await this.fetchJson(url);
          if (!Array.isArray(metrics)) throw new Error('not a list of metrics');
          readings.set(
            node.id,
            flattenReading({ node, atMs: this.now(), metrics: metrics as JsonMetric[] }),
          );
        } catch {
          unreachable.push(node.id);
        }
      }),
    );
    const atMs = this.now();
    this.rounds.push({ atMs, readings });
    // Keep the rounds of the rate window, and the newest one older than it (the rate's start).
    while (this.rounds.length > 2 && this.rounds[1]!.atMs <= atMs - this.windowMs)
      this.rounds.shift();
    this.graph = this.build(nodes, unreachable.sort());
    this.record(atMs);
    for (const fn of this.listeners) fn(this.graph);
  }

  private build(nodes: ProxyNode[] | undefined, unreachable: string[]): MeshGraph {
    const last = this.rounds.at(-1);
    // Each proxy is compared with its oldest reading in the window: one that missed a round
    // (busy, restarting) still gets a rate from the reading it has.
    const earlier = new Map<string, Reading>();
    for (const round of this.rounds.slice(0, -1))
      for (const [id, r] of round.readings) if (!earlier.has(id)) earlier.set(id, r);
    const traffic = last === undefined ? undefined : trafficBetween(earlier, last.readings);
    this.instanceSignals = new Map(
      [...(traffic?.instances ?? [])].map(([id, t]) => [id, signalsOf(t)]),
    );
    return buildGraph({
      instances: this.opts.cp.instanceList(),
      externalHosts: externalHosts(this.opts.cp.resources()),
      proxies: nodes ?? [],
      traffic,
      version: this.opts.cp.snapshot()?.version ?? null,
      generatedAt: new Date(this.now()).toISOString(),
      unreachable,
    });
  }

  private record(atMs: number): void {
    for (const node of this.graph.nodes) {
      const points = this.history.get(node.id) ?? [];
      const s = node.inbound;
      points.push({ t: atMs, rps: s.rps, successRate: s.successRate, p99Ms: s.p99Ms });
      while (points.length > 0 && points[0]!.t < atMs - this.historyMs) points.shift();
      this.history.set(node.id, points);
    }
  }
}
