// The sidecar's active health check of its app: an HTTP GET on a path (2xx and 3xx are
// healthy, as kubelet reads a readiness probe) or a TCP connect, every interval, each probe
// cut off at its timeout, with healthy/unhealthy thresholds (health-state.ts). Until the app
// is first ready it is probed quickly (from 50 ms, backing off to the interval), so a slow
// start costs no full interval; after that, once per interval. Probes never overlap.

import { request } from 'node:http';
import { connect } from 'node:net';
import {
  NOT_READY,
  observeProbe,
  type HealthState,
  type HealthThresholds,
} from './health-state.js';

export interface HealthCheckOptions extends HealthThresholds {
  /** HTTP GET this path on the app; absent: a TCP connect to its port. */
  httpPath?: string;
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Kubernetes' readinessProbe defaults (what Istio's sidecar injection keeps): every 10 s, 1 s
 * timeout, unhealthy after 3 failures, healthy after 1 success.
 */
export const DEFAULT_HEALTH_CHECK: Readonly<HealthCheckOptions> = {
  intervalMs: 10_000,
  timeoutMs: 1_000,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
};

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in words (logged and reported). */
  reason?: string;
}

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: ProbeResult) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done({ ok: false, reason: `no TCP connect in ${timeoutMs} ms` }));
    s.once('connect', () => done({ ok: true }));
    s.once('error', (err) => done({ ok: false, reason: `TCP connect failed: ${err.message}` }));
  });
}

export function probeHttp(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    // A fresh connection per probe (agent: false), as kubelet does: a probe must not ride on a
    // pooled socket that hides a listener that stopped accepting.
    const req = request(
      { host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'weft-health/1' } },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        done(
          status >= 200 && status < 400
            ? { ok: true }
            : { ok: false, reason: `GET ${path} answered ${status}` },
        );
      },
    );
    const timer = setTimeout(
      () => done({ ok: false, reason: `GET ${path} gave no answer in ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.once('error', (err) => done({ ok: false, reason: `GET ${path} failed: ${err.message}` }));
    req.end();
  });
}

export interface HealthChecker {
  state(): HealthState;
  stop(): void;
}

/**
 * Probes until stopped; `onChange` runs when the health flips (the first flip to healthy is
 * readiness), with the last probe's failure reason when it flips to unhealthy.
 */
export function startHealthCheck(
  appHost: string,
  appPort: number,
  o: HealthCheckOptions,
  onChange: (healthy: boolean, reason: string | undefined) => void,
): HealthChecker {
  let state = NOT_READY;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let startupWait = 50;
  const probe = () =>
    o.httpPath !== undefined
      ? probeHttp(appHost, appPort, o.httpPath, o.timeoutMs)
      : probeTcp(appHost, appPort, o.timeoutMs);

  const tick = async () => {
    const started = Date.now();
    const r = await probe();
    if (stopped) return;
    const next = observeProbe(state, r.ok, o);
    state = next.state;
    if (next.changed) onChange(state.healthy, r.reason);
    let wait: number;
    if (!state.ready) {
      wait = Math.min(startupWait, o.intervalMs);
      startupWait = Math.min(startupWait * 2, 1_000);
    } else wait = Math.max(0, o.intervalMs - (Date.now() - started));
    timer = setTimeout(() => void tick(), wait);
    timer.unref();
  };
  void tick();
  return {
    state: () => state,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
