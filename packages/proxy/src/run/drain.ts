// Draining the sidecar's inbound listener on shutdown. By the time it starts, the instance is
// out of every peer's rotation (deregistered, and the proxies ACKed the change), so new
// requests should not come; any that still arrive (a peer that did not ACK in time) are
// served, with `connection: close` so that the peer's pool lets go of the connection. The
// listener stops accepting once nothing is in flight, and connections still busy when the
// drain timeout ends are cut.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyRequestHandler } from '../server/request-handler.js';
import type { Listener } from '../server/listen.js';

export interface Drainable {
  handler: ProxyRequestHandler;
  inFlight(): number;
  /** Drains `listener` (served by `handler`); resolves with the requests cut at the deadline. */
  drain(listener: Listener, timeoutMs: number): Promise<number>;
}

export function createDrainable(inner: ProxyRequestHandler): Drainable {
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;
  const done = () => {
    inFlight--;
    if (inFlight === 0) idle?.();
  };
  const handler = function drainableInbound(req: IncomingMessage, res: ServerResponse): void {
    inFlight++;
    res.once('close', done);
    if (draining) res.setHeader('connection', 'close');
    inner(req, res);
  } as ProxyRequestHandler;
  handler.close = () => inner.close();

  const untilIdle = (deadline: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (inFlight === 0) return resolve(true);
      const t = setTimeout(
        () => {
          idle = undefined;
          resolve(false);
        },
        Math.max(0, deadline - Date.now()),
      );
      idle = () => {
        clearTimeout(t);
        idle = undefined;
        resolve(true);
      };
    });

  return {
    handler,
    inFlight: () => inFlight,
    async drain(listener, timeoutMs) {
      draining = true;
      const deadline = Date.now() + timeoutMs;
      await untilIdle(deadline);
      // Stop accepting; idle keep-alive connections close now, busy ones after their response.
      const closed = listener.close();
      listener.server.closeIdleConnections();
      const finished = await untilIdle(deadline);
      const cut = inFlight;
      if (!finished) listener.server.closeAllConnections();
      else {
        // Connections whose last response just ended are idle only once this tick is over.
        await new Promise((r) => setImmediate(r));
        listener.server.closeIdleConnections();
      }
      await closed;
      return cut;
    },
  };
}
