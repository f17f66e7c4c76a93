// Sending one downstream request upstream: pick an endpoint, send, retry on a fresh endpoint
// when the policy allows and the body can be replayed, enforce the route and per-try
// timeouts, feed connection failures to the outlier tracker, and stream the response back.
//
// Per request this allocates one Exchange and what node:http needs. Event handlers are
// module-level functions that find their Exchange through a symbol on the emitter, so no
// closures are created per request.

import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ErrorCode, PROXY_ERROR_HEADER, ResponseFlag } from '@weft/model';
import {
  admit,
  admitRetry,
  cancel,
  release,
  releaseRetry,
  type Admission,
  type Waiter,
} from '../circuit-breaker/index.js';
import { isRetriableResponse, retryBackoffMs, retryPolicyFor } from '../compile/retry-policy.js';
import type { CompiledHeaderOps, CompiledRetryPolicy, RuntimeCluster } from '../compile/types.js';
import { headerSafe } from '../explain/format.js';
import { observeLatency, type EndpointLoad } from '../lb/endpoint-load.js';
import { joinFlags } from '../filters/index.js';
import type { CompiledMirror } from '../filters/mirror/index.js';
import { sendMirrors } from '../filters/mirror/send.js';
import type { EndpointState } from '../lb/types.js';
import {
  belowMinHealth,
  CONNECT_FAILURE,
  RESET,
  TIMEOUT,
  type Ejection,
  type HealthTracker,
  type TryOutcome,
} from '../outlier/health-tracker.js';
import { depositRequest, withdrawRetry } from '../retry-budget/index.js';
import { sendLocalReply, INTERNAL_ERROR_CODE } from '../server/local-reply.js';
import {
  endpointEjectedChannel,
  requestEndChannel,
  type ProxyKind,
  type RequestEndEvent,
} from '../telemetry/channels.js';
import type { LogFn } from '../telemetry/log.js';
import type { RequestTrace, TraceHop } from '../telemetry/tracing/tracer.js';
import { measureWireBytes } from '../telemetry/wire-bytes.js';
import { isMutualTls, peerIdentity } from '../tls/peer-identity.js';
import { upstreamTransport, type MeshRequestArgs } from '../tls/mesh-agent.js';
import type { AgentPool } from './agent-pool.js';
import { buildResponseHeaders, EXPLAIN_HEADER, type RequestHeadersResult } from './headers.js';
import { PEER_METADATA_HEADER } from '../telemetry/peer-metadata.js';
import { loopIdleMs } from './loop-idle.js';

export interface ForwardContext {
  readonly proxyId: string;
  readonly kind: ProxyKind;
  readonly random: () => number;
  readonly now: () => number;
  readonly agents: AgentPool;
  /** Agents that speak mutual TLS; used for endpoints with a tlsIdentity when present. */
  readonly meshAgents?: AgentPool | undefined;
  readonly log: LogFn | undefined;
  /** Envoy/Istio default connect timeout is 10 s. */
  readonly connectTimeoutMs: number;
  /** Bodies up to this size are buffered so that they can be retried; larger ones stream. */
  readonly maxBufferedBodyBytes: number;
  /** Tracing for this listener; undefined when tracing is off. */
  readonly trace: TraceHop | undefined;
  /**
   * This proxy's peer metadata header value (telemetry/peer-metadata.ts), sent to mesh
   * endpoints (mutual TLS) only; undefined = none.
   */
  readonly peerMetadata?: string | undefined;
}

export interface ForwardTarget {
  routeId: string | undefined;
  cluster: RuntimeCluster;
  /** Where connection failures are reported; undefined for the sidecar's own app. */
  health: HealthTracker | undefined;
  retry: CompiledRetryPolicy;
  timeoutMs: number;
  responseOps: CompiledHeaderOps;
  /** How messages name the destination. */
  label: string;
  /** Headers for the proxy's own replies (the route's CORS headers), `[name, value, ...]`. */
  replyHeaders?: readonly string[] | undefined;
  /** A response flag the route's filters set (fault delay: DI), logged before ours. */
  injectedFlag?: string | undefined;
  /** Clusters that get a copy of the request (filters/mirror); undefined = none. */
  mirrors?: readonly CompiledMirror[] | undefined;
  /** Consistent-hash clusters: the request's hash, and a cookie to set if the proxy made one. */
  hash?: number | undefined;
  setCookie?: string | undefined;
  /** Set only when the client asked (`x-weft-explain`): the trace, sent back in a header. */
  explain?: string | undefined;
}

