// A proxy's metrics: Istio's standard HTTP metrics (istio_requests_total and the three
// histograms, Istio's labels and buckets) and Weft's own (weft_*): connections, the upstream
// pool, retries, ejections, the snapshot in use, access-log drops. One prom-client registry
// per proxy, served by the admin server (admin/server.ts) at /stats/prometheus.
//
// The request metrics subscribe to the request-end channel and take its events in batches
// (telemetry/batch.ts), each scrape first taking what waits. Per request they cost a few map
// lookups and a few additions (telemetry/series.ts); labels are worked out once per series.
// Everything else is read when Prometheus scrapes.

import diagnosticsChannel from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { ProxyNode } from '@weft/model';
import type { RouteTable, RuntimeCluster } from '../compile/types.js';
import type { AgentPool } from '../upstream/agent-pool.js';
import {
  CHANNEL_NAMES,
  type EndpointEjectedEvent,
  type RequestEndEvent,
  type TableSwappedEvent,
} from './channels.js';
import {
  istioLabels,
  serviceOfNode,
  splitServiceHost,
  UNKNOWN_SERVICE,
  UNKNOWN_WORKLOAD,
  workloadOf,
  workloadOfNode,
  type ServiceRef,
  type Workload,
} from './istio-labels.js';
import { MAX_DISTINCT, trustedPeerMetadata, peerWorkload } from './peer-metadata.js';
import { createEventBatch, TELEMETRY_BATCH_MS } from './batch.js';
import { addProcessMetrics } from './process-metrics.js';
import { SeriesSet, seriesCounter, seriesHistogram, type Series } from './series.js';
import type { SpanExportStats } from './tracing/events.js';

export interface ProxyMetricsOptions {
  node: ProxyNode;
  /** The route table in use (for endpoint labels and ejected endpoints). */
  table: () => RouteTable | undefined;
  /** Connection pools to report (the data plane's, the inbound one). */
  agents?: readonly AgentPool[];
  /**
   * Listeners whose open downstream connections are reported, by name; `accepted` (the mesh
   * inbound listener) counts connections by what they spoke.
   */
  listeners?: readonly {
    name: string;
    server: Server;
    /** Counts the connections when `server` never listens itself (the mesh listener). */
    acceptor?: NetServer;
    accepted?: () => { mutualTls: number; plaintext: number };
  }[];
  /** Access-log sinks' counters, when access logs are on. */
  accessLog?: { written(): number; dropped(): number } | undefined;
  /** Span export counters, when tracing is on (telemetry/tracing/). */
  tracingStats?: (() => SpanExportStats) | undefined;
  /** Process and Node.js metrics (process_*, nodejs_*); default on. */
  processMetrics?: boolean;
  /** Longest a finished request waits before it is counted (a scrape counts it at once). */
  batchMs?: number;
  now?: () => number;
}

export interface ProxyMetrics {
  readonly registry: Registry;
  /** Records one finished request (what the channel's batch calls). */
  record(e: RequestEndEvent): void;
  close(): void;
}

interface ClusterInfo {
  service: ServiceRef;
  endpoints: Map<string, Workload>;
}

export const STANDARD_METRIC_NAMES = {
  requests: 'istio_requests_total',
  duration: 'istio_request_duration_milliseconds',
  requestBytes: 'istio_request_bytes',
  responseBytes: 'istio_response_bytes',
  routeRequests: 'weft_route_requests_total',
  routeDuration: 'weft_route_request_duration_seconds',
} as const;

interface Resolved {
  istio: Series;
  route: Series;
}

/** One level of the request-shape tree: inner levels hold maps, the last one series. */
type Shapes = Map<string | number | undefined, Shapes | Resolved>;

function branch(m: Shapes, k: string | number | undefined): Shapes {
  let next = m.get(k) as Shapes | undefined;
  if (next === undefined) {
    next = new Map();
    m.set(k, next);
  }
  return next;
}

