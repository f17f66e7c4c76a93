// The telemetry event for a reply the proxy made itself (no upstream was called), shared by
// the request handler's local replies and the route filters' aborts and preflights.

import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { requestEndChannel } from '../telemetry/channels.js';
import type { ForwardContext } from '../upstream/forward.js';
import type { NodeRequestView } from './request-view.js';

export function publishLocal(
  ctx: ForwardContext,
  res: ServerResponse,
  view: NodeRequestView,
  startedAt: number,
  routeId: string | undefined,
  flag: string | undefined,
): void {
  if (!requestEndChannel.hasSubscribers) return;
  requestEndChannel.publish({
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
  });
}
