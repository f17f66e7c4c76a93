// Sending mirrored copies, over mutual TLS when the mirror is a mesh endpoint (as the real
// request would be). Fire-and-forget: the copy goes out beside the real request, its
// response is read and dropped, and nothing about it (no endpoint, a refused connection, a
// slow answer) can delay or fail the real request. Bounded: a copy that takes longer than
// the route timeout (or MIRROR_TIMEOUT_MS) is cut off, and at most MAX_MIRRORS_IN_FLIGHT
// copies are outstanding per process; beyond that copies are dropped, not queued.
//
// Bodies: the caller passes the body only when it already holds it (small bodies that the
// upstream exchange buffers anyway); a request whose body streams is not mirrored at all,
// since a copy without its body would be a different request. See upstream/forward.ts.

import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { ResponseFlag } from '@weft/model';
import { requestEndChannel, type ProxyKind } from '../../telemetry/channels.js';
import type { LogFn } from '../../telemetry/log.js';
import { upstreamTransport, type MeshRequestArgs } from '../../tls/mesh-agent.js';
import type { AgentPool } from '../../upstream/agent-pool.js';
import { shadowHost, shouldMirror, type CompiledMirror } from './index.js';

/** Cut-off for a copy on a route without a timeout. */
export const MIRROR_TIMEOUT_MS = 15_000;
export const MAX_MIRRORS_IN_FLIGHT = 256;

export interface MirrorContext {
  readonly proxyId: string;
  readonly kind: ProxyKind;
  readonly random: () => number;
  readonly now: () => number;
  readonly agents: AgentPool;
  /** Mutual-TLS agents (tls/mesh-agent.ts) for mirror endpoints with a tlsIdentity. */
  readonly meshAgents?: AgentPool | undefined;
  readonly log: LogFn | undefined;
}

export interface MirroredRequest {
  readonly method: string;
  /** Path and query as sent to the real upstream (after rewrites). */
  readonly path: string;
  /** The upstream request headers, `Host` first (buildRequestHeaders puts it there). */
  readonly headers: readonly string[];
  readonly body: Buffer | undefined;
  /** The route timeout; 0 = none. */
  readonly timeoutMs: number;
  /** For the telemetry event of the copy (shadow traffic in access logs and metrics). */
  readonly routeId: string | undefined;
  readonly requestId: string | undefined;
}

/** Counters for tests and debugging; a proxy-wide view of what mirroring did. */
export const mirrorStats = { sent: 0, answered: 0, failed: 0, dropped: 0 };

let inFlight = 0;

export function sendMirrors(
  ctx: MirrorContext,
  mirrors: readonly CompiledMirror[],
  req: MirroredRequest,
): void {
  for (let i = 0; i < mirrors.length; i++) {
    const m = mirrors[i]!;
    if (!shouldMirror(m, ctx.random)) continue;
    sendOne(ctx, m, req);
  }
}

function sendOne(ctx: MirrorContext, m: CompiledMirror, req: MirroredRequest): void {
  const cluster = m.cluster;
  const ep =
    cluster === undefined || inFlight >= MAX_MIRRORS_IN_FLIGHT
      ? undefined
      : cluster.lb.pick({ random: ctx.random, now: ctx.now(), skip: undefined });
  if (ep === undefined) {
    mirrorStats.dropped++;
    return;
  }
  const headers = req.headers.slice();
  if (headers[0]?.toLowerCase() === 'host' && headers[1] !== undefined)
    headers[1] = shadowHost(headers[1]);
  let up: ClientRequest;
  try {
    up = request({
      // Over mutual TLS like the real request when the mirror is a mesh endpoint.
      ...upstreamTransport(ep, ctx.agents, ctx.meshAgents),
      host: ep.address,
      port: ep.port,
      method: req.method,
      path: req.path,
      headers,
    } as MeshRequestArgs);
  } catch (err) {
    failed(ctx, m, err);
    return;
  }
  inFlight++;
  mirrorStats.sent++;
  const copy: Copy = {
    ctx,
    mirror: m,
    done: false,
    timer: undefined,
    // What the copy's telemetry event needs; nothing is kept when nobody listens.
    report: requestEndChannel.hasSubscribers
      ? {
          req,
          authority: headers[1] ?? '',
          endpoint: ep.key,
          startedAt: ctx.now(),
          status: 0,
          flag: undefined,
        }
      : undefined,
  };
  (up as Tagged)[kCopy] = copy;
  copy.timer = setTimeout(onTimeout, req.timeoutMs > 0 ? req.timeoutMs : MIRROR_TIMEOUT_MS, up);
  copy.timer.unref();
  up.on('response', onResponse);
  up.on('error', onError);
  up.on('close', onClose);
  up.end(req.body);
}

