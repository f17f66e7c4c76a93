// A finished span as OpenTelemetry's exporters read it (the SDK's ReadableSpan), built in one
// go when a sampled request ends. The proxy does not use the SDK's live Span objects: it
// knows everything about a hop only at the end, and a plain record costs a fraction of an
// SDK span (docs/observability.md#tracing has the measurement).

import type {
  Attributes,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];

export class ProxySpan implements ReadableSpan {
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly ended = true;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  private readonly context: SpanContext;
  readonly parentSpanContext: SpanContext | undefined;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    traceId: string,
    spanId: string,
    parentSpanId: string | undefined,
    /** The parent span is another process's (a caller's), not this proxy's own. */
    parentIsRemote: boolean,
    /** Unix epoch milliseconds (fractional). */
    startMs: number,
    endMs: number,
    readonly attributes: Attributes,
    readonly status: SpanStatus,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
  ) {
    this.context = { traceId, spanId, traceFlags: 1 };
    this.parentSpanContext =
      parentSpanId === undefined
        ? undefined
        : { traceId, spanId: parentSpanId, traceFlags: 1, isRemote: parentIsRemote };
    this.startTime = toHrTime(startMs);
    this.endTime = toHrTime(endMs < startMs ? startMs : endMs);
    this.duration = toHrTime(endMs < startMs ? 0 : endMs - startMs);
  }

  spanContext(): SpanContext {
    return this.context;
  }
}

/** Milliseconds (fractional) to OpenTelemetry's [seconds, nanoseconds]. */
export function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}
