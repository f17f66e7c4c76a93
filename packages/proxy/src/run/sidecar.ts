// `weft sidecar`: the proxy beside one app instance. Inbound, it forwards mesh traffic to the
// app; outbound, it gives the app one local address through which it calls other services by
// name. It registers the instance under a lease, heartbeats it, and probes the app: an app
// that stops answering is reported unhealthy at once, so it leaves the rotation well before
// its lease would expire.

import { connect } from 'node:net';
import type { InstanceRegistration, ProxyNode } from '@weft/model';
import { connectSnapshotStream, parseControlUrls } from '../client/stream.js';
import { createDataPlane } from '../data-plane.js';
import { createInboundHandler } from '../server/inbound.js';
import { listen } from '../server/listen.js';
import { createLog, type LogFn } from './log.js';

export interface SidecarOptions {
  /** Control plane URL, or several replicas' URLs comma-separated. */
  control: string;
  /** The services the app calls: the sidecar receives only their config. Default: all. */
  upstreams?: string[];
  service: string;
  namespace?: string;
  /** The app's own port (and host, default 127.0.0.1). */
  appPort: number;
  appHost?: string;
  host?: string;
  /** Where the mesh reaches this instance; 0 = any free port. */
  inboundPort?: number;
  /** Where the app sends outbound calls; 0 = any free port. */
  outboundPort?: number;
  id?: string;
  labels?: Record<string, string>;
  ttlSeconds?: number;
  probeIntervalMs?: number;
}

export interface RunningSidecar {
  id: string;
  inboundPort: number;
  outboundPort: number;
  /** Resolves once the first snapshot is live. */
  ready: Promise<void>;
  /** Resolves once the app answered and the instance is registered. */
  registered: Promise<void>;
  close(): Promise<void>;
}

const PROBE_FAILURES_TO_UNHEALTHY = 2;

export async function startSidecar(opts: SidecarOptions): Promise<RunningSidecar> {
  const namespace = opts.namespace ?? 'default';
  const id = opts.id ?? `${opts.service}-${process.pid}`;
  const log = createLog(`${id}.sidecar`);
  const host = opts.host ?? '127.0.0.1';
  const appHost = opts.appHost ?? '127.0.0.1';
  const node: ProxyNode = {
    id: `${id}.sidecar`,
    role: 'sidecar',
    namespace,
    labels: { app: opts.service, ...(opts.labels ?? {}) },
    service: opts.service,
  };
  const dp = createDataPlane({ node, log });
  const inboundHandler = createInboundHandler({ appHost, appPort: opts.appPort, proxyId: node.id });
  const inbound = await listen(inboundHandler, {
    host,
    port: opts.inboundPort ?? 0,
    proxyId: node.id,
  });
  const outbound = await listen(dp.outboundHandler(), {
    host,
    port: opts.outboundPort ?? 0,
    proxyId: node.id,
  });
  const stream = connectSnapshotStream({
    control: opts.control,
    node,
    apply: (s) => dp.apply(s),
    version: () => dp.version(),
    log,
    ...(opts.upstreams ? { upstreams: opts.upstreams } : {}),
  });

  const registration: InstanceRegistration = {
    id,
    service: opts.service,
    namespace,
    address: host,
    port: inbound.port,
    labels: { app: opts.service, ...(opts.labels ?? {}) },
    ttlSeconds: opts.ttlSeconds ?? 10,
  };
  const api = createApi(opts.control);
  const lifecycle = startLifecycle({
    api,
    registration,
    log,
    probe: () => probeTcp(appHost, opts.appPort),
    probeIntervalMs: opts.probeIntervalMs ?? 1_000,
  });
  log('info', 'sidecar listening', {
    inbound: inbound.port,
    outbound: outbound.port,
    app: opts.appPort,
  });

  return {
    id,
    inboundPort: inbound.port,
    outboundPort: outbound.port,
    ready: stream.ready,
    registered: lifecycle.registered,
    async close() {
      await lifecycle.stop();
      stream.close();
      await Promise.all([inbound.close(), outbound.close()]);
      inboundHandler.close();
      await dp.close();
    },
  };
}

interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

function createApi(base: string): Api {
  // With several replicas, a call that cannot reach one is tried on the next (and the next
  // call starts there).
  const roots = parseControlUrls(base);
  let at = 0;
  return {
    async call(method, path, body) {
      for (let tried = 1; ; tried++) {
        const root = roots[at % roots.length] as string;
        let res: Response;
        try {
          res = await fetch(`${root}${path}`, {
            method,
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            signal: AbortSignal.timeout(5_000),
          });
        } catch (err) {
          if (tried >= roots.length) throw err;
          at++;
          continue;
        }
        const text = await res.text();
        return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
      }
    },
  };
}

function probeTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function startLifecycle(o: {
  api: Api;
  registration: InstanceRegistration;
  log: LogFn;
  probe: () => Promise<boolean>;
  probeIntervalMs: number;
}) {
  const id = o.registration.id ?? '';
  const path = `/v1/instances/${encodeURIComponent(id)}`;
  let stopped = false;
  let healthy = true;
  let failures = 0;
  let registered = false;

  const register = async () => {
    const r = await o.api.call('POST', '/v1/instances', { ...o.registration });
    if (r.status !== 201)
      throw new Error(`registration refused (${r.status}): ${JSON.stringify(r.body)}`);
    registered = true;
    healthy = true;
    o.log('info', 'registered', { id });
  };

  // Registers only once the app answers (a readiness gate, as Kubernetes does for pods), and
  // retries until the control plane answers: a sidecar may start before either.
  const registeredP = (async () => {
    for (let wait = 50; !stopped; wait = Math.min(wait * 2, 1_000)) {
      if (!(await o.probe())) {
        await new Promise((r) => setTimeout(r, wait).unref());
        continue;
      }
      try {
        await register();
        return;
      } catch (err) {
        o.log('warn', 'registration failed; retrying', { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  })();

  const heartbeatMs = Math.max(200, ((o.registration.ttlSeconds ?? 10) * 1000) / 3);
  const hb = setInterval(() => {
    if (!registered || stopped) return;
    o.api.call('PUT', `${path}/heartbeat`).then(
      (r) => {
        // The lease expired (control plane down for longer than the TTL): register again.
        if (r.status === 404) void register().catch(() => undefined);
      },
      (err: Error) => o.log('warn', 'heartbeat failed', { error: err.message }),
    );
  }, heartbeatMs);
  hb.unref();

  const probe = setInterval(() => {
    if (!registered || stopped) return;
    void o.probe().then(async (ok) => {
      failures = ok ? 0 : failures + 1;
      const next = ok ? true : failures >= PROBE_FAILURES_TO_UNHEALTHY ? false : healthy;
      if (next === healthy || stopped) return;
      healthy = next;
      o.log(
        next ? 'info' : 'warn',
        next ? 'app is healthy again' : 'app stopped answering; reported unhealthy',
        { id },
      );
      await o.api.call('PUT', `${path}/health`, { healthy: next }).catch(() => undefined);
    });
  }, o.probeIntervalMs);
  probe.unref();

  return {
    registered: registeredP,
    async stop() {
      stopped = true;
      clearInterval(hb);
      clearInterval(probe);
      if (registered) await o.api.call('DELETE', path).catch(() => undefined);
    },
  };
}
