// Per request, the route's filters (filters/index.ts) in their fixed order: fault injection,
// then CORS. Only routes that have filters get here (one test in the request handler).
// A filter may answer the request itself (a fault abort, a CORS preflight), hold it (a fault
// delay, after which the handler is resumed), or let it through with something to remember
// (a response flag, CORS response headers).

import type { ServerResponse } from 'node:http';
import { PROXY_ERROR_HEADER, PROXY_ID_HEADER, ResponseFlag } from '@weft/model';
import { applyHeaderOps } from '../compile/header-ops.js';
import type { CompiledRoute } from '../compile/types.js';
import {
  checkCors,
  CorsVerdict,
  preflightHeaders,
  type CompiledCors,
} from '../filters/cors/index.js';
import { decideFault, FAULT_ABORT_BODY, faultFlags, NO_FAULT } from '../filters/fault/index.js';
import type { RouteFilters } from '../filters/index.js';
import type { ForwardContext } from '../upstream/forward.js';
import { publishLocal } from './publish-local.js';
import type { NodeRequestView } from './request-view.js';

/** What the filters leave for the rest of the request. */
export interface FilterState {
  /** Response flags the filters set (`DI`), reported before those of the exchange. */
  readonly flag: string | undefined;
  /** Set when the request's Origin passed the route's CORS policy. */
  readonly cors: CompiledCors | undefined;
  readonly origin: string | undefined;
}

/** A request resuming after a fault delay: the fault stage is done. */
export interface Resumed {
  readonly flag: string;
  /** performance.now() at arrival, so that the reported duration includes the delay. */
  readonly startedAt: number;
}

const NOTHING: FilterState = Object.freeze({ flag: undefined, cors: undefined, origin: undefined });

const ABORT_BODY = Buffer.from(FAULT_ABORT_BODY);

/**
 * Returns what to continue with, or undefined when the request was answered or is being
 * delayed; `resume` is called when the delay is over. It must not throw (the caller wraps it).
 */
export function runRouteFilters(
  ctx: ForwardContext,
  route: CompiledRoute,
  filters: RouteFilters,
  view: NodeRequestView,
  res: ServerResponse,
  startedAt: number,
  resumed: Resumed | undefined,
  resume: (r: Resumed) => void,
): FilterState | undefined {
  let flag = resumed?.flag;
  if (filters.fault !== undefined && resumed === undefined) {
    const d = decideFault(filters.fault, ctx.random);
    if (d !== NO_FAULT) {
      flag = faultFlags(d);
      if (d.delayMs > 0) {
        delay(ctx, route, view, res, startedAt, d.delayMs, d.abortStatus, resume);
        return undefined;
      }
      sendAbort(ctx, res, view, startedAt, route, d.abortStatus, flag!);
      return undefined;
    }
  }
  const cors = filters.cors;
  let origin: string | undefined;
  if (cors !== undefined) {
    const o = view.header('origin');
    const verdict = checkCors(cors, view.method, o, view.header('access-control-request-method'));
    if (verdict === CorsVerdict.Preflight) {
      sendPreflight(ctx, res, view, startedAt, route, preflightHeaders(cors, o!), flag);
      return undefined;
    }
    if (verdict === CorsVerdict.UnmatchedPreflight) {
      sendPreflight(ctx, res, view, startedAt, route, [], flag);
      return undefined;
    }
    if (verdict === CorsVerdict.Actual) origin = o;
  }
  if (flag === undefined && origin === undefined) return NOTHING;
  return { flag, cors: origin === undefined ? undefined : cors, origin };
}

/**
 * Holds the request for the fault delay, before any upstream work: the route timeout starts
 * only when forwarding does (istio-semantics 1.6). The request's body waits in the socket.
 */
function delay(
  ctx: ForwardContext,
  route: CompiledRoute,
  view: NodeRequestView,
  res: ServerResponse,
  startedAt: number,
  ms: number,
  abortStatus: number,
  resume: (r: Resumed) => void,
): void {
  const onClose = () => {
    // The client left while we made it wait: nothing more to do, but it is a request to log.
    clearTimeout(timer);
    publishLocal(ctx, res, view, startedAt, route.id, `${ResponseFlag.DelayInjected},DC`);
  };
  const timer = setTimeout(() => {
    res.removeListener('close', onClose);
    if (res.destroyed) return;
    if (abortStatus > 0) {
      try {
        sendAbort(
          ctx,
          res,
          view,
          startedAt,
          route,
          abortStatus,
          `${ResponseFlag.DelayInjected},${ResponseFlag.FaultInjected}`,
        );
      } catch {
        res.destroy();
      }
      return;
    }
    resume({ flag: ResponseFlag.DelayInjected, startedAt });
  }, ms);
  res.once('close', onClose);
}

/** Envoy's fault abort: the status, body `fault filter abort`, and the proxy's marks. */
function sendAbort(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  route: CompiledRoute,
  status: number,
  flag: string,
): void {
  const headers = [
    'content-type',
    'text/plain',
    'content-length',
    String(ABORT_BODY.length),
    PROXY_ERROR_HEADER,
    ResponseFlag.FaultInjected,
    PROXY_ID_HEADER,
    ctx.proxyId,
  ];
  res.writeHead(status, applyHeaderOps(headers, route.response));
  res.end(ABORT_BODY);
  publishLocal(ctx, res, view, startedAt, route.id, flag);
}

/** A preflight answered here; `headers` is empty for an unmatched one under IGNORE. */
function sendPreflight(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  route: CompiledRoute,
  headers: string[],
  flag: string | undefined,
): void {
  // Envoy answers 200 (not 204), with no body.
  headers.push('content-length', '0');
  res.writeHead(200, headers);
  res.end();
  publishLocal(ctx, res, view, startedAt, route.id, flag);
}
