// The few control-plane API calls a sidecar makes (register, heartbeat, health, deregister,
// wait for proxies), over fetch. Every call is bounded in time: a hung control plane must not
// hang a sidecar's start or its shutdown.

import { parseControlUrls } from '../client/stream.js';
import { controlRequest, type ControlCredentials } from '../tls/control-client.js';

export interface ControlApi {
  call(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<{ status: number; body: unknown }>;
}

export function createControlApi(base: string, credentials?: ControlCredentials): ControlApi {
  // With several replicas, a call that cannot reach one is tried on the next (and the next
  // call starts there).
  const roots = parseControlUrls(base);
  let at = 0;
  return {
    async call(method, path, body, timeoutMs = 5_000) {
      for (let tried = 1; ; tried++) {
        const root = roots[at % roots.length] as string;
        try {
          // HTTPS trusting the mesh root and the bearer token when the control plane is locked.
          return await controlRequest(
            root,
            credentials,
            method,
            path,
            body,
            Math.max(1, Math.ceil(timeoutMs)),
          );
        } catch (err) {
          if (tried >= roots.length) throw err;
          at++;
        }
      }
    },
  };
}
