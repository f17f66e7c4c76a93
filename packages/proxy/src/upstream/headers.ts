// Header rewriting for both directions, done in one pass over node's rawHeaders into the
// flat `[name, value, ...]` form that http.request and writeHead accept as is. Names keep the
// case the peer sent. Hop-by-hop headers (RFC 9110 7.6.1) never cross the proxy.

import type { CompiledHeaderOps } from '../compile/types.js';
import { emptyRawTraceHeaders, type RawTraceHeaders } from '../telemetry/tracing/propagation.js';
import type { RequestTrace, TraceHop } from '../telemetry/tracing/tracer.js';
import { trustedClientAddress } from '../server/client-address.js';
import { PEER_METADATA_HEADER } from '../telemetry/peer-metadata.js';

const enum Special {
  HopByHop = 1,
  Connection,
  Te,
  TransferEncoding,
  ContentLength,
  Host,
  ForwardedFor,
  ForwardedProto,
  RequestId,
  Expect,
  Explain,
  TraceParent,
  TraceState,
  B3,
  B3TraceId,
  B3SpanId,
  B3ParentSpanId,
  B3Sampled,
  B3Flags,
  ExternalAddress,
  PeerMetadata,
  ContentType,
}

export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Request header asking the proxy to explain its routing decision; response header with the answer. */
export const EXPLAIN_HEADER = 'x-weft-explain';

/** Envoy's header for the trusted client address, set by the edge proxy (the gateway). */
export const EXTERNAL_ADDRESS_HEADER = 'x-envoy-external-address';

const REQUEST_SPECIAL = new Map<string, Special>([
  ['connection', Special.Connection],
  ['keep-alive', Special.HopByHop],
  ['proxy-connection', Special.HopByHop],
  ['te', Special.Te],
  ['trailer', Special.HopByHop],
  ['transfer-encoding', Special.TransferEncoding],
  ['upgrade', Special.HopByHop],
  ['proxy-authorization', Special.HopByHop],
  ['proxy-authenticate', Special.HopByHop],
  ['content-length', Special.ContentLength],
  ['host', Special.Host],
  ['x-forwarded-for', Special.ForwardedFor],
  ['x-forwarded-proto', Special.ForwardedProto],
  ['x-request-id', Special.RequestId],
  // Node's server has already answered `Expect: 100-continue` for us.
  ['expect', Special.Expect],
  // A question for this proxy (docs/using-weft.md); noticed here, in the one pass over the
  // headers every forwarded request makes anyway, and not passed on.
  [EXPLAIN_HEADER, Special.Explain],
  [EXTERNAL_ADDRESS_HEADER, Special.ExternalAddress],
  // Sidecar to sidecar only (telemetry/peer-metadata.ts): read, never passed on, so an app
  // or an outside client can neither see nor forge it.
  [PEER_METADATA_HEADER, Special.PeerMetadata],
  ['content-type', Special.ContentType],
]);

// With tracing on, the trace headers are read and written anew (telemetry/tracing/); with it
// off they are ordinary headers, and the map without them keeps that path as it was.
const TRACED_REQUEST_SPECIAL = new Map<string, Special>([
  ...REQUEST_SPECIAL,
  ['traceparent', Special.TraceParent],
  ['tracestate', Special.TraceState],
  ['b3', Special.B3],
  ['x-b3-traceid', Special.B3TraceId],
  ['x-b3-spanid', Special.B3SpanId],
  ['x-b3-parentspanid', Special.B3ParentSpanId],
  ['x-b3-sampled', Special.B3Sampled],
  ['x-b3-flags', Special.B3Flags],
]);

/** What building the upstream request headers found out about the request. */
export interface RequestHeadersResult {
  headers: string[];
  /** Content-Length, -1 when absent. */
  contentLength: number;
  /** A body follows (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  requestId: string;
  /** The request carried `x-weft-explain` (any value but `0`). */
  explain: boolean;
  /** Set when tracing is on and the request is sampled: its spans are recorded at the end. */
  trace: RequestTrace | undefined;
  /** The trace id sent upstream (sampled or not); undefined when tracing is off. */
  traceId: string | undefined;
  /** The caller's peer metadata header (telemetry/peer-metadata.ts), not forwarded. */
  peerMetadata: string | undefined;
  /** Content-Type application/grpc (any +suffix): telemetry's request_protocol. */
  grpc: boolean;
}

