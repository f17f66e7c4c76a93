// The HTTP/1.1 front for the gateway and for sidecar outbound traffic: pick the route table,
// the virtual host, the first matching route, then reply locally (direct response,
// redirect, errors) or hand the request to upstream/forward.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { ErrorCode, ResponseFlag } from '@weft/model';
import { applyHeaderOps } from '../compile/header-ops.js';
import { misdirected } from '../compile/sni-host.js';
import { clusterForPort } from '../compile/port-clusters.js';
import { corsReplyHeaders, corsResponseOps } from '../filters/cors/index.js';
import { redirectLocation, rewritePath } from '../compile/rewrite.js';
import type {
  CompiledRoute,
  DirectRouteAction,
  RedirectRouteAction,
  RouteTable,
} from '../compile/types.js';
import { findMatchingBlock } from '../routing/match-block.js';
import { requestEndChannel, type ProxyKind } from '../telemetry/channels.js';
import type { LogFn } from '../telemetry/log.js';
import type { Tracer } from '../telemetry/tracing/tracer.js';
import { createAgentPool, type AgentPool } from '../upstream/agent-pool.js';
import { forward, type ForwardContext } from '../upstream/forward.js';
import { buildRequestHeaders } from '../upstream/headers.js';
import { explainLine, isLoopback, setExplainHeader, type ExplainPolicy } from './explain-header.js';
import { peerPrincipal as noPeerPrincipal, type PeerPrincipal } from '../tls/peer-principal.js';
import { authorize, type AuthorizeOptions } from './authorize.js';
import { INTERNAL_ERROR_CODE, quote, sendLocalReply } from './local-reply.js';
import { NodeRequestView } from './request-view.js';
import { publishLocal } from './publish-local.js';
import { runRouteFilters, type FilterState, type Resumed } from './route-filters.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** A handler that may own a connection pool; close() releases it. */
export interface ProxyRequestHandler extends RequestHandler {
  close(): void;
}

export interface RequestHandlerOptions {
  proxyId: string;
  random?: () => number;
  now?: () => number;
  /** Shared pool (the data plane passes its own); one is created and owned otherwise. */
  agents?: AgentPool;
  /** Mutual-TLS agents (tls/mesh-agent.ts) for endpoints with a tlsIdentity; none = plaintext. */
  meshAgents?: AgentPool | undefined;
  log?: LogFn;
  connectTimeoutMs?: number;
  maxBufferedBodyBytes?: number;
  /** Who may ask for `x-weft-explain`; default: loopback clients only. */
  explainPolicy?: ExplainPolicy;
  /** Distributed tracing; off when undefined. */
  tracer?: Tracer | undefined;
  /**
   * Gateway: X-Forwarded-For hops to trust (Istio's numTrustedProxies) for the client address
   * of `remote.ip` and x-envoy-external-address. Default 0: the connection's peer.
   */
  numTrustedProxies?: number;
  /** Gateway: the verified identity of a connection's peer, for authorization. */
  peerPrincipal?: PeerPrincipal;
  /** This proxy's peer metadata header for mesh upstreams (telemetry/peer-metadata.ts). */
  peerMetadata?: string | undefined;
  /**
   * Sidecar outbound in learn mode (scope/learn.ts): for a host with no virtual host, a promise
   * to hold the request on until the widened scope is applied; undefined: answer 404 NR now.
   */
  learnHost?: ((authority: string) => Promise<void> | undefined) | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BUFFERED_BODY_BYTES = 64 * 1024;

export function createForwardContext(
  kind: ProxyKind,
  opts: RequestHandlerOptions,
  agents: AgentPool,
): ForwardContext {
  return {
    proxyId: opts.proxyId,
    kind,
    random: opts.random ?? Math.random,
    now: opts.now ?? Date.now,
    agents,
    meshAgents: opts.meshAgents,
    log: opts.log,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxBufferedBodyBytes: opts.maxBufferedBodyBytes ?? DEFAULT_MAX_BUFFERED_BODY_BYTES,
    trace: opts.tracer?.hop(kind),
    peerMetadata: opts.peerMetadata,
  };
}

export function createRequestHandler(
  kind: 'gateway' | 'outbound',
  getTable: () => RouteTable | undefined,
  opts: RequestHandlerOptions,
): ProxyRequestHandler {
  const ownsAgents = opts.agents === undefined;
  const agents = opts.agents ?? createAgentPool();
  const ctx = createForwardContext(kind, opts, agents);
  const gateway = kind === 'gateway';
  const explain = opts.explainPolicy ?? isLoopback;

  // Edge settings: only the gateway authorizes (sidecar outbound is the client side) and
  // sets x-envoy-external-address.
  const edge: Edge | undefined = gateway
    ? {
        trustedHops: opts.numTrustedProxies ?? 0,
        authz: {
          proxyId: opts.proxyId,
          port: 0,
          peerPrincipal: opts.peerPrincipal ?? noPeerPrincipal,
          numTrustedProxies: opts.numTrustedProxies ?? 0,
          edge: true,
        },
      }
    : undefined;

  const handler = function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      handle(ctx, gateway, getTable, req, res, explain, edge, undefined, opts.learnHost);
    } catch (err) {
      internalError(ctx, res, err);
    }
  } as ProxyRequestHandler;
  handler.close = () => {
    if (ownsAgents) agents.destroy();
  };
  return handler;
}

