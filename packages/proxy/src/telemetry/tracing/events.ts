// What span export reports, kept apart from the exporter so that reading it (metrics, tests)
// does not load OpenTelemetry's modules into a proxy that does not trace.

export interface SpanExportStats {
  /** Spans the collector accepted. */
  exported: number;
  /** Spans lost: the queue was full, or the collector did not take their batch. */
  dropped: number;
  /** Export requests that failed. */
  failedExports: number;
  queued: number;
}

/** Published after every export attempt (for metrics and tests). */
export interface SpanExportEvent extends SpanExportStats {
  endpoint: string;
  ok: boolean;
  batch: number;
  error: string | undefined;
}

/** diagnostics_channel name of the SpanExportEvent published after every export attempt. */
export const SPAN_EXPORT_CHANNEL = 'weft:proxy:tracing:export';
