// Traffic between the mesh's nodes, worked out from two readings of every proxy's metrics
// (the JSON form of istio_requests_total and istio_request_duration_milliseconds that each
// proxy serves on its admin listener). Pure: readings in, rates out. The graph is keyed on
// who reported, not on the labels alone, so a gateway is one node whatever Istio names its
// workload, and each sidecar's inbound side gives its own instance's golden signals.

import type { GoldenSignals, ProxyNode } from '@weft/model';

/** prom-client's getMetricsAsJSON() shape, which the admin endpoint /stats/json serves. */
export interface JsonMetric {
  name: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

export interface ProxyReading {
  node: ProxyNode;
  atMs: number;
  metrics: readonly JsonMetric[];
}

/** The metric names the collector asks each proxy for. */
export const TRAFFIC_METRICS = [
  'istio_requests_total',
  'istio_request_duration_milliseconds',
  'weft_outlier_endpoint_ejected',
];

interface Tally {
  requests: number;
  errors: number;
  /** Cumulative histogram: upper bound (ms) -> count, as Prometheus buckets are. */
  buckets: Map<number, number>;
}

/** One proxy's counters, by series key (see `keyOf`). */
export type Flattened = Map<string, Tally>;

export interface Reading {
  node: ProxyNode;
  atMs: number;
  tallies: Flattened;
  /** `address:port` of the endpoints this proxy has ejected right now. */
  ejected: Set<string>;
}

const SEP = '\u0000';

/** Which node a proxy stands for when it reports as the caller. */
export function sourceNodeId(node: ProxyNode): string {
  if (node.role === 'gateway') return gatewayNodeId(node);
  return node.service === undefined ? 'unknown' : `service:${node.namespace}/${node.service}`;
}

export function gatewayNodeId(node: ProxyNode): string {
  // Replicas of one gateway share their labels; name the node after them, not the process.
  const name = node.labels.app ?? node.labels.istio ?? 'gateway';
  return `gateway:${node.namespace}/${name}`;
}

/** A destination as the metrics name it: a mesh service, or an external host. */
export function destinationNodeId(name: string, namespace: string): string {
  if (name === '' || name === 'unknown') return 'unknown';
  if (namespace === '' || namespace === 'unknown') return `external:${name}`;
  return `service:${namespace}/${name}`;
}

function label(labels: Record<string, string | number>, name: string): string {
  const v = labels[name];
  return v === undefined ? '' : String(v);
}

function keyOf(labels: Record<string, string | number>): string {
  return [
    label(labels, 'reporter'),
    label(labels, 'destination_service_name'),
    label(labels, 'destination_service_namespace'),
  ].join(SEP);
}

function tallyFor(into: Flattened, key: string): Tally {
  let t = into.get(key);
  if (t === undefined) {
    t = { requests: 0, errors: 0, buckets: new Map() };
    into.set(key, t);
  }
  return t;
}

/** Sums a proxy's series over the labels the graph does not use (code, flags, versions). */
export function flattenReading(reading: ProxyReading): Reading {
  const tallies: Flattened = new Map();
  const ejected = new Set<string>();
  for (const m of reading.metrics) {
    if (m.name === 'weft_outlier_endpoint_ejected') {
      for (const v of m.values) if (v.value > 0) ejected.add(label(v.labels, 'endpoint'));
    } else if (m.name === 'istio_requests_total') {
      for (const v of m.values) {
        const t = tallyFor(tallies, keyOf(v.labels));
        t.requests += v.value;
        if (Number(label(v.labels, 'response_code')) >= 500) t.errors += v.value;
      }
    } else if (m.name === 'istio_request_duration_milliseconds') {
      for (const v of m.values) {
        if (v.metricName !== undefined && !v.metricName.endsWith('_bucket')) continue;
        const le = label(v.labels, 'le');
        if (le === '') continue;
        const bound = le === '+Inf' ? Infinity : Number(le);
        const t = tallyFor(tallies, keyOf(v.labels));
        t.buckets.set(bound, (t.buckets.get(bound) ?? 0) + v.value);
      }
    }
  }
  return { node: reading.node, atMs: reading.atMs, tallies, ejected };
}

/** The quantile q of a cumulative histogram, interpolating inside a bucket as Prometheus does. */
export function bucketQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      // Beyond the last finite bucket nothing better is known than its bound.
      if (!Number.isFinite(bound)) return prevBound;
      const inBucket = count - prevCount;
      return inBucket <= 0
        ? bound
        : prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** What happened between two readings of one series; a counter that went down restarted. */
function delta(prev: Tally | undefined, cur: Tally): Tally {
  if (prev === undefined || cur.requests < prev.requests) return cur;
  const buckets = new Map<number, number>();
  for (const [bound, count] of cur.buckets)
    buckets.set(bound, count - (prev.buckets.get(bound) ?? 0));
  return { requests: cur.requests - prev.requests, errors: cur.errors - prev.errors, buckets };
}

function add(into: Tally, t: Tally): void {
  into.requests += t.requests;
  into.errors += t.errors;
  for (const [bound, count] of t.buckets)
    into.buckets.set(bound, (into.buckets.get(bound) ?? 0) + count);
}

/** Golden signals of a tally of rates (requests per second). */
export function signalsOf(t: Tally | undefined): GoldenSignals {
  if (t === undefined || t.requests <= 0) {
    return { rps: 0, successRate: null, p50Ms: null, p99Ms: null };
  }
  return {
    rps: t.requests,
    successRate: (t.requests - t.errors) / t.requests,
    p50Ms: bucketQuantile(0.5, t.buckets),
    p99Ms: bucketQuantile(0.99, t.buckets),
  };
}

export interface Traffic {
  /** How long the readings span (the longest of any proxy), for display. */
  seconds: number;
  /** `source->target` -> what the caller's proxies reported, per second. */
  edges: Map<string, { source: string; target: string; tally: Tally }>;
  /** Instance id -> what its sidecar received (reporter=destination), per second. */
  instances: Map<string, Tally>;
  /** Node id -> everything its own sidecars received, per second. */
  inbound: Map<string, Tally>;
}

/** Instance ids come from sidecar ids (`user-1.sidecar`), as run/sidecar.ts names them. */
export function instanceIdOf(node: ProxyNode): string | undefined {
  return node.role === 'sidecar' && node.id.endsWith('.sidecar')
    ? node.id.slice(0, -'.sidecar'.length)
    : undefined;
}

function scaled(t: Tally, by: number): Tally {
  const buckets = new Map<number, number>();
  for (const [bound, count] of t.buckets) buckets.set(bound, count * by);
  return { requests: t.requests * by, errors: t.errors * by, buckets };
}

/**
 * Rates between each proxy's earlier reading in `prev` and its reading in `cur`, per second
 * of that proxy's own span: proxies are read at slightly different moments, and one that
 * missed a round is compared with the reading it has. A proxy with no earlier reading gives
 * no rate yet (its counters hold its whole life, not this window); a series new in a known
 * proxy counts from zero.
 */
export function trafficBetween(
  prev: ReadonlyMap<string, Reading>,
  cur: ReadonlyMap<string, Reading>,
): Traffic {
  const out: Traffic = { seconds: 0, edges: new Map(), instances: new Map(), inbound: new Map() };
  for (const [proxyId, reading] of cur) {
    const before = prev.get(proxyId);
    if (before === undefined || reading.atMs <= before.atMs) continue;
    const seconds = (reading.atMs - before.atMs) / 1000;
    out.seconds = Math.max(out.seconds, seconds);
    for (const [key, tally] of reading.tallies) {
      const d = delta(before.tallies.get(key), tally);
      if (d.requests <= 0) continue;
      const rate = scaled(d, 1 / seconds);
      const [reporter, name = '', namespace = ''] = key.split(SEP);
      if (reporter === 'destination') {
        const instance = instanceIdOf(reading.node);
        if (instance !== undefined) add(tallyFor(out.instances, instance), rate);
        add(tallyFor(out.inbound, sourceNodeId(reading.node)), rate);
        continue;
      }
      const source = sourceNodeId(reading.node);
      const target = destinationNodeId(name, namespace);
      const id = `${source}->${target}`;
      let edge = out.edges.get(id);
      if (edge === undefined) {
        edge = { source, target, tally: { requests: 0, errors: 0, buckets: new Map() } };
        out.edges.set(id, edge);
      }
      add(edge.tally, rate);
    }
  }
  return out;
}