export interface RequestHeadersInput {
  /** Host to send upstream: the rewrite, or the request's own authority. */
  host: string;
  /** Appended to X-Forwarded-For; undefined leaves the header as it came. */
  clientAddress: string | undefined;
  /** X-Forwarded-Proto when the request has none. */
  scheme: string;
  ops: CompiledHeaderOps;
  newRequestId: () => string;
  /** Tracing, when on: reads the incoming context and writes the one to send upstream. */
  trace?: TraceHop | undefined;
  /**
   * Edge proxies only: set x-envoy-external-address to the trusted client address (the
   * peer, or an X-Forwarded-For hop when `trustedHops` > 0), replacing any the client sent.
   */
  external?: { peer: string; trustedHops: number } | undefined;
}

export function buildRequestHeaders(
  raw: readonly string[],
  input: RequestHeadersInput,
): RequestHeadersResult {
  const ops = input.ops;
  const dropOps = ops.drop.size > 0 ? ops.drop : undefined;
  const out: string[] = ['Host', input.host];
  let contentLength = -1;
  let chunked = false;
  let forwardedFor: string | undefined;
  let hasProto = false;
  let requestId: string | undefined;
  let connectionTokens: string[] | undefined;
  let explain = false;
  let peerMetadata: string | undefined;
  let grpc = false;
  const trace = input.trace;
  const specials = trace === undefined ? REQUEST_SPECIAL : TRACED_REQUEST_SPECIAL;
  let rawTrace: RawTraceHeaders | undefined;

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    const special = specials.get(lower);
    if (special === undefined) {
      if (dropOps === undefined || !dropOps.has(lower)) out.push(name, value);
      continue;
    }
    switch (special) {
      case Special.HopByHop:
      case Special.Host:
      case Special.Expect:
        break;
      case Special.Explain:
        explain = value !== '0';
        break;
      case Special.PeerMetadata:
        peerMetadata ??= value;
        break;
      case Special.ContentType:
        grpc = value.length >= 16 && value.slice(0, 16).toLowerCase() === 'application/grpc';
        if (dropOps === undefined || !dropOps.has(lower)) out.push(name, value);
        break;
      case Special.ExternalAddress:
        if (input.external === undefined) out.push(name, value);
        break;
      case Special.Connection:
        connectionTokens = collectConnectionTokens(value, connectionTokens);
        break;
      case Special.Te:
        // TE is hop-by-hop, but `trailers` is what gRPC-style peers need to see.
        if (/\btrailers\b/i.test(value)) out.push('te', 'trailers');
        break;
      case Special.TransferEncoding:
        // Node de-chunked the body; keeping the header makes http.request chunk it again.
        chunked = true;
        out.push(name, value);
        break;
      case Special.ContentLength:
        contentLength = Number(value);
        out.push(name, value);
        break;
      case Special.ForwardedFor:
        if (dropOps !== undefined && dropOps.has(lower)) break;
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case Special.ForwardedProto:
        if (dropOps !== undefined && dropOps.has(lower)) break;
        hasProto = true;
        out.push(name, value);
        break;
      case Special.RequestId:
        if (dropOps !== undefined && dropOps.has(lower)) break;
        if (requestId === undefined) {
          requestId = value;
          out.push(name, value);
        }
        break;
      // The first of each trace header counts; all of them are replaced on the way out.
      case Special.TraceParent:
        (rawTrace ??= emptyRawTraceHeaders()).traceparent ??= value;
        break;
      case Special.TraceState:
        // Several tracestate headers are one list (W3C Trace Context 3.3.1.1).
        rawTrace ??= emptyRawTraceHeaders();
        rawTrace.tracestate =
          rawTrace.tracestate === undefined ? value : `${rawTrace.tracestate},${value}`;
        break;
      case Special.B3:
        (rawTrace ??= emptyRawTraceHeaders()).b3 ??= value;
        break;
      case Special.B3TraceId:
        (rawTrace ??= emptyRawTraceHeaders()).b3TraceId ??= value;
        break;
      case Special.B3SpanId:
        (rawTrace ??= emptyRawTraceHeaders()).b3SpanId ??= value;
        break;
      case Special.B3Sampled:
        (rawTrace ??= emptyRawTraceHeaders()).b3Sampled ??= value;
        break;
      case Special.B3Flags:
        (rawTrace ??= emptyRawTraceHeaders()).b3Flags ??= value;
        break;
      case Special.B3ParentSpanId:
        break;
    }
  }

  if (input.external !== undefined) {
    const e = input.external;
    out.push(
      EXTERNAL_ADDRESS_HEADER,
      trustedClientAddress(forwardedFor, e.peer, e.trustedHops, true),
    );
  }
  if (input.clientAddress !== undefined) {
    out.push(
      'x-forwarded-for',
      forwardedFor === undefined ? input.clientAddress : `${forwardedFor}, ${input.clientAddress}`,
    );
  } else if (forwardedFor !== undefined) {
    out.push('x-forwarded-for', forwardedFor);
  }
  if (!hasProto) out.push('x-forwarded-proto', input.scheme);
  if (requestId === undefined) {
    requestId = input.newRequestId();
    out.push('x-request-id', requestId);
  }
  const traced = trace === undefined ? undefined : trace.begin(rawTrace, out);
  const traceId = trace === undefined ? undefined : trace.lastTraceId();
  const append = ops.append;
  for (let i = 0; i < append.length; i++) out.push(append[i]!);

  return {
    headers: connectionTokens === undefined ? out : without(out, connectionTokens, 2),
    contentLength,
    hasBody: chunked || contentLength > 0,
    requestId,
    explain,
    trace: traced,
    traceId,
    peerMetadata,
    grpc,
  };
}

