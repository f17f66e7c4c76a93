// The few control-plane API calls a sidecar makes (register, heartbeat, health, deregister,
// wait for proxies), over fetch. Every call is bounded in time: a hung control plane must not
// hang a sidecar's start or its shutdown.

import { parseControlUrls } from '../client/stream.js';

export interface ControlApi {
  call(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<{ status: number; body: unknown }>;
}

export function createControlApi(base: string): ControlApi {
  // With several replicas, a call that cannot reach one is tried on the next (and the next
  // call starts there).
  const roots = parseControlUrls(base);
  let at = 0;
  return {
    async call(method, path, body, timeoutMs = 5_000) {
      for (let tried = 1; ; tried++) {
        const root = roots[at % roots.length] as string;
        let res: Response;
        try {
          res = await fetch(`${root}${path}`, {
            method,
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))),
          });
        } catch (err) {
          if (tried >= roots.length) throw err;
          at++;
          continue;
        }
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = text ? (JSON.parse(text) as unknown) : undefined;
        } catch {
          // Not JSON (a proxy in between, an old control plane): keep the text for the log.
        }
        return { status: res.status, body: parsed };
      }
    },
  };
}