export interface DownstreamInfo {
  method: string;
  /** Path and query to send upstream. */
  path: string;
  /** Path as received, without the query: what telemetry reports. */
  originalPath: string;
  /** Host without port, for telemetry. */
  authority: string;
  /** performance.now() at arrival when someone listens to telemetry, else 0. */
  startedAt: number;
}

const kExchange = Symbol('weft.exchange');
type Tagged<T> = T & { [kExchange]?: Exchange };

// Errors that mean "never got a connection": safe to retry whatever the request was.
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function forward(
  ctx: ForwardContext,
  target: ForwardTarget,
  req: IncomingMessage,
  res: ServerResponse,
  down: DownstreamInfo,
  headers: RequestHeadersResult,
): void {
  new Exchange(ctx, target, req, res, down, headers).start();
}

class Exchange implements Waiter {
  attempts = 0;
  /** The route's policy as it applies to this request's method. */
  retry: CompiledRetryPolicy;
  /** Holds one of the cluster's circuit-breaker slots (a try in flight). */
  holdsSlot = false;
  /** Holds one of the cluster's concurrent-retry slots. */
  holdsRetry = false;
  /** Waiting in the cluster's pending queue for a connection. */
  queued = false;
  /** A retry was skipped because the retry budget was spent. */
  budgetExhausted = false;
  /** retriable-headers: response headers that make a retry (x-envoy-retriable-header-names). */
  retriableHeaderNames: string[] | undefined = undefined;
  tried: EndpointState[] | undefined = undefined;
  endpoint: EndpointState | undefined = undefined;
  upstream: ClientRequest | undefined = undefined;
  upstreamRes: IncomingMessage | undefined = undefined;
  body: Buffer | undefined = undefined;
  chunks: Buffer[] | undefined = undefined;
  streaming = false;
  /**
   * A streamed body of unknown size (chunked) is copied here while it fits the buffer limit,
   * so a retry can replay it; undefined once it outgrew the limit (or for other bodies).
   */
  replay: Buffer[] | undefined = undefined;
  replayBytes = 0;
  staleRetried = false;
  responded = false;
  finished = false;
  flags: string | undefined = undefined;
  lastError = '';
  grpcStatus = -1;
  upstreamPeerMetadata: string | undefined = undefined;
  /** The request headers plus this proxy's peer metadata, made for the first mesh try. */
  meshHeaders: string[] | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  tryTimer: NodeJS.Timeout | undefined = undefined;
  retryTimer: NodeJS.Timeout | undefined = undefined;
  /** The current try's endpoint load record, held while the try is in flight. */
  load: EndpointLoad | undefined = undefined;
  sentAt = 0;
  /** loopIdleMs() at send: the latency sample is the loop's idle time since (loop-idle.ts). */
  sentIdle = 0;

  constructor(
    readonly ctx: ForwardContext,
    readonly target: ForwardTarget,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly down: DownstreamInfo,
    readonly headers: RequestHeadersResult,
  ) {
    this.retry = retryPolicyFor(target.retry, down.method);
  }

  start(): void {
    const resilience = this.target.cluster.resilience;
    // Every request adds to its cluster's retry budget; retries draw from it.
    if (resilience !== undefined) depositRequest(resilience.budget, this.ctx.now());
    if (this.retry.retriableHeaders) {
      const names = this.req.headers['x-envoy-retriable-header-names'];
      if (typeof names === 'string') {
        this.retriableHeaderNames = names
          .split(',')
          .map((n) => n.trim().toLowerCase())
          .filter((n) => n !== '');
      }
    }
    (this.res as Tagged<ServerResponse>)[kExchange] = this;
    this.res.on('close', onDownstreamClose);
    const h = this.headers;
    const mirrors = this.target.mirrors;
    if (!h.hasBody) {
      this.attempt();
      if (mirrors !== undefined) this.mirror(mirrors, undefined);
    } else if (
      (this.retry.retries > 0 || mirrors !== undefined) &&
      h.contentLength >= 0 &&
      h.contentLength <= this.ctx.maxBufferedBodyBytes
    ) {
      // Buffered to be replayed on a retry, or copied to the mirrors once it is all in.
      this.chunks = [];
      (this.req as Tagged<IncomingMessage>)[kExchange] = this;
      this.req.on('data', onRequestData);
      this.req.on('end', onRequestEnd);
    } else {
      // Too big (or of unknown size) to buffer first: stream it. A chunked body is also copied
      // while it fits the limit, and can be retried until it outgrows it. Nor is it
      // mirrored: a copy without its body would be a different request.
      this.streaming = true;
      if (this.retry.retries > 0 && h.contentLength < 0) {
        this.replay = [];
        (this.req as Tagged<IncomingMessage>)[kExchange] = this;
        this.req.on('data', onStreamedData);
      }
      this.attempt();
    }
  }

