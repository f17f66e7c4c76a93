// The instance's entry in the registry, kept by the sidecar: registered under a lease once the
// app is ready, kept alive at a third of the TTL, registered again when the control plane has
// lost it (a lease that expired while the control plane was away, a store that was replaced),
// its health reported when the health check flips, and removed on shutdown. The control plane
// may be down at any of these moments; every call is retried or given up without blocking the
// data path, which never depends on the control plane answering.

import type { InstanceRegistration } from '@weft/model';
import type { LogFn } from './log.js';
import type { ControlApi } from './control-api.js';

export interface Registration {
  /** Registers (retrying until the control plane accepts); resolves once registered. */
  register(): Promise<void>;
  /** Reports the app's health; remembered and re-sent after a re-registration. */
  reportHealth(healthy: boolean, reason: string | undefined): void;
  isRegistered(): boolean;
  /**
   * Stops heartbeating and removes the instance. Returns the store revision at which it was
   * gone (what proxies must have ACKed), or undefined when the control plane did not answer.
   */
  deregister(): Promise<number | undefined>;
  /** Stops the heartbeat without deregistering (the process is going away regardless). */
  stop(): void;
}

export function createRegistration(o: {
  api: ControlApi;
  registration: InstanceRegistration & { id: string };
  log: LogFn;
}): Registration {
  const id = o.registration.id;
  const path = `/v1/instances/${encodeURIComponent(id)}`;
  const ttlMs = (o.registration.ttlSeconds ?? 10) * 1000;
  let registered = false;
  let stopped = false;
  let healthy = true;
  let reason: string | undefined;
  let hb: NodeJS.Timeout | undefined;
  let registering: Promise<void> | undefined;

  const sendHealth = async () => {
    const r = await o.api.call('PUT', `${path}/health`, {
      healthy,
      ...(reason !== undefined ? { reason } : {}),
    });
    if (r.status === 404) reregister();
    else if (r.status !== 200) throw new Error(`health report refused (${r.status})`);
  };

  const registerOnce = async () => {
    const r = await o.api.call('POST', '/v1/instances', { ...o.registration });
    if (r.status !== 201)
      throw new Error(`registration refused (${r.status}): ${JSON.stringify(r.body)}`);
    registered = true;
    o.log('info', 'registered', { id, ttlSeconds: o.registration.ttlSeconds });
    // A registration is healthy; an app that went unhealthy in between says so again.
    if (!healthy) await sendHealth();
  };

  const register = (): Promise<void> => {
    registering ??= (async () => {
      for (let wait = 100; !stopped; wait = Math.min(wait * 2, 2_000)) {
        try {
          await registerOnce();
          return;
        } catch (err) {
          o.log('warn', 'registration failed; retrying', { error: (err as Error).message });
          await new Promise((r) => setTimeout(r, wait).unref());
        }
      }
    })().finally(() => (registering = undefined));
    return registering;
  };

  const reregister = () => {
    if (stopped || registering) return;
    registered = false;
    o.log('warn', 'the control plane no longer knows this instance; registering again', { id });
    void register();
  };

  // Three heartbeats per TTL, as Consul's TTL checks and etcd keep-alives are usually paced:
  // one lost heartbeat never expires the lease.
  hb = setInterval(
    () => {
      if (!registered || stopped) return;
      o.api
        .call('PUT', `${path}/heartbeat`, undefined, Math.max(1_000, Math.round(ttlMs / 3)))
        .then(
          (r) => {
            if (r.status === 404) reregister();
          },
          (err: Error) => o.log('warn', 'heartbeat failed', { error: err.message }),
        );
    },
    Math.max(200, ttlMs / 3),
  );
  hb.unref();

  const stop = () => {
    stopped = true;
    if (hb) clearInterval(hb);
    hb = undefined;
  };

  return {
    register,
    isRegistered: () => registered,
    reportHealth(h, why) {
      healthy = h;
      reason = why;
      if (!registered || stopped) return;
      sendHealth().catch((err: Error) =>
        o.log('warn', 'health report failed', { error: err.message }),
      );
    },
    async deregister() {
      const was = registered;
      stop();
      registered = false;
      if (!was) return undefined;
      try {
        const r = await o.api.call('DELETE', path);
        const rev = (r.body as { revision?: unknown } | undefined)?.revision;
        if (r.status === 200 && typeof rev === 'number') return rev;
        if (r.status === 404) return undefined;
        o.log('warn', 'deregistration refused', { status: r.status, body: r.body });
      } catch (err) {
        o.log('warn', 'cannot deregister: the control plane did not answer', {
          error: (err as Error).message,
        });
      }
      return undefined;
    },
    stop,
  };
}