/** Response headers to send downstream; reports `grpc-status` for retry decisions. */
export function buildResponseHeaders(
  raw: readonly string[],
  ops: CompiledHeaderOps,
  found: { grpcStatus: number; upstreamPeerMetadata: string | undefined },
): string[] {
  const dropOps = ops.drop.size > 0 ? ops.drop : undefined;
  const out: string[] = [];
  let connectionTokens: string[] | undefined;
  let grpcStatus = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower)) {
      if (lower === 'connection')
        connectionTokens = collectConnectionTokens(value, connectionTokens);
      continue;
    }
    if (lower === 'grpc-status') grpcStatus = Number(value);
    else if (lower === PEER_METADATA_HEADER) {
      // The upstream sidecar's answer to ours: for metrics, never for the client.
      found.upstreamPeerMetadata ??= value;
      continue;
    }
    if (dropOps !== undefined && dropOps.has(lower)) continue;
    out.push(name, value);
  }
  found.grpcStatus = Number.isInteger(grpcStatus) ? grpcStatus : -1;
  const append = ops.append;
  for (let i = 0; i < append.length; i++) out.push(append[i]!);
  return connectionTokens === undefined ? out : without(out, connectionTokens, 0);
}

/** Header names a Connection header lists (besides close/keep-alive), lower case. */
function collectConnectionTokens(value: string, into: string[] | undefined): string[] | undefined {
  const v = value.toLowerCase();
  if (v === 'keep-alive' || v === 'close') return into;
  let out = into;
  for (const part of v.split(',')) {
    const t = part.trim();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    (out ??= []).push(t);
  }
  return out;
}

/** Drops the listed names, keeping the first `keep` entries (the Host pair we put first). */
function without(headers: string[], names: readonly string[], keep: number): string[] {
  const out: string[] = headers.slice(0, keep);
  for (let i = keep; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (names.includes(name.toLowerCase())) continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}
