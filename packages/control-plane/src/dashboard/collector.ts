// Reads every connected proxy's traffic counters from its admin listener on a fixed interval
// and keeps the mesh graph, per-instance signals and a short history per service, which the
// dashboard API serves. Counters stay in the proxies (as Prometheus would scrape them): the
// control plane only keeps a few rounds to take differences, so its cost grows with the
// number of proxies, not with traffic.

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
  /** How often proxies are read. */
  intervalMs?: number;
  /** Rates are taken over about this long (a whole number of intervals). */
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
  private readonly windowRounds: number;
  private readonly historyPoints: number;
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
    this.windowRounds = Math.max(
      1,
      Math.round((opts.windowMs ?? DEFAULT_WINDOW_MS) / this.intervalMs),
    );
    this.historyPoints = Math.ceil((opts.historyMs ?? DEFAULT_HISTORY_MS) / this.intervalMs);
    this.now = opts.now ?? Date.now;
    this.fetchJson = opts.fetchJson ?? fetchJsonWithTimeout;
    this.graph = this.build(undefined, []);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.collect(), this.intervalMs);
    this.timer.unref();
    void this.collect();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  current(): MeshGraph {
    return this.graph;
  }

  /** Called with every new graph; returns the unsubscribe function. */
  subscribe(fn: (g: MeshGraph) => void): () => void {
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
    if (this.rounds.length > this.windowRounds + 1) this.rounds.shift();
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
      if (points.length > this.historyPoints) points.shift();
      this.history.set(node.id, points);
    }
  }
}