interface Edge {
  trustedHops: number;
  authz: AuthorizeOptions;
}

function handle(
  ctx: ForwardContext,
  gateway: boolean,
  getTable: () => RouteTable | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  explain: ExplainPolicy,
  edge: Edge | undefined,
  resumed?: Resumed,
  learnHost?: RequestHandlerOptions['learnHost'],
  /** performance.now() at arrival of a request held for its host's config (learn mode). */
  heldSince = 0,
): void {
  const startedAt =
    resumed !== undefined
      ? resumed.startedAt
      : heldSince > 0
        ? heldSince
        : requestEndChannel.hasSubscribers
          ? performance.now()
          : 0;
  // Grabbed once: the whole request runs on this table even if a new one is swapped in.
  const table = getTable();
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
  const view = new NodeRequestView(req, gateway, secure ? 'https' : 'http');
  if (!view.valid) {
    return localReply(
      ctx,
      res,
      view,
      startedAt,
      undefined,
      400,
      ResponseFlag.DownstreamProtocolError,
      ErrorCode.BadRequest,
      `cannot understand the request target ${quote(req.url ?? '')}`,
    );
  }
  if (table === undefined) {
    return localReply(
      ctx,
      res,
      view,
      startedAt,
      undefined,
      503,
      ResponseFlag.NoRoute,
      ErrorCode.NoSnapshot,
      'no configuration from the control plane yet, so no routes; retry shortly',
    );
  }
  // AuthorizationPolicies that select this gateway run before routing, as Envoy's RBAC filter.
  if (edge !== undefined && table.authz !== undefined && resumed === undefined) {
    const port = req.socket.localPort ?? 0;
    if (authorize(table.authz, req, res, view, { ...edge.authz, port }) === undefined) {
      publishLocal(ctx, res, view, startedAt, undefined, ResponseFlag.RbacDenied);
      return;
    }
  }
  // A gateway's HTTPS listener serves only the hosts of its TLS servers, the plain one the rest.
  const hosts = gateway ? (secure ? table.gatewayTls : table.gateway) : table.mesh;
  // Host outside the TLS server the connection's SNI chose: 404 NR, as Istio (sni-host.ts).
  const wrongServer =
    secure && gateway && table.sniHostCheck !== undefined
      ? misdirected(table.sniHostCheck, (req.socket as TLSSocket).servername, view.authority)
      : undefined;
  const vhost = wrongServer === undefined ? hosts.lookup(view.authority) : undefined;
  const held = vhost === undefined && !gateway ? learnHost?.(view.authority) : undefined;
  if (held !== undefined) {
    // Routed again, on the table then current, once the scope holding this host is applied;
    // the second pass does not hold again (the learner knows the host by then). Its reported
    // duration starts at arrival: the hold is part of what the caller waited.
    const since = startedAt > 0 ? startedAt : performance.now();
    void held.then(() => {
      if (res.destroyed || req.destroyed) return;
      try {
        handle(ctx, gateway, getTable, req, res, explain, edge, undefined, learnHost, since);
      } catch (err) {
        internalError(ctx, res, err);
      }
    });
    return;
  }
  if (vhost === undefined) {
    setExplainHeader(explain, req, res, table, view, gateway, ctx.now(), view.rawAuthority);
    return localReply(
      ctx,
      res,
      view,
      startedAt,
      undefined,
      404,
      ResponseFlag.NoRoute,
      ErrorCode.NoRoute,
      wrongServer !== undefined
        ? `no route for host ${quote(view.authority)}: ${wrongServer}`
        : `no route for host ${quote(view.authority)} and path ${quote(view.path)}: no virtual host serves this host`,
    );
  }
  let route: CompiledRoute | undefined;
  let block = -1;
  const routes = vhost.routes;
  for (let i = 0; i < routes.length; i++) {
    block = findMatchingBlock(routes[i]!.blocks, view);
    if (block >= 0) {
      route = routes[i];
      break;
    }
  }
  if (route === undefined) {
    setExplainHeader(explain, req, res, table, view, gateway, ctx.now(), view.rawAuthority);
    return localReply(
      ctx,
      res,
      view,
      startedAt,
      undefined,
      404,
      ResponseFlag.NoRoute,
      ErrorCode.NoRoute,
      `no route for host ${quote(view.authority)} and path ${quote(view.path)}: no rule of ${vhost.name} matched`,
    );
  }

  // Fault injection and CORS (server/route-filters.ts); most routes have none.
  let filtered: FilterState | undefined;
  if (route.filters !== undefined) {
    const held = table;
    filtered = runRouteFilters(ctx, route, route.filters, view, res, startedAt, resumed, (r) => {
      // After a fault delay: the same table, so the same route, past the fault stage.
      try {
        handle(ctx, gateway, () => held, req, res, explain, edge, r);
      } catch (err) {
        internalError(ctx, res, err);
      }
    });
    if (filtered === undefined) return;
  }

  const action = route.action;
  if (action.type !== 'route')
    setExplainHeader(explain, req, res, table, view, gateway, ctx.now(), view.rawAuthority);
  if (action.type === 'direct')
    return sendDirect(ctx, res, view, startedAt, route, action, filtered);
  if (action.type === 'redirect')
    return sendRedirect(ctx, res, view, startedAt, route, action, block, filtered);

  const dest = action.pick(ctx.random);
  // DestinationRule portLevelSettings: the request's port may pick the cluster (sidecars).
  const cluster = dest.byPort === undefined ? dest.cluster : clusterForPort(dest, view.port);
  // An allowed Origin gets the CORS headers on the proxy's own errors too (local-reply.ts).
  const replyHeaders =
    filtered?.origin === undefined ? undefined : corsReplyHeaders(filtered.cors!, filtered.origin);
  if (cluster === undefined) {
    setExplainHeader(explain, req, res, table, view, gateway, ctx.now(), view.rawAuthority);
    return localReply(
      ctx,
      res,
      view,
      startedAt,
      route.id,
      503,
      ResponseFlag.NoCluster,
      ErrorCode.NoCluster,
      `route ${route.id} sends to cluster ${quote(dest.clusterName)}, which is not in the configuration (a subset no DestinationRule defines?)`,
      replyHeaders,
    );
  }
  const path =
    action.rewriteRegex !== undefined
      ? action.rewriteRegex(view.path) + (view.query === '' ? '' : `?${view.query}`)
      : action.rewriteUri === undefined
        ? view.pathAndQuery
        : rewritePath(view.path, route.blocks[block]!.rewritePrefixLength, action.rewriteUri) +
          (view.query === '' ? '' : `?${view.query}`);
  // Only consistent-hash clusters pay for reading the key.
  const hashed =
    cluster.hashPolicy === undefined
      ? undefined
      : cluster.hashPolicy.hashRequest(view, req.socket.remoteAddress, ctx.random);
  const headers = buildRequestHeaders(req.rawHeaders, {
    host: dest.request.authority ?? view.rawAuthority,
    clientAddress: req.socket.remoteAddress,
    scheme: view.scheme,
    ops: dest.request,
    newRequestId: randomUUID,
    trace: ctx.trace,
    external:
      edge === undefined
        ? undefined
        : { peer: req.socket.remoteAddress ?? '', trustedHops: edge.trustedHops },
  });
  forward(
    ctx,
    {
      routeId: route.id,
      cluster,
      health: table.health,
      retry: action.retry,
      timeoutMs: action.timeoutMs,
      responseOps:
        filtered?.origin === undefined
          ? dest.response
          : corsResponseOps(filtered.cors!, dest.response, filtered.origin),
      label: cluster.service,
      replyHeaders,
      injectedFlag: filtered?.flag,
      mirrors: action.mirrors,
      hash: hashed?.hash,
      setCookie: hashed?.setCookie,
      explain: headers.explain
        ? explainForward(explain, req, table, view, gateway, ctx.now(), dest.clusterName)
        : undefined,
    },
    req,
    res,
    { method: view.method, path, originalPath: view.path, authority: view.authority, startedAt },
    headers,
  );
}