  attempt(): void {
    if (this.finished) return;
    this.attempts++;
    // Envoy starts the route timeout once the request is in hand; a slow upload of a
    // buffered body does not eat into the upstream's time.
    if (this.attempts === 1 && this.target.timeoutMs > 0 && this.timer === undefined) {
      this.timer = setTimeout(onRouteTimeout, this.target.timeoutMs, this);
    }
    this.releaseLoad();
    const breaker = this.target.cluster.resilience?.breaker;
    if (breaker !== undefined) {
      const admission = admit(breaker, this);
      if (admission === 'queued') {
        this.queued = true;
        return;
      }
      if (admission !== 'go') {
        this.replyOverflow(admission);
        return;
      }
      this.holdsSlot = true;
    }
    this.send();
  }

  /** The circuit breaker let this queued request have a connection slot. */
  admitted(): void {
    this.queued = false;
    this.holdsSlot = true;
    try {
      if (this.finished) this.releaseSlot();
      else this.send();
    } catch (err) {
      this.fail(err);
    }
  }

  send(): void {
    const tried = this.tried;
    const now = this.ctx.now();
    const cluster = this.target.cluster;
    const minHealth = cluster.resilience?.outlier.minHealthPercent ?? 0;
    const ep = cluster.lb.pick({
      random: this.ctx.random,
      now,
      skip: tried === undefined ? undefined : (e) => tried.includes(e),
      hash: this.target.hash,
      ignoreEjection: minHealth > 0 && belowMinHealth(cluster.endpoints, minHealth, now),
    });
    if (ep === undefined) {
      this.replyNoHealthyUpstream();
      return;
    }
    this.endpoint = ep;
    if (this.attempts === 1 && this.headers.trace !== undefined)
      this.headers.trace.clientStartedAt = performance.now();
    // In flight from here until the try completes or fails (releaseLoad).
    this.load = ep.load;
    ep.load.active++;
    this.sentAt = now;
    this.sentIdle = loopIdleMs();
    let up: ClientRequest;
    try {
      // Peer metadata goes only where mutual TLS goes (upstreamTransport's choice).
      const meta =
        ep.tlsIdentity === undefined || this.ctx.meshAgents === undefined
          ? undefined
          : this.ctx.peerMetadata;
      up = request({
        ...upstreamTransport(
          ep,
          this.ctx.agents,
          this.ctx.meshAgents,
          cluster.resilience?.idleTimeoutMs,
        ),
        host: ep.address,
        port: ep.port,
        method: this.down.method,
        path: this.down.path,
        headers:
          meta === undefined
            ? this.headers.headers
            : (this.meshHeaders ??= [...this.headers.headers, PEER_METADATA_HEADER, meta]),
      } as MeshRequestArgs);
    } catch (err) {
      this.replyInternal(err);
      return;
    }
    (up as Tagged<ClientRequest>)[kExchange] = this;
    this.upstream = up;
    up.on('socket', onUpstreamSocket);
    up.on('response', onUpstreamResponse);
    up.on('error', onUpstreamError);
    if (this.retry.perTryTimeoutMs > 0) {
      this.tryTimer = setTimeout(onTryTimeout, this.retry.perTryTimeoutMs, this, up);
    }
    if (this.body !== undefined) up.end(this.body);
    else if (this.streaming) this.sendStreamed(up);
    else up.end();
  }

  /** The first try pipes the body; a retry replays the copy, then pipes what is still to come. */
  sendStreamed(up: ClientRequest): void {
    const replay = this.replay;
    if (replay === undefined) {
      // Bytes were read (while queued or by a failed try) and not kept: cannot resend.
      if (this.replayBytes > 0) this.replyNotReplayable();
      else this.req.pipe(up);
      return;
    }
    if (this.req.readableEnded) {
      up.end(replay.length === 1 ? replay[0]! : Buffer.concat(replay));
      return;
    }
    for (const chunk of replay) up.write(chunk);
    this.req.pipe(up);
  }

  replyNotReplayable(): void {
    this.flags = `${ResponseFlag.UpstreamRemoteReset},${ResponseFlag.UpstreamRetryLimitExceeded}`;
    this.reply(
      503,
      ResponseFlag.UpstreamRemoteReset,
      ErrorCode.UpstreamReset,
      `could not retry the request to ${this.target.label} (last: ${this.lastError || 'none'}): its streamed body outgrew the ${this.ctx.maxBufferedBodyBytes}-byte replay buffer`,
    );
  }

  /** A streamed body chunk: kept for a replay while the copy fits the limit. */
  onStreamedData(chunk: Buffer): void {
    if (this.replay === undefined) return;
    this.replayBytes += chunk.length;
    if (this.replayBytes > this.ctx.maxBufferedBodyBytes) {
      this.replay = undefined;
      this.req.removeListener('data', onStreamedData);
    } else this.replay.push(chunk);
  }

