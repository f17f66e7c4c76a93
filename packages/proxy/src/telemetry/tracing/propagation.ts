// Reading and writing trace context headers: W3C Trace Context (`traceparent`, `tracestate`)
// and B3 (the single `b3` header and the multi-header `x-b3-*` form). Pure: no clock, no
// random source; the tracer passes in what it needs. Parsing never throws: a header that is
// not well formed counts as absent, so a malformed `traceparent` is replaced by a new context
// instead of being passed on (W3C Trace Context, section 4.3: "restart the trace").

/** The trace header values of one request, as they arrived (first occurrence of each). */
export interface RawTraceHeaders {
  traceparent: string | undefined;
  tracestate: string | undefined;
  b3: string | undefined;
  b3TraceId: string | undefined;
  b3SpanId: string | undefined;
  b3Sampled: string | undefined;
  b3Flags: string | undefined;
}

export type TraceFormat = 'w3c' | 'b3' | 'b3multi';

/** What a request says about the trace it belongs to. */
export interface IncomingContext {
  /** 32 lower-case hex digits (a 64-bit B3 id is left-padded with zeros). */
  traceId: string;
  /** The caller's span: the parent of ours. */
  spanId: string;
  /** The caller's sampling decision; undefined when it made none (B3 without a flag). */
  sampled: boolean | undefined;
  /** W3C `tracestate`, kept only alongside a valid `traceparent`. */
  traceState: string | undefined;
  format: TraceFormat;
}

/** A sampling decision made upstream without ids (`b3: 0`, or only `x-b3-sampled`). */
export interface DecisionOnly {
  traceId: undefined;
  sampled: boolean;
}

/** Trace header names the proxy reads, and replaces on the way out. */
export const TRACE_HEADER_NAMES = [
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
] as const;

export function emptyRawTraceHeaders(): RawTraceHeaders {
  return {
    traceparent: undefined,
    tracestate: undefined,
    b3: undefined,
    b3TraceId: undefined,
    b3SpanId: undefined,
    b3Sampled: undefined,
    b3Flags: undefined,
  };
}

/** Reads the trace headers from node's parsed header object (the local-reply path). */
export function rawTraceHeadersFrom(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): RawTraceHeaders {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return {
    traceparent: first(headers.traceparent),
    tracestate: first(headers.tracestate),
    b3: first(headers.b3),
    b3TraceId: first(headers['x-b3-traceid']),
    b3SpanId: first(headers['x-b3-spanid']),
    b3Sampled: first(headers['x-b3-sampled']),
    b3Flags: first(headers['x-b3-flags']),
  };
}

/**
 * The context a request carries. `traceparent` wins when it is valid; then `b3`; then the
 * `x-b3-*` headers. Returns a DecisionOnly when B3 carries a decision without ids, and
 * undefined when there is nothing usable.
 */
export function extractContext(raw: RawTraceHeaders): IncomingContext | DecisionOnly | undefined {
  if (raw.traceparent !== undefined) {
    const tp = parseTraceparent(raw.traceparent);
    if (tp !== undefined) {
      return {
        traceId: tp.traceId,
        spanId: tp.spanId,
        sampled: (tp.flags & 1) === 1,
        traceState: raw.tracestate !== undefined ? cleanTraceState(raw.tracestate) : undefined,
        format: 'w3c',
      };
    }
  }
  if (raw.b3 !== undefined) {
    const single = parseB3Single(raw.b3);
    if (single !== undefined) return single;
  }
  if (raw.b3TraceId !== undefined || raw.b3Sampled !== undefined || raw.b3Flags !== undefined) {
    return parseB3Multi(raw.b3TraceId, raw.b3SpanId, raw.b3Sampled, raw.b3Flags);
  }
  return undefined;
}

/** `version-traceid-parentid-flags`; version 00 exactly, later versions by their prefix. */
export function parseTraceparent(
  value: string,
): { traceId: string; spanId: string; flags: number } | undefined {
  const v = value.trim();
  if (v.length < 55) return undefined;
  if (v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45)
    return undefined;
  const version = v.slice(0, 2);
  if (!isLowerHex(version) || version === 'ff') return undefined;
  // Version 00 is exactly 55 characters; a later version may append fields after a dash.
  if (version === '00' ? v.length !== 55 : v.length > 55 && v.charCodeAt(55) !== 45)
    return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flagsHex = v.slice(53, 55);
  if (!isLowerHex(traceId) || !isLowerHex(spanId) || !isLowerHex(flagsHex)) return undefined;
  if (isAllZero(traceId) || isAllZero(spanId)) return undefined;
  return { traceId, spanId, flags: parseInt(flagsHex, 16) };
}

/**
 * `b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}` (the last two optional), or only a
 * sampling state (`0`, `1`, `d`). Debug (`d`) means sampled.
 */