function sendDirect(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  route: CompiledRoute,
  action: DirectRouteAction,
  filtered: FilterState | undefined,
): void {
  const body = action.body;
  const base =
    body.length > 0
      ? ['content-type', 'text/plain', 'content-length', String(body.length)]
      : ['content-length', '0'];
  res.writeHead(action.status, applyHeaderOps(base, localResponseOps(route, filtered)));
  res.end(body);
  publishLocal(ctx, res, view, startedAt, route.id, filtered?.flag);
}

/** The route's response ops, with CORS headers when the request's Origin passed. */
function localResponseOps(route: CompiledRoute, filtered: FilterState | undefined) {
  return filtered?.origin === undefined
    ? route.response
    : corsResponseOps(filtered.cors!, route.response, filtered.origin);
}

function sendRedirect(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  route: CompiledRoute,
  action: RedirectRouteAction,
  block: number,
  filtered: FilterState | undefined,
): void {
  const location = redirectLocation(action, {
    scheme: view.scheme,
    host: view.rawAuthority,
    path: view.path,
    query: view.query,
    prefixLength: route.blocks[block]?.rewritePrefixLength ?? 1,
    // Reading the port may ask the socket; only FROM_REQUEST_PORT needs it.
    port: action.derivePort === 'FROM_REQUEST_PORT' ? view.port : undefined,
  });
  res.writeHead(
    action.code,
    applyHeaderOps(
      ['location', location, 'content-length', '0'],
      localResponseOps(route, filtered),
    ),
  );
  res.end();
  publishLocal(ctx, res, view, startedAt, route.id, filtered?.flag);
}

function localReply(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  routeId: string | undefined,
  status: number,
  flag: string,
  code: string,
  message: string,
  extra?: readonly string[],
): void {
  sendLocalReply(res, ctx.proxyId, status, flag, code, message, extra);
  publishLocal(ctx, res, view, startedAt, routeId, flag);
}

/** Last line of defence: a bug must cost one request, never the process. */
export function internalError(ctx: ForwardContext, res: ServerResponse, err: unknown): void {
  try {
    ctx.log?.('error', 'internal error while handling a request', {
      error: err instanceof Error ? err.stack : String(err),
    });
    sendLocalReply(
      res,
      ctx.proxyId,
      500,
      INTERNAL_ERROR_CODE,
      INTERNAL_ERROR_CODE,
      `internal proxy error: ${err instanceof Error ? err.message : String(err)}`,
    );
  } catch {
    res.destroy();
  }
}

function explainForward(
  policy: ExplainPolicy,
  req: IncomingMessage,
  table: RouteTable,
  view: NodeRequestView,
  gateway: boolean,
  now: number,
  cluster: string,
): string | undefined {
  const line = explainLine(policy, req, table, view, gateway, now, view.rawAuthority);
  return line === undefined ? undefined : `${line} cluster=${cluster}`;
}