  /** Sends the copies, after the real request has gone out; never fails this exchange. */
  mirror(mirrors: readonly CompiledMirror[], body: Buffer | undefined): void {
    try {
      sendMirrors(this.ctx, mirrors, {
        method: this.down.method,
        path: this.down.path,
        headers: this.headers.headers,
        body,
        timeoutMs: this.target.timeoutMs,
        routeId: this.target.routeId,
        requestId: this.headers.requestId,
      });
    } catch (err) {
      this.ctx.log?.('error', 'internal error while mirroring a request', {
        error: err instanceof Error ? err.stack : String(err),
        route: this.target.routeId,
      });
    }
  }

  /**
   * Called when a try has failed in a way the policy retries: whether to retry now. Asks the
   * retry budget and the concurrent-retry limit, and takes a retry slot when it says yes.
   */
  canRetry(): boolean {
    if (this.finished || this.attempts > this.retry.retries) return false;
    if (this.streaming && this.replay === undefined) return false;
    // The failed try is over: its slots go back before a retry asks for new ones.
    this.releaseLoad();
    this.releaseSlot();
    const resilience = this.target.cluster.resilience;
    if (resilience === undefined) return true;
    if (!withdrawRetry(resilience.budget, this.ctx.now())) {
      this.budgetExhausted = true;
      return false;
    }
    const breaker = resilience.breaker;
    if (breaker !== undefined) {
      if (!admitRetry(breaker)) return false;
      this.holdsRetry = true;
    }
    return true;
  }

  retryLater(): void {
    (this.tried ??= []).push(this.endpoint!);
    // The failed try's pipe goes; the retry replays the copy and pipes the rest itself.
    if (this.streaming) this.req.unpipe();
    this.releaseLoad();
    this.upstream = undefined;
    const delay = retryBackoffMs(this.retry, this.attempts, this.ctx.random);
    if (delay <= 0) this.attempt();
    else this.retryTimer = setTimeout(onRetryTimer, delay, this);
  }

  onResponse(up: ClientRequest, ures: IncomingMessage): void {
    if (up !== this.upstream || this.finished) {
      ures.resume();
      return;
    }
    this.clearTryTimer();
    const ep = this.endpoint!;
    const status = ures.statusCode ?? 502;
    // Time to response headers feeds the latency estimate; a 5xx counts as a failure.
    const now = this.ctx.now();
    observeLatency(ep.load, loopIdleMs() - this.sentIdle, now, status >= 500);
    // A peer sidecar that could not connect to its app answers 503 UF: the request never
    // reached an app, so it is a connect failure of that endpoint (eject, retry elsewhere),
    // not an application 503. Only 503s pay for reading the header.
    if (
      status === 503 &&
      ures.headers[PROXY_ERROR_HEADER] === ResponseFlag.UpstreamConnectionFailure
    ) {
      ures.resume();
      this.judge(ep, CONNECT_FAILURE, 'peer sidecar could not reach its app');
      if (this.retry.connectFailure && this.canRetry()) {
        this.lastError = `${ep.key}: its sidecar could not reach the app`;
        this.retryLater();
        return;
      }
      this.flags = ResponseFlag.UpstreamConnectionFailure;
      this.passThrough(ures, status);
      return;
    }
    if (this.retry.grpcCodes.length > 0) {
      const g = ures.headers['grpc-status'];
      if (typeof g === 'string') this.grpcStatus = Number(g);
    }
    if (status < 500) this.target.health?.reportSuccess(ep.outlier);
    else this.judge(ep, { kind: 'response', status }, `${status} response`);
    if (
      isRetriableResponse(this.retry, status, this.grpcStatus) ||
      (this.retriableHeaderNames !== undefined && this.hasRetriableHeader(ures))
    ) {
      if (this.canRetry()) {
        // Drain it so the connection goes back to the pool.
        ures.resume();
        this.lastError = `${ep.key} answered ${status}`;
        this.retryLater();
        return;
      }
      // Envoy passes the last retriable response through as is; the flag is for the logs.
      if (this.retry.retries > 0) this.flags = ResponseFlag.UpstreamRetryLimitExceeded;
    }
    this.passThrough(ures, status);
  }

  hasRetriableHeader(ures: IncomingMessage): boolean {
    for (const name of this.retriableHeaderNames!)
      if (ures.headers[name] !== undefined) return true;
    return false;
  }

