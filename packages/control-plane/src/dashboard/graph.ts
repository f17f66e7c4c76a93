// The mesh as a graph: services from the registry (instances, versions, health), gateways
// from the connected proxies, and edges from observed traffic. Pure: the collector hands in
// what it read; the same inputs always give the same graph.

import type {
  GoldenSignals,
  GraphEdge,
  GraphNode,
  Instance,
  MeshGraph,
  NodeHealth,
  ProxyNode,
} from '@weft/model';
import { gatewayNodeId, signalsOf, type Traffic } from './traffic.js';

export interface GraphInput {
  instances: readonly Instance[];
  /** Hosts of ServiceEntries (external services), nodes even before traffic reaches them. */
  externalHosts?: readonly string[];
  proxies: readonly ProxyNode[];
  traffic: Traffic | undefined;
  version: number | null;
  generatedAt: string;
  unreachable: string[];
}

const NO_SIGNALS: GoldenSignals = { rps: 0, successRate: null, p50Ms: null, p99Ms: null };

/** Success under these shares makes a node or edge degraded / unhealthy. */
export const DEGRADED_BELOW = 0.99;
export const UNHEALTHY_BELOW = 0.95;

export function healthOf(
  signals: GoldenSignals,
  instances: { total: number; healthy: number } | undefined,
): NodeHealth {
  const rate = signals.successRate;
  if (instances !== undefined && instances.total > 0 && instances.healthy === 0) return 'unhealthy';
  if (rate !== null && rate < UNHEALTHY_BELOW) return 'unhealthy';
  if (instances !== undefined && instances.healthy < instances.total) return 'degraded';
  if (rate !== null && rate < DEGRADED_BELOW) return 'degraded';
  if ((instances === undefined || instances.total === 0) && rate === null) return 'idle';
  return 'healthy';
}

function nodeFromId(id: string): GraphNode {
  const [kind, rest = ''] = id.split(':', 2) as [string, string?];
  const slash = rest.indexOf('/');
  const known = kind === 'service' || kind === 'gateway' || kind === 'external';
  return {
    id,
    kind: known ? (kind as GraphNode['kind']) : 'unknown',
    name: !known ? 'unknown' : slash >= 0 ? rest.slice(slash + 1) : rest,
    namespace: slash >= 0 ? rest.slice(0, slash) : '',
    health: 'idle',
    instances: { total: 0, healthy: 0 },
    versions: [],
    inbound: NO_SIGNALS,
  };
}

export function buildGraph(input: GraphInput): MeshGraph {
  const nodes = new Map<string, GraphNode>();
  const versions = new Map<string, Set<string>>();
  for (const i of input.instances) {
    const id = `service:${i.namespace}/${i.service}`;
    const node = nodes.get(id) ?? nodeFromId(id);
    node.instances = {
      total: node.instances.total + 1,
      healthy: node.instances.healthy + (i.healthy ? 1 : 0),
    };
    if (i.labels.version !== undefined) {
      const set = versions.get(id) ?? new Set<string>();
      set.add(i.labels.version);
      versions.set(id, set);
    }
    nodes.set(id, node);
  }
  for (const host of input.externalHosts ?? []) {
    const id = `external:${host}`;
    if (!nodes.has(id)) nodes.set(id, nodeFromId(id));
  }
  for (const p of input.proxies) {
    if (p.role !== 'gateway') continue;
    const id = gatewayNodeId(p);
    if (!nodes.has(id)) nodes.set(id, nodeFromId(id));
  }
  const edges: GraphEdge[] = [];
  for (const [id, e] of input.traffic?.edges ?? []) {
    for (const end of [e.source, e.target]) if (!nodes.has(end)) nodes.set(end, nodeFromId(end));
    const signals = signalsOf(e.tally);
    edges.push({
      id,
      source: e.source,
      target: e.target,
      signals,
      health: healthOf(signals, undefined),
    });
  }
  for (const node of nodes.values()) {
    node.versions = [...(versions.get(node.id) ?? [])].sort();
    const own = input.traffic?.inbound.get(node.id);
    // Nodes without sidecars of their own (external hosts) are seen only by their callers.
    node.inbound =
      own !== undefined ? signalsOf(own) : sumEdges(edges.filter((e) => e.target === node.id));
    node.health = healthOf(node.inbound, node.kind === 'service' ? node.instances : undefined);
  }
  return {
    generatedAt: input.generatedAt,
    version: input.version,
    windowSeconds: input.traffic?.seconds ?? 0,
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    edges: edges.sort((a, b) => a.id.localeCompare(b.id)),
    unreachable: input.unreachable,
  };
}

/** Requests into a node from several callers: rates add, success is request-weighted. */
function sumEdges(into: readonly GraphEdge[]): GoldenSignals {
  let rps = 0;
  let ok = 0;
  let p99: number | null = null;
  let p50: number | null = null;
  for (const e of into) {
    rps += e.signals.rps;
    ok += e.signals.rps * (e.signals.successRate ?? 1);
    // Without the merged histogram the worst caller's tail is the honest bound.
    if (e.signals.p99Ms !== null) p99 = Math.max(p99 ?? 0, e.signals.p99Ms);
    if (e.signals.p50Ms !== null) p50 = Math.max(p50 ?? 0, e.signals.p50Ms);
  }
  return rps > 0 ? { rps, successRate: ok / rps, p50Ms: p50, p99Ms: p99 } : NO_SIGNALS;
}
