// The arithmetic of `weft top`: two samples of every proxy's counters and histograms, their
// difference over the time between them, grouped per service or per route, with Linkerd's
// golden metrics (requests per second, success rate = share of non-5xx, latency quantiles).
// Quantiles are read off the histogram buckets as Prometheus's histogram_quantile() does
// (linear within a bucket), so `top` and a Grafana panel agree.

/** prom-client's JSON form of one metric (what /stats/json serves). */
export interface JsonMetric {
  name: string;
  type: string;
  values: { metricName?: string; labels: Record<string, string | number>; value: number }[];
}

export interface Sample {
  /** Per series (proxy + metric name + labels), its value. */
  values: Map<string, { metric: string; labels: Record<string, string>; value: number }>;
  atMs: number;
}

export function flatten(
  proxy: string,
  metrics: readonly JsonMetric[],
  atMs: number,
  into?: Sample,
): Sample {
  const sample = into ?? { values: new Map(), atMs };
  for (const m of metrics) {
    for (const v of m.values) {
      const metric = v.metricName ?? m.name;
      const labels: Record<string, string> = {};
      for (const [k, x] of Object.entries(v.labels)) labels[k] = String(x);
      const key = `${proxy}\u0000${metric}\u0000${JSON.stringify(labels)}`;
      sample.values.set(key, { metric, labels, value: v.value });
    }
  }
  return sample;
}

export interface GoldenRow {
  name: string;
  requests: number;
  /** Requests answered 5xx. */
  failures: number;
  rps: number;
  /** 0..1, null without requests. */
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** histogram_quantile over cumulative buckets `[le, count]` (le may be Infinity). */
export function bucketQuantile(q: number, buckets: readonly [number, number][]): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.length > 0 ? sorted[sorted.length - 1]![1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevBound;
      if (count === prevCount) return le;
      return prevBound + ((le - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = le;
    prevCount = count;
  }
  return prevBound;
}

interface Group {
  requests: number;
  failures: number;
  buckets: Map<number, number>;
}

export type TopBy = 'service' | 'route';

/**
 * Rows from two samples. Per service: what the destination's sidecars report (Istio's
 * reporter=destination), or what callers report for a service without sidecars. Per route:
 * what the gateway and sidecars report for the routes they matched.
 */
export function goldenRows(prev: Sample, cur: Sample, by: TopBy): GoldenRow[] {
  const seconds = Math.max(0.001, (cur.atMs - prev.atMs) / 1000);
  const counter = by === 'service' ? 'istio_requests_total' : 'weft_route_requests_total';
  const bucketMetric =
    by === 'service'
      ? 'istio_request_duration_milliseconds_bucket'
      : 'weft_route_request_duration_seconds_bucket';
  const toMs = by === 'service' ? 1 : 1000;
  const groups = new Map<string, Map<string, Group>>(); // reporter -> name -> group
  const groupOf = (labels: Record<string, string>): Group | undefined => {
    let name = by === 'service' ? labels.destination_service : labels.route;
    if (name === undefined || name === 'unknown' || name === '-') return undefined;
    if (by === 'route') {
      // The sidecar's inbound "route" is the service view's business.
      if (name === 'inbound') return undefined;
      // Every service without a VirtualService has an implicit route named `default`.
      if (name === 'default') name = `default (${labels.destination_service ?? 'unknown'})`;
    }
    const reporter = labels.reporter ?? 'source';
    let byName = groups.get(reporter);
    if (byName === undefined) groups.set(reporter, (byName = new Map()));
    let g = byName.get(name);
    if (g === undefined) byName.set(name, (g = { requests: 0, failures: 0, buckets: new Map() }));
    return g;
  };
  for (const [key, c] of cur.values) {
    if (c.metric !== counter && c.metric !== bucketMetric) continue;
    const before = prev.values.get(key)?.value ?? 0;
    // A proxy that restarted starts from zero again.
    const delta = c.value >= before ? c.value - before : c.value;
    const g = groupOf(c.labels);
    if (g === undefined) continue;
    if (c.metric === counter) {
      g.requests += delta;
      if ((c.labels.response_code ?? '').startsWith('5')) g.failures += delta;
    } else {
      const le = c.labels.le === '+Inf' ? Infinity : Number(c.labels.le) * toMs;
      g.buckets.set(le, (g.buckets.get(le) ?? 0) + delta);
    }
  }
  const chosen = new Map<string, Group>();
  // Destination-side numbers where a sidecar reports them; callers' numbers otherwise.
  for (const reporter of ['destination', 'source']) {
    for (const [name, g] of groups.get(reporter) ?? []) if (!chosen.has(name)) chosen.set(name, g);
  }
  return [...chosen.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, g]) => {
      const buckets = [...g.buckets.entries()];
      const q = (x: number) => (g.requests > 0 ? bucketQuantile(x, buckets) : null);
      return {
        name,
        requests: g.requests,
        failures: g.failures,
        rps: g.requests / seconds,
        successRate: g.requests > 0 ? (g.requests - g.failures) / g.requests : null,
        p50Ms: q(0.5),
        p95Ms: q(0.95),
        p99Ms: q(0.99),
      };
    });
}
