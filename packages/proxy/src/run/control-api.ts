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
  /**
   * The same call on every replica at once (each knows only its own proxies); one result per
   * replica, an `error` for those that did not answer.
   */
  callEach(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<({ root: string; status: number; body: unknown } | { root: string; error: Error })[]>;
}

export function createControlApi(base: string, credentials?: ControlCredentials): ControlApi {
  // With several replicas, a call that cannot reach one is tried on the next (and the next
  // call starts there).
  const roots = parseControlUrls(base);
  let at = 0;
  const once = (root: string, method: string, path: string, body: unknown, timeoutMs: number) =>
    // HTTPS trusting the mesh root and the bearer token when the control plane is locked.
    controlRequest(root, credentials, method, path, body, Math.max(1, Math.ceil(timeoutMs)));
  return {
    callEach(method, path, body, timeoutMs = 5_000) {
      return Promise.all(
        roots.map((root) =>
          once(root, method, path, body, timeoutMs).then(
            (r) => ({ root, ...r }),
            (err: Error) => ({ root, error: err }),
          ),
        ),
      );
    },
    async call(method, path, body, timeoutMs = 5_000) {
      for (let tried = 1; ; tried++) {
        const root = roots[at % roots.length] as string;
        try {
          return await once(root, method, path, body, timeoutMs);
        } catch (err) {
          if (tried >= roots.length) throw err;
          at++;
        }
      }
    },
  };
}
