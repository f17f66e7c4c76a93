// What `weft gateway` and `weft sidecar` start beside their traffic listeners: the metrics
// registry, the access log (when asked for) and the admin server that serves them.

import type { ProxyNode } from '@weft/model';
import type { DataPlane } from '../data-plane.js';
import {
  compileAccessLogFormat,
  createAccessLogSink,
  subscribeAccessLog,
  type AccessLogSink,
} from '../telemetry/access-log.js';
import { TELEMETRY_BATCH_MS } from '../telemetry/batch.js';
import { createProxyMetrics, type ProxyMetricsOptions } from '../telemetry/metrics.js';
import type { SpanExportStats } from '../telemetry/tracing/events.js';
import type { AgentPool } from '../upstream/agent-pool.js';
import { startAdminServer } from './server.js';

/** The telemetry flags both proxies take. */
export interface TelemetryOptions {
  /** Admin listener (metrics, tap); 0 = any free port (default). Istio uses 15090. */
  adminPort?: number;
  adminHost?: string;
  /** Where access logs go: a file, or `-` for stdout; off when undefined. */
  accessLog?: string;
  /** `json` (default), `text`, or a template of Envoy operators (`%RESPONSE_CODE%`). */
  accessLogFormat?: string;
  /** Span export counters when tracing is on (set by the runner, not a flag). */
  tracingStats?: (() => SpanExportStats) | undefined;
}

export interface ProxyTelemetry {
  adminAddress: string;
  adminPort: number;
  close(): Promise<void>;
}

export async function startProxyTelemetry(
  node: ProxyNode,
  dp: DataPlane,
  listeners: NonNullable<ProxyMetricsOptions['listeners']>,
  agents: readonly AgentPool[],
  opts: TelemetryOptions,
): Promise<ProxyTelemetry> {
  let sink: AccessLogSink | undefined;
  let unsubscribeLog: (() => void) | undefined;
  if (opts.accessLog !== undefined) {
    // Throws on an unknown operator before anything is opened.
    const format = opts.accessLogFormat ?? 'json';
    compileAccessLogFormat(format);
    sink = createAccessLogSink(opts.accessLog);
    const s = sink;
    unsubscribeLog = subscribeAccessLog((line) => s.write(line), {
      format,
      proxyId: node.id,
      batchMs: TELEMETRY_BATCH_MS,
      onBatch: () => s.flush(),
    });
  }
  const metrics = createProxyMetrics({
    node,
    table: () => dp.table(),
    agents,
    listeners,
    accessLog: sink,
    tracingStats: opts.tracingStats,
  });
  let admin;
  try {
    admin = await startAdminServer({
      proxyId: node.id,
      service: node.service,
      metrics,
      ready: () => dp.version() !== undefined,
      ...(opts.adminHost !== undefined ? { host: opts.adminHost } : {}),
      port: opts.adminPort ?? 0,
    });
  } catch (err) {
    unsubscribeLog?.();
    metrics.close();
    await sink?.close();
    throw err;
  }
  const running = admin;
  return {
    adminAddress: running.address,
    adminPort: running.port,
    async close() {
      await running.close();
      unsubscribeLog?.();
      metrics.close();
      await sink?.close();
    },
  };
}
