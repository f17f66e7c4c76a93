// Distributed tracing for the proxy (docs/observability.md#tracing): W3C and B3 propagation,
// parent-based sampling, Istio's span attributes, OTLP/HTTP export.

// This module is light on purpose: OpenTelemetry's exporter and SDK types are loaded only when
// a proxy turns tracing on (createTracing), so a proxy without tracing starts as fast as before.

import type { ProxyNode } from '@weft/model';
import type { LogFn } from '../log.js';
import type { SpanExportStats } from './events.js';
import type { SpanExportOptions } from './export.js';
import type { Tracer, TracerNode } from './tracer.js';

export { SPAN_EXPORT_CHANNEL } from './events.js';
export type { SpanExportEvent, SpanExportStats } from './events.js';
export type { SpanExportOptions } from './export.js';
export type {
  RequestEndInfo,
  RequestTrace,
  TraceHop,
  Tracer,
  TracerNode,
  TracerOptions,
} from './tracer.js';

/** Istio's default sampling rate (meshConfig.defaultConfig.tracing.sampling), in percent. */
export const DEFAULT_TRACE_SAMPLING_PERCENT = 1;

export interface TracingOptions {
  /** OTLP/HTTP traces endpoint; `http://host:4318` gets `/v1/traces` appended. */
  otlpEndpoint: string;
  samplingPercent?: number;
  node: TracerNode;
  log?: LogFn;
  export?: Omit<SpanExportOptions, 'endpoint' | 'log'>;
  random?: () => number;
}

export interface Tracing {
  readonly tracer: Tracer;
  stats(): SpanExportStats;
  /** Sends the spans still queued (bounded by the export timeout), then stops. */
  close(): Promise<void>;
}

export async function createTracing(opts: TracingOptions): Promise<Tracing> {
  const endpoint = tracesUrl(opts.otlpEndpoint);
  const [{ SpanExport }, { Tracer }] = await Promise.all([
    import('./export.js'),
    import('./tracer.js'),
  ]);
  const exporter = new SpanExport({
    ...opts.export,
    endpoint,
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  });
  const tracer = new Tracer({
    node: opts.node,
    samplingPercent: opts.samplingPercent ?? DEFAULT_TRACE_SAMPLING_PERCENT,
    sink: exporter,
    ...(opts.random !== undefined ? { random: opts.random } : {}),
  });
  return { tracer, stats: () => exporter.stats(), close: () => exporter.close() };
}

/**
 * The URL spans are POSTed to. OpenTelemetry's convention (OTEL_EXPORTER_OTLP_ENDPOINT): a
 * base URL gets `/v1/traces`; a URL that already names a path is used as it is.
 */
export function tracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(
      `--otlp-endpoint ${JSON.stringify(endpoint)} is not a URL (expected e.g. http://127.0.0.1:4318)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(
      `--otlp-endpoint ${JSON.stringify(endpoint)}: only http:// and https:// (OTLP/HTTP) are supported`,
    );
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

/** `--trace-sampling PERCENT`: a number from 0 to 100. */
export function parseSamplingPercent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new Error(
      `--trace-sampling ${JSON.stringify(value)}: expected a percentage from 0 to 100 (Istio's default is 1)`,
    );
  return n;
}

/** Tracing as `weft gateway` and `weft sidecar` take it on their command line. */
export interface TracingFlags {
  otlpEndpoint: string;
  samplingPercent?: number;
  /** Queue and batch sizes, timeouts (defaults as OpenTelemetry's SDK). */
  export?: Omit<SpanExportOptions, 'endpoint' | 'log'>;
}

/** The tracing a proxy runs with its flags (undefined: tracing off). */
export async function createProxyTracing(
  flags: TracingFlags | undefined,
  node: ProxyNode,
  log: LogFn,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Tracing | undefined> {
  if (flags === undefined) return undefined;
  const exportOpts = { ...batchOptionsFromEnv(env), ...flags.export };
  return createTracing({
    otlpEndpoint: flags.otlpEndpoint,
    ...(flags.samplingPercent !== undefined ? { samplingPercent: flags.samplingPercent } : {}),
    export: exportOpts,
    node: tracerNodeOf(node),
    log,
  });
}

/** Istio's names for a proxy: canonical service and revision from the usual labels. */
export function tracerNodeOf(node: ProxyNode): TracerNode {
  const l = node.labels;
  return {
    id: node.id,
    namespace: node.namespace,
    canonicalService:
      l['service.istio.io/canonical-name'] ??
      l.app ??
      l['app.kubernetes.io/name'] ??
      node.service ??
      node.id,
    canonicalRevision:
      l['service.istio.io/canonical-revision'] ??
      l.version ??
      l['app.kubernetes.io/version'] ??
      'latest',
    meshId: 'cluster.local',
  };
}

/**
 * OpenTelemetry's batch span processor variables (OTEL_BSP_*), which an OpenTelemetry user
 * already sets for their SDKs: how often a batch leaves, queue and batch sizes, how long one
 * export may take. Unset ones keep the defaults (5 s, 2048, 512, 10 s); a value that is not a
 * positive whole number stops the proxy at start with the variable's name.
 */
export function batchOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Omit<SpanExportOptions, 'endpoint' | 'log' | 'exporter'> {
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`${name}=${JSON.stringify(raw)}: expected a positive whole number`);
    return n;
  };
  const out: Omit<SpanExportOptions, 'endpoint' | 'log' | 'exporter'> = {};
  const delay = read('OTEL_BSP_SCHEDULE_DELAY');
  if (delay !== undefined) out.flushIntervalMs = delay;
  const queue = read('OTEL_BSP_MAX_QUEUE_SIZE');
  if (queue !== undefined) out.maxQueueSize = queue;
  const batch = read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  if (batch !== undefined) out.maxBatchSize = batch;
  const timeout = read('OTEL_BSP_EXPORT_TIMEOUT');
  if (timeout !== undefined) out.timeoutMs = timeout;
  return out;
}
