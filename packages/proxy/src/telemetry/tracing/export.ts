// Sending finished spans to an OTLP/HTTP collector, off the request path. Spans wait in a
// bounded queue; a batch goes out when it is full or every `flushIntervalMs`, one export at a
// time, through OpenTelemetry's own exporter (protobuf encoding, retries with backoff within
// `timeoutMs`). A collector that is down or slow never holds a request: while an export is
// outstanding the queue fills, and spans beyond its bound are dropped and counted, as are the
// spans of a batch the collector never took. Memory stays bounded by the queue and one batch.

import diagnosticsChannel from 'node:diagnostics_channel';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { LogFn } from '../log.js';
import { SPAN_EXPORT_CHANNEL, type SpanExportEvent, type SpanExportStats } from './events.js';

export interface SpanExportOptions {
  /** The collector's traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
  /** Spans waiting at most; more are dropped (counted). Default 2048, as OpenTelemetry's SDK. */
  maxQueueSize?: number;
  /** Spans per export request. Default 512, as OpenTelemetry's SDK. */
  maxBatchSize?: number;
  /** How often a batch leaves when none fills up. Default 5000 (OTEL_BSP_SCHEDULE_DELAY). */
  flushIntervalMs?: number;
  /** How long one export may take, retries included. Default 10 s. */
  timeoutMs?: number;
  log?: LogFn;
  /** For tests: another exporter in place of OTLP/HTTP. */
  exporter?: SpanExporter;
}

const exportChannel = diagnosticsChannel.channel(SPAN_EXPORT_CHANNEL);

/** Say so in the log at most this often while exports keep failing. */
const FAILURE_LOG_INTERVAL_MS = 30_000;

export class SpanExport {
  private queue: ReadableSpan[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly exporter: SpanExporter;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly log: LogFn | undefined;
  private lastFailureLog = 0;
  private closed = false;
  private readonly counts = { exported: 0, dropped: 0, failedExports: 0 };

  constructor(readonly opts: SpanExportOptions) {
    this.maxQueue = opts.maxQueueSize ?? 2048;
    this.maxBatch = opts.maxBatchSize ?? 512;
    this.log = opts.log;
    this.exporter =
      opts.exporter ??
      new OTLPTraceExporter({ url: opts.endpoint, timeoutMillis: opts.timeoutMs ?? 10_000 });
    // 5 s, as OpenTelemetry's batch span processor and Envoy's tracers: one export costs the
    // proxy 3 to 30 ms of CPU whatever its size (encoding set-up, an HTTP exchange, garbage), so
    // at 1 % sampling a 1 s interval cost more than the sampled requests (docs/performance.md).
    this.timer = setInterval(() => this.flush(), opts.flushIntervalMs ?? 5_000);
    this.timer.unref();
  }

  stats(): SpanExportStats {
    return { ...this.counts, queued: this.queue.length };
  }

  /** Called on the request path: an array push, or a counter when the queue is full. */
  push(span: ReadableSpan): void {
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.counts.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatch && this.inFlight === undefined) {
      // Not now: the request that filled the batch should not pay for its encoding.
      setImmediate(() => this.flush());
    }
  }

  /** Starts one export if none is outstanding and spans wait. */
  flush(): Promise<void> {
    if (this.inFlight !== undefined) return this.inFlight;
    if (this.queue.length === 0) return Promise.resolve();
    const batch =
      this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
    this.inFlight = new Promise<void>((resolve) => {
      let settled = false;
      const done = (result: ExportResult) => {
        if (settled) return;
        settled = true;
        this.inFlight = undefined;
        this.settle(batch.length, result);
        resolve();
      };
      try {
        this.exporter.export(batch, done);
      } catch (err) {
        done({ code: ExportResultCode.FAILED, error: err as Error });
      }
    });
    return this.inFlight;
  }

  private settle(batch: number, result: ExportResult): void {
    const ok = result.code === ExportResultCode.SUCCESS;
    if (ok) this.counts.exported += batch;
    else {
      this.counts.dropped += batch;
      this.counts.failedExports++;
      const now = Date.now();
      if (this.log !== undefined && now - this.lastFailureLog >= FAILURE_LOG_INTERVAL_MS) {
        this.lastFailureLog = now;
        this.log('warn', 'trace export failed; spans dropped', {
          endpoint: this.opts.endpoint,
          error: result.error?.message,
          dropped: this.counts.dropped,
          failedExports: this.counts.failedExports,
        });
      }
    }
    if (exportChannel.hasSubscribers) {
      const event: SpanExportEvent = {
        ...this.stats(),
        endpoint: this.opts.endpoint,
        ok,
        batch,
        error: ok ? undefined : (result.error?.message ?? 'export failed'),
      };
      exportChannel.publish(event);
    }
    // A full queue waited for this export: send the next batch now.
    if (this.queue.length >= this.maxBatch) setImmediate(() => this.flush());
  }

  /** Sends what waits (bounded by the exporter's timeout), then stops. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    while (this.inFlight !== undefined || this.queue.length > 0) {
      const before = this.counts.exported + this.counts.dropped;
      await this.flush();
      if (this.counts.exported + this.counts.dropped === before) break;
    }
    this.closed = true;
    await this.exporter.shutdown().catch(() => undefined);
  }
}
