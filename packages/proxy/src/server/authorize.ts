// Authorization on a listener (sidecar inbound, gateway): the request's attributes for the
// pure evaluator in filters/authz, and Istio's 403 when it says no. The body starts with
// Envoy's exact words, `RBAC: access denied`, which is what Istio users grep for.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, PROXY_ERROR_HEADER, PROXY_ID_HEADER, ResponseFlag } from '@weft/model';
import {
  evaluateAuthorization,
  normalizePath,
  plainAddress,
  type AuthzDecision,
  type AuthzRequest,
  type CompiledAuthz,
} from '../filters/authz/index.js';
import { authzDeniedChannel } from '../telemetry/channels.js';
import type { PeerPrincipal } from '../tls/peer-principal.js';
import { trustedClientAddress } from './client-address.js';
import type { NodeRequestView } from './request-view.js';

export const RBAC_DENIED_BODY = 'RBAC: access denied';

class NodeAuthzRequest implements AuthzRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly sourceIp: string;
  private remote: string | undefined;

  constructor(
    private readonly req: IncomingMessage,
    view: NodeRequestView,
    readonly port: number,
    readonly principal: string | undefined,
    private readonly trustedHops: number,
    private readonly edge: boolean,
  ) {
    this.method = view.method;
    this.path = normalizePath(view.path);
    this.host = view.rawAuthority;
    this.sourceIp = plainAddress(req.socket.remoteAddress);
  }

  get remoteIp(): string {
    // Read only by policies that ask for it.
    this.remote ??= plainAddress(
      trustedClientAddress(
        this.header('x-forwarded-for'),
        this.sourceIp,
        this.trustedHops,
        this.edge,
      ),
    );
    return this.remote;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  }
}

export interface AuthorizeOptions {
  proxyId: string;
  /** The destination port policies see (`ports`, `destination.port`). */
  port: number;
  peerPrincipal: PeerPrincipal;
  numTrustedProxies: number;
  /** Edge proxy (gateway) or inner (sidecar inbound): how X-Forwarded-For is trusted. */
  edge: boolean;
}

/**
 * Undefined when the request may go on (with the normalized path, which is what is then
 * forwarded, as Envoy does); otherwise the 403 has been sent.
 */
export function authorize(
  authz: CompiledAuthz,
  req: IncomingMessage,
  res: ServerResponse,
  view: NodeRequestView,
  opts: AuthorizeOptions,
): { path: string } | undefined {
  const r = new NodeAuthzRequest(
    req,
    view,
    opts.port,
    opts.peerPrincipal(req.socket),
    opts.numTrustedProxies,
    opts.edge,
  );
  const decision = evaluateAuthorization(authz, r);
  if (decision.audit !== undefined || !decision.allowed) publish(opts.proxyId, r, decision);
  if (decision.allowed) return { path: r.path };
  sendDenied(res, opts.proxyId);
  return undefined;
}

export function sendDenied(res: ServerResponse, proxyId: string): void {
  const body = `${RBAC_DENIED_BODY} (weft ${proxyId}: ${ResponseFlag.RbacDenied}, ${ErrorCode.RbacDenied})\n`;
  res.writeHead(403, [
    'content-type',
    'text/plain',
    'content-length',
    String(Buffer.byteLength(body)),
    PROXY_ERROR_HEADER,
    ResponseFlag.RbacDenied,
    PROXY_ID_HEADER,
    proxyId,
  ]);
  res.end(body);
}

function publish(proxyId: string, r: AuthzRequest, d: AuthzDecision): void {
  if (!authzDeniedChannel.hasSubscribers) return;
  authzDeniedChannel.publish({
    proxyId,
    allowed: d.allowed,
    // Envoy's access log detail: which policy denied; none means no ALLOW policy matched.
    policy: d.policy,
    audit: d.audit,
    method: r.method,
    path: r.path,
    sourceIp: r.sourceIp,
    principal: r.principal,
  });
}
