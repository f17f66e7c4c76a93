// Sidecar inbound: everything that reaches the instance through the mesh goes to the app
// beside it over a keep-alive pool. No routing (the caller's proxy already chose this
// instance), no retries beyond a stale keep-alive socket, no outlier detection (there is
// nowhere else to send it). Headers are cleaned of hop-by-hop fields as everywhere.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ErrorCode, ResponseFlag } from '@weft/model';
import { endpointKey } from '../compile/compile-snapshot.js';
import { NO_HEADER_OPS } from '../compile/header-ops.js';
import { compileRetryPolicy } from '../compile/retry-policy.js';
import type { RuntimeCluster } from '../compile/types.js';
import { createEndpointLoad } from '../lb/endpoint-load.js';
import { algorithms } from '../lb/registry.js';
import type { EndpointState } from '../lb/types.js';
import { requestEndChannel } from '../telemetry/channels.js';
import { PEER_METADATA_HEADER } from '../telemetry/peer-metadata.js';
import { isMutualTls } from '../tls/peer-identity.js';
import type { LogFn } from '../telemetry/log.js';
import type { Tracer } from '../telemetry/tracing/tracer.js';
import { createAgentPool, type AgentPool } from '../upstream/agent-pool.js';
import { forward, type ForwardTarget } from '../upstream/forward.js';
import { buildRequestHeaders } from '../upstream/headers.js';
import type { CompiledAuthz } from '../filters/authz/index.js';
import { peerPrincipal as noPeerPrincipal, type PeerPrincipal } from '../tls/peer-principal.js';
import { authorize } from './authorize.js';
import { quote, sendLocalReply } from './local-reply.js';
import { publishLocal } from './publish-local.js';
import {
  createForwardContext,
  internalError,
  type ProxyRequestHandler,
} from './request-handler.js';
import { NodeRequestView } from './request-view.js';

export interface InboundOptions {
  appHost: string;
  appPort: number;
  proxyId: string;
  /** 0 (default) = none, as Istio's inbound routes. */
  timeoutMs?: number;
  agents?: AgentPool;
  log?: LogFn;
  now?: () => number;
  /** Distributed tracing; off when undefined. */
  tracer?: Tracer | undefined;
  /** The AuthorizationPolicies of the current table (read per request); none when absent. */
  authz?: () => CompiledAuthz | undefined;
  /** The verified mTLS identity of a connection's peer (tls/peer-principal.ts). */
  peerPrincipal?: PeerPrincipal;
  /** X-Forwarded-For hops to trust for `remote.ip` beyond the calling proxy (default 0). */
  numTrustedProxies?: number;
  /**
   * This sidecar's peer metadata header value (telemetry/peer-metadata.ts): sent back on
   * responses to callers that sent theirs over mutual TLS, as Istio's metadata exchange does.
   */
  peerMetadata?: string | undefined;
}

export function createInboundHandler(opts: InboundOptions): ProxyRequestHandler {
  const ownsAgents = opts.agents === undefined;
  const agents = opts.agents ?? createAgentPool();
  const ctx = createForwardContext('inbound', opts, agents);
  const key = endpointKey(opts.appHost, opts.appPort);
  const endpoint: EndpointState = {
    id: 'app',
    address: opts.appHost,
    port: opts.appPort,
    key,
    weight: 1,
    healthy: true,
    labels: {},
    outlier: { key, ejectedUntil: 0, ejections: 0, consecutiveFailures: 0, lastFailureAt: 0 },
    load: createEndpointLoad(key, 0),
  };
  const cluster: RuntimeCluster = {
    name: `inbound|${opts.appPort}||`,
    service: `the local app at ${key}`,
    subset: undefined,
    policy: 'ROUND_ROBIN',
    algorithm: 'round-robin',
    endpoints: [endpoint],
    lb: algorithms['round-robin']([endpoint]),
  };
  const target: ForwardTarget = {
    routeId: 'inbound',
    cluster,
    health: undefined,
    retry: compileRetryPolicy({ attempts: 0, retryOn: [], retriableStatusCodes: [] }),
    timeoutMs: opts.timeoutMs ?? 0,
    responseOps: NO_HEADER_OPS,
    label: cluster.service,
  };
  // The same, answering a mesh peer's metadata with ours (chosen per request, built once).
  const meta = opts.peerMetadata;
  const exchangeTarget: ForwardTarget =
    meta === undefined
      ? target
      : {
          ...target,
          responseOps: { ...NO_HEADER_OPS, append: [PEER_METADATA_HEADER, meta], empty: false },
        };

  const authzOptions = {
    proxyId: opts.proxyId,
    // Istio's inbound `ports` / destination.port are the workload's port: here, the app's.
    port: opts.appPort,
    peerPrincipal: opts.peerPrincipal ?? noPeerPrincipal,
    numTrustedProxies: opts.numTrustedProxies ?? 0,
    edge: false,
  };

  const handler = function handleInbound(req: IncomingMessage, res: ServerResponse): void {
    try {
      const startedAt = requestEndChannel.hasSubscribers ? performance.now() : 0;
      const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
      const view = new NodeRequestView(req, true, secure ? 'https' : 'http');
      if (!view.valid) {
        sendLocalReply(
          res,
          ctx.proxyId,
          400,
          ResponseFlag.DownstreamProtocolError,
          ErrorCode.BadRequest,
          `cannot understand the request target ${quote(req.url ?? '')}`,
        );
        return;
      }
      // The server side applies AuthorizationPolicy (Istio's division of labour).
      let path = view.pathAndQuery;
      const authz = opts.authz?.();
      if (authz !== undefined) {
        const allowed = authorize(authz, req, res, view, authzOptions);
        if (allowed === undefined) {
          publishLocal(ctx, res, view, startedAt, undefined, ResponseFlag.RbacDenied);
          return;
        }
        // What was authorized is what the app gets (Envoy forwards the normalized path).
        if (allowed.path !== view.path)
          path = view.query === '' ? allowed.path : `${allowed.path}?${view.query}`;
      }
      const headers = buildRequestHeaders(req.rawHeaders, {
        host: view.rawAuthority,
        // The calling proxy already appended the client; this hop is inside the mesh.
        clientAddress: undefined,
        scheme: view.scheme,
        ops: NO_HEADER_OPS,
        newRequestId: randomUUID,
        trace: ctx.trace,
      });
      forward(
        ctx,
        headers.peerMetadata !== undefined && isMutualTls(req.socket) ? exchangeTarget : target,
        req,
        res,
        {
          method: view.method,
          path,
          originalPath: view.path,
          authority: view.authority,
          startedAt,
        },
        headers,
      );
    } catch (err) {
      internalError(ctx, res, err);
    }
  } as ProxyRequestHandler;
  handler.close = () => {
    if (ownsAgents) agents.destroy();
  };
  return handler;
}