  /** Feeds a try's outcome to outlier detection under the cluster's policy. */
  judge(ep: EndpointState, outcome: TryOutcome, reason: string): void {
    const health = this.target.health;
    if (health === undefined) return;
    const cluster = this.target.cluster;
    const ejection = health.report(
      ep.outlier,
      outcome,
      this.ctx.now(),
      cluster.resilience?.outlier ?? health.defaultPolicy,
      cluster.endpoints,
    );
    if (ejection !== undefined) this.reportEjection(ejection, reason);
  }

  private passThrough(ures: IncomingMessage, status: number): void {
    this.responded = true;
    this.upstreamRes = ures;
    (ures as Tagged<IncomingMessage>)[kExchange] = this;
    ures.on('close', onUpstreamResponseClose);
    const headers = buildResponseHeaders(ures.rawHeaders, this.target.responseOps, this);
    if (this.target.setCookie !== undefined) headers.push('set-cookie', this.target.setCookie);
    if (this.target.explain !== undefined) headers.push(EXPLAIN_HEADER, this.explainLine());
    this.res.writeHead(status, headers);
    ures.pipe(this.res);
  }

  onError(up: ClientRequest, err: NodeJS.ErrnoException): void {
    if (up !== this.upstream || this.finished) return;
    this.clearTryTimer();
    this.upstream = undefined;
    this.releaseLoad();
    if (this.responded) {
      this.flags = ResponseFlag.UpstreamRemoteReset;
      this.res.destroy();
      return;
    }
    const ep = this.endpoint!;
    const code = err.code ?? err.message;
    // A keep-alive socket the upstream closed just as we reused it: not the endpoint's fault,
    // and the request never reached the app. Node's docs recommend exactly one retry.
    if (
      up.reusedSocket &&
      !this.streaming &&
      !this.staleRetried &&
      (code === 'ECONNRESET' || code === 'EPIPE')
    ) {
      this.staleRetried = true;
      this.attempts--;
      this.releaseSlot();
      this.attempt();
      return;
    }
    this.observeFailure(ep);
    const connect = CONNECT_ERRORS.has(code);
    this.lastError = `${ep.key} ${code}`;
    this.judge(ep, connect ? CONNECT_FAILURE : RESET, code);
    if ((connect ? this.retry.connectFailure : this.retry.reset) && this.canRetry()) {
      this.retryLater();
      return;
    }
    const exhausted = this.attempts > 1 ? `,${ResponseFlag.UpstreamRetryLimitExceeded}` : '';
    if (connect) {
      this.flags = ResponseFlag.UpstreamConnectionFailure + exhausted;
      this.reply(
        503,
        ResponseFlag.UpstreamConnectionFailure,
        ErrorCode.UpstreamConnect,
        `upstream connect error: could not connect to ${this.target.label} (${this.tries()}; last: ${this.lastError})`,
      );
    } else {
      this.flags = ResponseFlag.UpstreamRemoteReset + exhausted;
      this.reply(
        503,
        ResponseFlag.UpstreamRemoteReset,
        ErrorCode.UpstreamReset,
        `upstream ${ep.key} of ${this.target.label} reset the connection before responding (${this.tries()}; last: ${this.lastError})`,
      );
    }
  }

  onTryTimeout(up: ClientRequest): void {
    this.tryTimer = undefined;
    if (up !== this.upstream || this.finished || this.responded) return;
    this.upstream = undefined;
    up.destroy();
    this.observeFailure(this.endpoint!);
    this.releaseLoad();
    this.lastError = `${this.endpoint!.key} gave no response within the per-try timeout of ${this.retry.perTryTimeoutMs} ms`;
    this.judge(this.endpoint!, TIMEOUT, 'per-try timeout');
    if (this.retry.perTryTimeoutRetriable && this.canRetry()) {
      this.retryLater();
      return;
    }
    this.flags = ResponseFlag.UpstreamRequestTimeout;
    this.reply(
      504,
      ResponseFlag.UpstreamRequestTimeout,
      ErrorCode.UpstreamTimeout,
      `upstream request timeout: ${this.lastError}`,
    );
  }

  onRouteTimeout(): void {
    this.timer = undefined;
    if (this.finished) return;
    this.flags = ResponseFlag.UpstreamRequestTimeout;
    if (!this.responded && this.upstream !== undefined) {
      this.observeFailure(this.endpoint!);
      this.judge(this.endpoint!, TIMEOUT, 'route timeout');
    }
    const waited = this.queued;
    this.abortUpstream();
    if (this.responded) {
      this.res.destroy();
      return;
    }
    this.reply(
      504,
      ResponseFlag.UpstreamRequestTimeout,
      ErrorCode.UpstreamTimeout,
      waited
        ? `upstream request timeout: ${this.target.label}${poolScope(this.target.cluster)} had no free connection within the route timeout of ${this.target.timeoutMs} ms (the request waited in its connectionPool queue)`
        : `upstream request timeout: ${this.target.label} did not respond within the route timeout of ${this.target.timeoutMs} ms (${this.tries()})`,
    );
  }

  onDownstreamClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.res.writableFinished) {
      // The client went away (or we reset it): stop the upstream side too.
      this.flags ??= 'DC';
      this.abortUpstream();
    }
    this.clearTimers();
    this.releaseLoad();
    this.releaseSlot();
    if (requestEndChannel.hasSubscribers) this.publishEnd();
    if (this.headers.trace !== undefined) this.endTrace(this.headers.trace);
  }

  onUpstreamResponseClose(ures: IncomingMessage): void {
    this.releaseLoad();
    this.releaseSlot();
    if (ures.complete || this.finished) return;
    // The upstream died mid-body; a truncated response must not look complete downstream.
    this.flags = ResponseFlag.UpstreamRemoteReset;
    this.res.destroy();
  }

  abortUpstream(): void {
    this.releaseLoad();
    this.releaseSlot();
    const up = this.upstream;
    this.upstream = undefined;
    if (up !== undefined) up.destroy();
    if (this.upstreamRes !== undefined && !this.upstreamRes.complete) this.upstreamRes.destroy();
    this.clearTimers();
  }

  /** The try is over (response complete, failed or abandoned): one less in flight. */
  releaseLoad(): void {
    const load = this.load;
    if (load === undefined) return;
    this.load = undefined;
    if (load.active > 0) load.active--;
  }

  /**
   * Gives back what this exchange holds of the cluster's circuit breaker: its connection slot
   * (handing it to the first queued request), its retry slot, or its place in the queue.
   */
  releaseSlot(): void {
    const breaker = this.target.cluster.resilience?.breaker;
    if (breaker === undefined) return;
    if (this.queued) {
      this.queued = false;
      cancel(breaker, this);
    }
    if (this.holdsRetry) {
      this.holdsRetry = false;
      releaseRetry(breaker);
    }
    if (this.holdsSlot) {
      this.holdsSlot = false;
      release(breaker)?.admitted();
    }
  }

  /** A try that failed counts as a slow one (a penalty latency) for peak-EWMA. */
  observeFailure(ep: EndpointState): void {
    const now = this.ctx.now();
    observeLatency(ep.load, loopIdleMs() - this.sentIdle, now, true);
  }

  clearTryTimer(): void {
    if (this.tryTimer !== undefined) {
      clearTimeout(this.tryTimer);
      this.tryTimer = undefined;
    }
  }

  clearTimers(): void {
    this.clearTryTimer();
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  tries(): string {
    return this.attempts === 1 ? '1 try' : `${this.attempts} tries`;
  }

  reply(status: number, flag: string, code: string, message: string): void {
    this.abortUpstream();
    // A streamed body stops being read when its upstream goes away; drain the rest so the
    // client's keep-alive connection can carry its next request.
    if (this.streaming && !this.req.complete) this.req.resume();
    if (this.res.destroyed) return;
    if (this.target.explain !== undefined && !this.res.headersSent)
      this.res.setHeader(EXPLAIN_HEADER, this.explainLine());
    sendLocalReply(
      this.res,
      this.ctx.proxyId,
      status,
      flag,
      code,
      message,
      this.target.replyHeaders,
    );
  }

  /** The route's explain line plus what only this exchange knows: the endpoint and tries. */
  explainLine(): string {
    const ep = this.endpoint;
    return headerSafe(
      `${this.target.explain} endpoint=${ep === undefined ? 'none' : `${ep.id}@${ep.key}`} tries=${this.attempts}`,
      4096,
    );
  }

  /** An exception in one of our event handlers: answer 500 if we still can, else reset. */
  fail(err: unknown): void {
    try {
      if (this.responded || this.res.headersSent) {
        this.ctx.log?.('error', 'internal error while streaming a response', {
          error: err instanceof Error ? err.stack : String(err),
          route: this.target.routeId,
        });
        this.abortUpstream();
        this.res.destroy();
      } else {
        this.replyInternal(err);
      }
    } catch {
      this.res.destroy();
    }
  }

  /** A circuit breaker said no: 503 UO at once, naming the limit. */
  replyOverflow(kind: Exclude<Admission, 'go' | 'queued'>): void {
    const limits = this.target.cluster.resilience!.breaker!.limits;
    const what =
      kind === 'requests'
        ? `${limits.maxRequests} concurrent requests (http2MaxRequests)`
        : `${limits.maxConnections} connections (tcp.maxConnections) and ${limits.maxPendingRequests} pending requests (http1MaxPendingRequests)`;
    this.flags = ResponseFlag.UpstreamOverflow;
    this.reply(
      503,
      ResponseFlag.UpstreamOverflow,
      ErrorCode.UpstreamOverflow,
      `upstream overflow: ${this.target.label}${poolScope(this.target.cluster)} is at its DestinationRule connectionPool limit of ${what}; request refused without waiting`,
    );
  }

  replyNoHealthyUpstream(): void {
    const eps = this.target.cluster.endpoints;
    const unhealthy = eps.filter((e) => !e.healthy).length;
    this.flags = ResponseFlag.NoHealthyUpstream;
    this.reply(
      503,
      ResponseFlag.NoHealthyUpstream,
      ErrorCode.NoHealthyUpstream,
      eps.length === 0
        ? `no healthy endpoint for ${this.target.label} (none registered)`
        : `no healthy endpoint for ${this.target.label} (${eps.length} known, ${unhealthy} reported unhealthy)`,
    );
  }

  replyInternal(err: unknown): void {
    this.ctx.log?.('error', 'internal error while forwarding', {
      error: err instanceof Error ? err.stack : String(err),
      route: this.target.routeId,
    });
    this.flags = 'INTERNAL';
    this.reply(
      500,
      INTERNAL_ERROR_CODE,
      INTERNAL_ERROR_CODE,
      `internal proxy error: ${err instanceof Error ? err.message : String(err)}`,
    );
  }

  reportEjection(e: Ejection, detail: string): void {
    const cluster = this.target.cluster.name;
    const reason = e.reason === undefined ? detail : `${e.reason} (${detail})`;
    this.ctx.log?.('warn', 'endpoint ejected', {
      cluster,
      endpoint: e.key,
      durationMs: e.durationMs,
      ejections: e.ejections,
      reason,
    });
    if (endpointEjectedChannel.hasSubscribers) {
      endpointEjectedChannel.publish({
        proxyId: this.ctx.proxyId,
        cluster,
        endpoint: e.key,
        durationMs: e.durationMs,
        ejections: e.ejections,
        reason,
      });
    }
  }

  /** A sampled request's spans (telemetry/tracing/). */
  endTrace(trace: RequestTrace): void {
    const ua = this.req.headers['user-agent'];
    this.ctx.trace?.end(trace, {
      kind: this.ctx.kind,
      method: this.down.method,
      scheme: (this.req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      authority: this.req.headers.host ?? this.down.authority,
      path: this.req.url ?? this.down.originalPath,
      status: this.res.headersSent ? this.res.statusCode : 0,
      flags: joinFlags(this.target.injectedFlag, this.flags),
      cluster: this.target.cluster.name,
      endpoint: this.endpoint?.key,
      requestId: this.headers.requestId,
      downstreamAddress: this.req.socket.remoteAddress,
      userAgent: ua,
      attempts: this.attempts,
    });
  }

  /** gRPC puts its status in a trailer unless the response is trailers-only (a header). */
  finalGrpcStatus(): number {
    if (this.grpcStatus >= 0) return this.grpcStatus;
    const t = this.upstreamRes?.trailers['grpc-status'];
    const n = typeof t === 'string' ? Number(t) : -1;
    return Number.isInteger(n) ? n : -1;
  }

  publishEnd(): void {
    const event: RequestEndEvent = {
      proxyId: this.ctx.proxyId,
      kind: this.ctx.kind,
      method: this.down.method,
      authority: this.down.authority,
      path: this.down.originalPath,
      routeId: this.target.routeId,
      cluster: this.target.cluster.name,
      endpoint: this.endpoint?.key,
      status: this.res.statusCode,
      flag: joinFlags(
        this.target.injectedFlag,
        this.budgetExhausted
          ? joinFlags(this.flags, ResponseFlag.RetryBudgetExhausted)
          : this.flags,
      ),
      durationMs: this.down.startedAt > 0 ? performance.now() - this.down.startedAt : 0,
      attempts: this.attempts,
      requestId: this.headers.requestId,
      // Sampled or not: the access log names the trace (telemetry/tracing/).
      traceId: this.headers.traceId,
      mutualTls: isMutualTls(this.req.socket),
      peerPrincipal: peerIdentity(this.req.socket),
      // The caller's metadata matters only where a mesh peer calls in (an app's is ignored).
      peerMetadata: this.ctx.kind === 'inbound' ? this.headers.peerMetadata : undefined,
      upstreamIdentity:
        this.endpoint?.tlsIdentity !== undefined && this.ctx.meshAgents !== undefined
          ? this.endpoint.tlsIdentity
          : undefined,
      upstreamPeerMetadata: this.upstreamPeerMetadata,
      grpc: this.headers.grpc,
      grpcStatus: this.headers.grpc ? this.finalGrpcStatus() : -1,
    };
    measureWireBytes(event, this.req.socket);
    requestEndChannel.publish(event);
  }
}

/**
 * Whose connection pool a limit belongs to, for messages: a subset and a portLevelSettings port
 * each have their own (` (subset v2, port 8080)`), the service's is unnamed.
 */
function poolScope(c: RuntimeCluster): string {
  const parts = [
    ...(c.subset !== undefined ? [`subset ${c.subset}`] : []),
    ...(c.port !== undefined ? [`port ${c.port}`] : []),
  ];
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function exchangeOf(emitter: object): Exchange | undefined {
  return (emitter as Tagged<object>)[kExchange];
}

function onDownstreamClose(this: ServerResponse): void {
  const ex = exchangeOf(this);
  if (ex === undefined) return;
  try {
    ex.onDownstreamClose();
  } catch (err) {
    ex.ctx.log?.('error', 'internal error after a request', {
      error: err instanceof Error ? err.stack : String(err),
    });
  }
}

function onStreamedData(this: IncomingMessage, chunk: Buffer): void {
  const ex = exchangeOf(this);
  if (ex === undefined) return;
  try {
    ex.onStreamedData(chunk);
  } catch (err) {
    ex.fail(err);
  }
}

function onRequestData(this: IncomingMessage, chunk: Buffer): void {
  exchangeOf(this)?.chunks?.push(chunk);
}

function onRequestEnd(this: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex === undefined || ex.finished) return;
  const chunks = ex.chunks ?? [];
  ex.chunks = undefined;
  ex.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  attemptSafely(ex);
  const mirrors = ex.target.mirrors;
  if (mirrors !== undefined) ex.mirror(mirrors, ex.body);
}

const kUses = Symbol('weft.socketUses');
type CountedSocket = Socket & { [kUses]?: number };

function onUpstreamSocket(this: ClientRequest, socket: Socket): void {
  const ex = exchangeOf(this);
  // Every socket counts its requests, whichever cluster sent them (pools are per endpoint).
  const s = socket as CountedSocket;
  const uses = (s[kUses] ?? 0) + 1;
  s[kUses] = uses;
  const perConnection = ex?.target.cluster.resilience?.maxRequestsPerConnection ?? 0;
  // Node closes the socket after this response instead of returning it to the pool.
  // shouldKeepAlive is public on ClientRequest but missing from @types/node.
  if (perConnection > 0 && uses >= perConnection)
    (this as ClientRequest & { shouldKeepAlive: boolean }).shouldKeepAlive = false;
  if (!socket.connecting) return;
  socket.setTimeout(
    ex?.target.cluster.resilience?.connectTimeoutMs ?? ex?.ctx.connectTimeoutMs ?? 10_000,
  );
  socket.once('timeout', onConnectTimeout);
  socket.once('connect', onSocketConnect);
}

function onSocketConnect(this: Socket): void {
  this.setTimeout(0);
  this.removeListener('timeout', onConnectTimeout);
}

function onConnectTimeout(this: Socket): void {
  const err: NodeJS.ErrnoException = new Error('connect timeout');
  err.code = 'ETIMEDOUT';
  this.destroy(err);
}

// Event handlers run outside the request handler's try/catch, and an exception escaping one
// would take the whole process down: each one catches and fails only its own request.

function onUpstreamResponse(this: ClientRequest, ures: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex === undefined) {
    ures.resume();
    return;
  }
  try {
    ex.onResponse(this, ures);
  } catch (err) {
    ex.fail(err);
  }
}

function onUpstreamError(this: ClientRequest, err: NodeJS.ErrnoException): void {
  const ex = exchangeOf(this);
  if (ex === undefined) return;
  try {
    ex.onError(this, err);
  } catch (e) {
    ex.fail(e);
  }
}

function onUpstreamResponseClose(this: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex === undefined) return;
  try {
    ex.onUpstreamResponseClose(this);
  } catch (err) {
    ex.fail(err);
  }
}

function onRouteTimeout(ex: Exchange): void {
  try {
    ex.onRouteTimeout();
  } catch (err) {
    ex.fail(err);
  }
}

function onTryTimeout(ex: Exchange, up: ClientRequest): void {
  try {
    ex.onTryTimeout(up);
  } catch (err) {
    ex.fail(err);
  }
}

function onRetryTimer(ex: Exchange): void {
  ex.retryTimer = undefined;
  attemptSafely(ex);
}

function attemptSafely(ex: Exchange): void {
  try {
    ex.attempt();
  } catch (err) {
    ex.fail(err);
  }
}
