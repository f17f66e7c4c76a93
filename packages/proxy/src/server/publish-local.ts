// The telemetry event for a reply the proxy made itself (no upstream was called), shared by
// the request handler's local replies and the route filters' aborts and preflights.

import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { requestEndChannel, type RequestEndEvent } from '../telemetry/channels.js';
import { measureWireBytes } from '../telemetry/wire-bytes.js';
import { PEER_METADATA_HEADER } from '../telemetry/peer-metadata.js';
import { isMutualTls, peerIdentity } from '../tls/peer-identity.js';
import type { ForwardContext } from '../upstream/forward.js';
import type { TraceHop } from '../telemetry/tracing/tracer.js';
import type { NodeRequestView } from './request-view.js';

export function publishLocal(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  routeId: string | undefined,
  flag: string | undefined,
): void {
  if (ctx.trace !== undefined) traceLocal(ctx.trace, ctx, res, view, startedAt, flag);
  if (!requestEndChannel.hasSubscribers) return;
  const event: RequestEndEvent = {
    proxyId: ctx.proxyId,
    kind: ctx.kind,
    method: view.method,
    authority: view.authority,
    path: view.path,
    routeId,
    cluster: undefined,
    endpoint: undefined,
    status: res.statusCode,
    flag,
    durationMs: startedAt > 0 ? performance.now() - startedAt : 0,
    attempts: 0,
    requestId: undefined,
    mutualTls: isMutualTls(view.req.socket),
    peerPrincipal: peerIdentity(view.req.socket),
    // Off the forwarding path: a local reply may read the header map.
    peerMetadata: firstHeader(view.req.headers[PEER_METADATA_HEADER]),
  };
  measureWireBytes(event, view.req.socket);
  requestEndChannel.publish(event);
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Spans for a local reply, when tracing is on and the request is sampled. */
function traceLocal(
  hop: TraceHop,
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  flag: string | undefined,
): void {
  const req = view.req;
  const rid = req.headers['x-request-id'];
  hop.local(req.headers, startedAt, {
    kind: ctx.kind,
    method: view.method,
    scheme: view.scheme,
    authority: view.rawAuthority,
    path: view.pathAndQuery,
    status: res.statusCode,
    flags: flag,
    cluster: undefined,
    endpoint: undefined,
    requestId: Array.isArray(rid) ? rid[0] : rid,
    downstreamAddress: req.socket.remoteAddress,
    userAgent: req.headers['user-agent'],
    attempts: 0,
  });
}