export function createProxyMetrics(opts: ProxyMetricsOptions): ProxyMetrics {
  const { node } = opts;
  const now = opts.now ?? Date.now;
  const registry = new Registry();
  const self = workloadOfNode(node);
  const ownService = serviceOfNode(node);

  // Istio series, and per-route series for `weft top` (route ids come from configuration).
  const istio = new SeriesSet();
  const routes = new SeriesSet();
  // Request shape -> series, rebuilt when the table changes (endpoint labels may change). A
  // tree of maps (kind, route, cluster, endpoint, status, then flags) rather than one map by a
  // joined key: route, cluster and endpoint are the snapshot's own strings, whose hashes V8
  // keeps, so a request costs a few lookups and no string building (measured: the joined key
  // was half of a request's metrics time).
  let fast: Shapes = new Map();
  let fastTable: RouteTable | undefined;
  let clusterCache = new Map<string, ClusterInfo>();

  const clusterInfo = (table: RouteTable | undefined, name: string): ClusterInfo | undefined => {
    const hit = clusterCache.get(name);
    if (hit !== undefined) return hit;
    const c: RuntimeCluster | undefined = table?.clusters.get(name);
    if (c === undefined) return undefined;
    const svc = splitServiceHost(c.service);
    const info: ClusterInfo = {
      service: { host: c.service, ...svc },
      endpoints: new Map(
        c.endpoints.map((ep) => [ep.key, workloadOf(ep.labels, svc.name, svc.namespace)]),
      ),
    };
    clusterCache.set(name, info);
    return info;
  };

  // Peer metadata values seen (telemetry/peer-metadata.ts), at most MAX_DISTINCT: past that a
  // new value counts as absent, so a peer cannot mint series by varying its metadata.
  const metadataSeen = new Set<string>();
  const accepted = (v: string | undefined): string | undefined => {
    if (v === undefined || metadataSeen.has(v)) return v;
    if (metadataSeen.size >= MAX_DISTINCT) return undefined;
    metadataSeen.add(v);
    return v;
  };

  const resolve = (e: RequestEndEvent, meta: string | undefined, upMeta: string | undefined) => {
    let peer = UNKNOWN_WORKLOAD;
    let service = UNKNOWN_SERVICE;
    if (e.kind === 'inbound') {
      service = ownService;
      // The caller: its metadata if its certificate vouches for it, else what the certificate
      // says; plaintext callers stay unknown (Istio's behaviour without metadata exchange).
      peer = peerWorkload(meta, e.peerPrincipal) ?? UNKNOWN_WORKLOAD;
    } else if (e.cluster !== undefined) {
      const info = clusterInfo(fastTable, e.cluster);
      if (info !== undefined) {
        service = info.service;
        const w = e.endpoint === undefined ? undefined : info.endpoints.get(e.endpoint);
        // No endpoint answered (UH, or every try failed before one): Istio still names the
        // service, and the workload stays unknown.
        peer = w ?? UNKNOWN_WORKLOAD;
      }
      // Over mutual TLS the endpoint proved its identity: that is destination_principal, and
      // its answering metadata (if it agrees) names the workload; else the snapshot's labels.
      if (e.upstreamIdentity !== undefined) {
        peer = trustedPeerMetadata(upMeta, e.upstreamIdentity) ?? {
          ...peer,
          principal: e.upstreamIdentity,
        };
      }
    }
    const labels = istioLabels({
      kind: e.kind,
      self,
      peer,
      service,
      status: e.status,
      flags: e.flag,
      mutualTls: e.mutualTls,
      peerPrincipal: e.peerPrincipal,
      grpc: e.grpc,
      grpcStatus: e.grpcStatus,
    });
    return {
      istio: istio.get(labels),
      route: routes.get({
        reporter: labels.reporter,
        route: e.routeId ?? '-',
        destination_service: service.host,
        response_code: labels.response_code,
      }),
    };
  };

  const record = (e: RequestEndEvent) => {
    // Labels come from the table in use when the request is counted, which may be newer than
    // the one it ran on (it ended just before a swap, and its batch was taken after): an
    // endpoint the new table no longer has is then an unknown workload. The window is a
    // request's duration plus one batch interval.
    const table = opts.table();
    if (table !== fastTable) {
      fastTable = table;
      fast = new Map();
      clusterCache = new Map();
    }
    const byFlags = branch(
      branch(branch(branch(branch(fast, e.kind), e.routeId), e.cluster), e.endpoint),
      e.status,
    );
    // Mesh and gRPC facts only where there are any: a gateway's last key is its flags alone.
    const mesh = e.mutualTls === true || e.upstreamIdentity !== undefined;
    // Only what authenticated peers sent counts against the bound: the caller's metadata on
    // an inbound mTLS connection, the answer of an endpoint that proved its identity.
    const meta =
      e.kind === 'inbound' && e.mutualTls === true ? accepted(e.peerMetadata) : undefined;
    const upMeta = e.upstreamIdentity !== undefined ? accepted(e.upstreamPeerMetadata) : undefined;
    const key =
      mesh || e.grpc === true
        ? `${e.flag}|${e.peerPrincipal}|${meta}|${e.upstreamIdentity}|${upMeta}|${e.grpc}|${e.grpcStatus}`
        : e.flag;
    let s = byFlags.get(key) as Resolved | undefined;
    if (s === undefined) {
      s = resolve(e, meta, upMeta);
      byFlags.set(key, s);
    }
    const ms = e.durationMs;
    s.istio.count++;
    s.istio.duration.observe(ms);
    if (e.requestBytes !== undefined) s.istio.requestBytes.observe(e.requestBytes);
    if (e.responseBytes !== undefined) s.istio.responseBytes.observe(e.responseBytes);
    s.route.count++;
    s.route.durationSeconds.observe(ms / 1000);
    if (e.attempts > 1 && e.cluster !== undefined)
      retries.inc({ cluster: e.cluster }, e.attempts - 1);
  };

  // Requests end in batches; whatever reads what they recorded takes the waiting ones first.
  const pending = createEventBatch<RequestEndEvent>((events) => {
    for (let i = 0; i < events.length; i++) record(events[i]!);
  }, opts.batchMs ?? TELEMETRY_BATCH_MS);
  const all = () => {
    pending.flush();
    return istio.all();
  };
  registry.registerMetric(
    seriesCounter(
      STANDARD_METRIC_NAMES.requests,
      'Requests, counted when they end (Istio standard metric).',
      all,
      (s) => s.count,
    ),
  );
  registry.registerMetric(
    seriesHistogram(
      STANDARD_METRIC_NAMES.duration,
      'Request duration in milliseconds, from the first byte received to the last byte sent (Istio standard metric).',
      all,
      (s) => s.duration,
    ),
  );
  registry.registerMetric(
    seriesHistogram(
      STANDARD_METRIC_NAMES.requestBytes,
      'Request size in bytes on the downstream wire, headers included (Istio standard metric).',
      all,
      (s) => s.requestBytes,
    ),
  );
  registry.registerMetric(
    seriesHistogram(
      STANDARD_METRIC_NAMES.responseBytes,
      'Response size in bytes on the downstream wire, headers included (Istio standard metric).',
      all,
      (s) => s.responseBytes,
    ),
  );
  const allRoutes = () => {
    pending.flush();
    return routes.all();
  };
  registry.registerMetric(
    seriesCounter(
      STANDARD_METRIC_NAMES.routeRequests,
      'Requests per route and response code.',
      allRoutes,
      (s) => s.count,
    ),
  );
  registry.registerMetric(
    seriesHistogram(
      STANDARD_METRIC_NAMES.routeDuration,
      'Request duration per route in seconds (the Istio buckets, in seconds).',
      allRoutes,
      (s) => s.durationSeconds,
    ),
  );

  const registers = [registry];
  const retries = new Counter({
    name: 'weft_upstream_retries_total',
    help: 'Upstream tries after the first one, per cluster.',
    labelNames: ['cluster'],
    registers,
    collect: () => pending.flush(),
  });
  const ejections = new Counter({
    name: 'weft_outlier_ejections_total',
    help: 'Endpoints ejected by outlier detection, per cluster.',
    labelNames: ['cluster'],
    registers,
  });
  const swaps = new Counter({
    name: 'weft_snapshot_swaps_total',
    help: 'Route tables swapped in (snapshots applied).',
    registers,
  });
  const version = new Gauge({
    name: 'weft_snapshot_version',
    help: 'Version of the snapshot the proxy runs (the store revision it was built from).',
    registers,
    collect() {
      const v = opts.table()?.version;
      if (v !== undefined) this.set(v);
    },
  });
  void version;
  new Gauge({
    name: 'weft_outlier_ejected_endpoints',
    help: 'Endpoints ejected right now, per cluster.',
    labelNames: ['cluster'],
    registers,
    collect() {
      this.reset();
      const table = opts.table();
      if (table === undefined) return;
      const t = now();
      for (const c of table.clusters.values()) {
        let n = 0;
        for (const ep of c.endpoints) if (ep.outlier.ejectedUntil > t) n++;
        if (n > 0) this.set({ cluster: c.name }, n);
      }
    },
  });
  // One series per ejected endpoint (value 1), so the dashboard can mark the instance; the
  // endpoints come from configuration, so the label set stays bounded.
  new Gauge({
    name: 'weft_outlier_endpoint_ejected',
    help: 'Endpoints ejected right now: 1 per cluster and endpoint (address:port) while ejected.',
    labelNames: ['cluster', 'endpoint'],
    registers,
    collect() {
      this.reset();
      const table = opts.table();
      if (table === undefined) return;
      const t = now();
      for (const c of table.clusters.values())
        for (const ep of c.endpoints)
          if (ep.outlier.ejectedUntil > t) this.set({ cluster: c.name, endpoint: ep.key }, 1);
    },
  });
  new Gauge({
    name: 'weft_upstream_connections',
    help: 'Upstream connections in the keep-alive pools, by state (active: carrying a request).',
    labelNames: ['state'],
    registers,
    collect() {
      let active = 0;
      let idle = 0;
      for (const pool of opts.agents ?? []) {
        const s = pool.stats();
        active += s.active;
        idle += s.idle;
      }
      this.set({ state: 'active' }, active);
      this.set({ state: 'idle' }, idle);
    },
  });
  new Gauge({
    name: 'weft_upstream_pool_endpoints',
    help: 'Endpoints with a connection pool.',
    registers,
    collect() {
      let n = 0;
      for (const pool of opts.agents ?? []) n += pool.size();
      this.set(n);
    },
  });
  new Gauge({
    name: 'weft_downstream_connections_active',
    help: 'Open downstream connections, per listener.',
    labelNames: ['listener'],
    registers,
    async collect() {
      for (const l of opts.listeners ?? []) {
        const n = await new Promise<number>((resolve) =>
          (l.acceptor ?? l.server).getConnections((err, count) => resolve(err ? 0 : count)),
        );
        this.set({ listener: l.name }, n);
      }
    },
  });
  const counted = (opts.listeners ?? []).filter((l) => l.accepted !== undefined);
  if (counted.length > 0)
    new Counter({
      name: 'weft_downstream_connections_total',
      help: 'Downstream connections accepted, by listener and security (mutual_tls: completed mTLS handshakes).',
      labelNames: ['listener', 'security'],
      registers,
      collect() {
        this.reset();
        for (const l of counted) {
          const a = l.accepted!();
          this.inc({ listener: l.name, security: 'mutual_tls' }, a.mutualTls);
          this.inc({ listener: l.name, security: 'none' }, a.plaintext);
        }
      },
    });
  if (opts.accessLog !== undefined) {
    const sink = opts.accessLog;
    new Counter({
      name: 'weft_access_log_lines_total',
      help: 'Access log lines, by outcome (dropped: the disk was too slow and the buffer full).',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'written' }, sink.written());
        this.inc({ outcome: 'dropped' }, sink.dropped());
      },
    });
  }
  if (opts.tracingStats !== undefined) {
    const stats = opts.tracingStats;
    new Counter({
      name: 'weft_tracing_spans_total',
      help: 'Spans sent to the OTLP collector, by outcome (dropped: queue full, or the collector did not take them).',
      labelNames: ['outcome'],
      registers,
      collect() {
        const s = stats();
        this.reset();
        this.inc({ outcome: 'exported' }, s.exported);
        this.inc({ outcome: 'dropped' }, s.dropped);
      },
    });
    new Counter({
      name: 'weft_tracing_export_failures_total',
      help: 'OTLP export requests that failed (collector down, slow or refusing).',
      registers,
      collect() {
        this.reset();
        this.inc(stats().failedExports);
      },
    });
  }
  if (opts.processMetrics !== false) addProcessMetrics(registry);

  const onRequestEnd = (m: unknown) => {
    const e = m as RequestEndEvent;
    if (e.proxyId === node.id) pending.push(e, 0);
  };
  const onEjected = (m: unknown) => {
    const e = m as EndpointEjectedEvent;
    if (e.proxyId === node.id) ejections.inc({ cluster: e.cluster });
  };
  const onSwapped = (m: unknown) => {
    if ((m as TableSwappedEvent).proxyId === node.id) swaps.inc();
  };
  diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onRequestEnd);
  diagnosticsChannel.subscribe(CHANNEL_NAMES.endpointEjected, onEjected);
  diagnosticsChannel.subscribe(CHANNEL_NAMES.tableSwapped, onSwapped);

  return {
    registry,
    record,
    close() {
      diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onRequestEnd);
      pending.flush();
      diagnosticsChannel.unsubscribe(CHANNEL_NAMES.endpointEjected, onEjected);
      diagnosticsChannel.unsubscribe(CHANNEL_NAMES.tableSwapped, onSwapped);
      registry.clear();
    },
  };
}