export function parseB3Single(value: string): IncomingContext | DecisionOnly | undefined {
  const v = value.trim().toLowerCase();
  if (v.length === 1) {
    const s = parseSamplingState(v);
    return s === undefined ? undefined : { traceId: undefined, sampled: s };
  }
  const parts = v.split('-');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const traceId = normalizeTraceId(parts[0]!);
  const spanId = parts[1]!;
  if (traceId === undefined || !isSpanId(spanId)) return undefined;
  let sampled: boolean | undefined;
  if (parts.length >= 3) {
    sampled = parseSamplingState(parts[2]!);
    if (sampled === undefined) return undefined;
  }
  if (parts.length === 4 && !isSpanId(parts[3]!)) return undefined;
  return { traceId, spanId, sampled, traceState: undefined, format: 'b3' };
}

/** `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (`1`/`0`, or `true`/`false`), `x-b3-flags: 1`. */
export function parseB3Multi(
  traceIdRaw: string | undefined,
  spanIdRaw: string | undefined,
  sampledRaw: string | undefined,
  flagsRaw: string | undefined,
): IncomingContext | DecisionOnly | undefined {
  let sampled: boolean | undefined;
  if (flagsRaw !== undefined && flagsRaw.trim() === '1') sampled = true;
  else if (sampledRaw !== undefined) {
    const s = sampledRaw.trim().toLowerCase();
    sampled = s === '1' || s === 'true' ? true : s === '0' || s === 'false' ? false : undefined;
  }
  if (traceIdRaw !== undefined && spanIdRaw !== undefined) {
    const traceId = normalizeTraceId(traceIdRaw.trim().toLowerCase());
    const spanId = spanIdRaw.trim().toLowerCase();
    if (traceId !== undefined && isSpanId(spanId)) {
      return { traceId, spanId, sampled, traceState: undefined, format: 'b3multi' };
    }
  }
  return sampled === undefined ? undefined : { traceId: undefined, sampled };
}

/** The headers that carry a context downstream, pushed as `[name, value, ...]` pairs. */
export function injectContext(
  out: string[],
  format: TraceFormat | undefined,
  traceId: string,
  spanId: string,
  parentSpanId: string | undefined,
  sampled: boolean,
  traceState: string | undefined,
): void {
  // traceparent always: it is the standard, and what OpenTelemetry libraries read first.
  out.push('traceparent', `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`);
  if (traceState !== undefined && traceState !== '') out.push('tracestate', traceState);
  // B3 too, in the form the request used; the multi-header form when it used none, as Istio's
  // Zipkin tracing sends and Istio's sample apps forward.
  if (format === 'b3') {
    out.push(
      'b3',
      `${traceId}-${spanId}-${sampled ? '1' : '0'}${parentSpanId !== undefined ? `-${parentSpanId}` : ''}`,
    );
  } else {
    out.push('x-b3-traceid', traceId, 'x-b3-spanid', spanId, 'x-b3-sampled', sampled ? '1' : '0');
    if (parentSpanId !== undefined) out.push('x-b3-parentspanid', parentSpanId);
  }
}

/**
 * The sampling decision: the caller's when it made one (parent-based), else a draw against
 * `percent` (0 to 100) with `random()` in [0, 1).
 */
export function decideSampled(
  incoming: boolean | undefined,
  percent: number,
  random: () => number,
): boolean {
  if (incoming !== undefined) return incoming;
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return random() * 100 < percent;
}

function parseSamplingState(s: string): boolean | undefined {
  if (s === '1' || s === 'd') return true;
  if (s === '0') return false;
  return undefined;
}

/** 32 hex digits as is; a 64-bit (16 digit) B3 trace id padded to 128 bits. */
function normalizeTraceId(id: string): string | undefined {
  if (id.length === 32) return isLowerHex(id) && !isAllZero(id) ? id : undefined;
  if (id.length === 16)
    return isLowerHex(id) && !isAllZero(id) ? `0000000000000000${id}` : undefined;
  return undefined;
}

function isSpanId(id: string): boolean {
  return id.length === 16 && isLowerHex(id) && !isAllZero(id);
}

/**
 * `tracestate` is passed on as it came, less what makes it unusable: more than 32 list
 * members (W3C's limit) or a member without `key=value` drops the whole header, since a
 * partial list could change a vendor's meaning.
 */
function cleanTraceState(value: string): string | undefined {
  const v = value.trim();
  if (v === '' || v.length > 512) return undefined;
  const members = v.split(',');
  if (members.length > 32) return undefined;
  for (const m of members) {
    const t = m.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq <= 0 || eq === t.length - 1) return undefined;
  }
  return v;
}

function isLowerHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return s.length > 0;
}

function isAllZero(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}
