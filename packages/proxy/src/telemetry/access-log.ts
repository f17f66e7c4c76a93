// The simplest subscriber: one JSON line per finished request, written by the caller's
// function (stdout, a file, a test's array). Off the hot path: it only exists when asked for.

import diagnosticsChannel from 'node:diagnostics_channel';
import { CHANNEL_NAMES, type RequestEndEvent } from './channels.js';

export function subscribeAccessLog(write: (line: string) => void): () => void {
  const onMessage = (message: unknown) => {
    const e = message as RequestEndEvent;
    write(
      JSON.stringify({
        proxy: e.proxyId,
        kind: e.kind,
        method: e.method,
        authority: e.authority,
        path: e.path,
        status: e.status,
        flags: e.flag ?? '-',
        route: e.routeId ?? null,
        cluster: e.cluster ?? null,
        endpoint: e.endpoint ?? null,
        attempts: e.attempts,
        durationMs: Math.round(e.durationMs * 1000) / 1000,
        requestId: e.requestId ?? null,
        ...(e.shadow === true ? { shadow: true } : {}),
      }),
    );
  };
  diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onMessage);
  return () => void diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onMessage);
}