interface Copy {
  ctx: MirrorContext;
  mirror: CompiledMirror;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  report: CopyReport | undefined;
}

interface CopyReport {
  req: MirroredRequest;
  /** The Host the copy was sent with (`-shadow` suffix). */
  authority: string;
  endpoint: string;
  startedAt: number;
  /** 0 until the mirror answers. */
  status: number;
  flag: string | undefined;
}

const kCopy = Symbol('weft.mirror');
type Tagged = ClientRequest & { [kCopy]?: Copy };

// Handlers are module functions that find their Copy on the emitter: no closures per copy.

function onResponse(this: ClientRequest, res: IncomingMessage): void {
  mirrorStats.answered++;
  const report = (this as Tagged)[kCopy]?.report;
  if (report !== undefined) report.status = res.statusCode ?? 0;
  // Read and drop, so that the connection goes back to the pool.
  res.resume();
}

function onError(this: ClientRequest, err: Error): void {
  const copy = (this as Tagged)[kCopy];
  if (copy === undefined) return;
  if (copy.report !== undefined && copy.report.status === 0) {
    copy.report.flag =
      err.message === TIMED_OUT
        ? ResponseFlag.UpstreamRequestTimeout
        : ResponseFlag.UpstreamConnectionFailure;
  }
  failed(copy.ctx, copy.mirror, err);
}

function onClose(this: ClientRequest): void {
  const copy = (this as Tagged)[kCopy];
  if (copy === undefined || copy.done) return;
  copy.done = true;
  inFlight--;
  if (copy.timer !== undefined) clearTimeout(copy.timer);
  if (copy.report !== undefined) publishCopy(copy.ctx, copy.mirror, copy.report);
}

const TIMED_OUT = 'mirror timed out';

function onTimeout(up: ClientRequest): void {
  up.destroy(new Error(TIMED_OUT));
}

/** The copy's request-end event, marked as shadow traffic; published when the copy is over. */
function publishCopy(ctx: MirrorContext, m: CompiledMirror, r: CopyReport): void {
  if (!requestEndChannel.hasSubscribers) return;
  requestEndChannel.publish({
    proxyId: ctx.proxyId,
    kind: ctx.kind,
    method: r.req.method,
    authority: r.authority,
    path: r.req.path,
    routeId: r.req.routeId,
    cluster: m.clusterName,
    endpoint: r.endpoint,
    status: r.status,
    flag: r.flag,
    durationMs: ctx.now() - r.startedAt,
    attempts: 1,
    requestId: r.req.requestId,
    shadow: true,
  });
}

function failed(ctx: MirrorContext, m: CompiledMirror, err: unknown): void {
  mirrorStats.failed++;
  // Said, but not once per request: a dead mirror must not flood the log of a healthy route.
  if (mirrorStats.failed === 1 || mirrorStats.failed % 1000 === 0) {
    ctx.log?.('warn', 'mirrored request failed (the real request is not affected)', {
      cluster: m.clusterName,
      failures: mirrorStats.failed,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
