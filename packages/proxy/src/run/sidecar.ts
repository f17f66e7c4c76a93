// `weft sidecar`: the proxy beside one app instance. Inbound, it forwards mesh traffic to the
// app; outbound, it gives the app one local address through which it calls other services by
// name. It can start the app itself (`weft sidecar ... -- node app.js`), checks the app's
// health actively, registers the instance under a lease only once the app is ready, keeps the
// lease alive, and reports health changes. On shutdown it leaves the rotation before it stops
// serving: deregister, wait until every proxy runs the change, drain in-flight requests, stop
// the app, close.

import { createServer } from 'node:net';
import {
  mergeProxyWaits,
  TLS_MODE_LABEL,
  type InstanceRegistration,
  type ProxyNode,
  type ProxyWaitAnswer,
} from '@weft/model';
import { connectSnapshotStream, parseControlUrls } from '../client/stream.js';
import { createDataPlane } from '../data-plane.js';
import { createScopeLearner, DEFAULT_HOLD_MS } from '../scope/learn.js';
import { startProxyTelemetry, type TelemetryOptions } from '../admin/telemetry.js';
import { createInboundHandler } from '../server/inbound.js';
import type { ListenerLimits } from '../server/limits.js';
import { listen } from '../server/listen.js';
import { createAgentPool } from '../upstream/agent-pool.js';
import type { ControlCredentials } from '../tls/control-client.js';
import { startMeshIdentity } from '../tls/mesh-identity.js';
import { listenMesh } from '../tls/mesh-listener.js';
import type { WorkloadCertificateSource } from '../tls/workload-certificate.js';
import { startApp, type AppExit, type AppProcess } from './app-process.js';
import { createControlApi, type ControlApi } from './control-api.js';
import { createDrainable } from './drain.js';
import { DEFAULT_HEALTH_CHECK, startHealthCheck, type HealthCheckOptions } from './health-check.js';
import { validateThresholds } from './health-state.js';
import { createProxyTracing, type TracingFlags } from '../telemetry/tracing/index.js';
import { workloadOfNode } from '../telemetry/istio-labels.js';
import { encodePeerMetadata } from '../telemetry/peer-metadata.js';
import { createLog, type LogFn } from './log.js';
import { createRegistration } from './registration.js';

export interface SidecarOptions extends TelemetryOptions {
  /** Control plane URL, or several replicas' URLs comma-separated. */
  control: string;
  /** The services the app calls: the sidecar receives only their config. Default: all. */
  upstreams?: string[];
  /**
   * Learn the scope from the app's traffic (scope/learn.ts): start with `upstreams` (or none)
   * and widen it on the first call to another host, holding that call until its config is here.
   */
  learnUpstreams?: boolean;
  /** Learn mode: longest hold of a call for its host's config. Default 2 s. */
  learnHoldMs?: number;
  service: string;
  namespace?: string;
  /** The app's own port. Required unless `appCommand` is given (then: a free port). */
  appPort?: number;
  appHost?: string;
  host?: string;
  /** Where the mesh reaches this instance; 0 = any free port. */
  inboundPort?: number;
  /** Where the app sends outbound calls; 0 = any free port. */
  outboundPort?: number;
  id?: string;
  labels?: Record<string, string>;
  /** Root to trust for an https:// control plane, and this service's bootstrap token. */
  credentials?: ControlCredentials | undefined;
  /** Take part in mesh mTLS (default true): get a workload certificate, serve and call mTLS. */
  mtls?: boolean;
  /** Registration lease TTL; the sidecar keeps it alive at a third of it. Default 10. */
  ttlSeconds?: number;
  /** The active health check; unset fields take DEFAULT_HEALTH_CHECK's. */
  healthCheck?: Partial<HealthCheckOptions>;
  /** @deprecated the health check's interval (`healthCheck.intervalMs`). */
  probeIntervalMs?: number;
  /** Start the app as a child: argv, run with PORT and WEFT_OUTBOUND in its environment. */
  appCommand?: string[];
  /** Extra environment for the app. */
  appEnv?: Record<string, string>;
  /** How long shutdown waits for every proxy to ACK the deregistration. Default 5 s. */
  propagationTimeoutMs?: number;
  /** How long in-flight requests get to finish on shutdown. Default 5 s (Istio's drain). */
  drainTimeoutMs?: number;
  /** Between the app's SIGTERM and its SIGKILL. Default 10 s. */
  appStopGraceMs?: number;
  /** Distributed tracing to an OTLP/HTTP collector; off when undefined. */
  tracing?: TracingFlags;
  /** Limits on both listeners (server/limits.ts); defaults for what is unset. */
  limits?: Partial<ListenerLimits>;
  /** X-Forwarded-For hops to trust beyond the calling proxy, for `remote.ip` (default 0). */
  numTrustedProxies?: number;
}

export interface RunningSidecar {
  id: string;
  inboundPort: number;
  outboundPort: number;
  appPort: number;
  /** Where its metrics (/stats/prometheus) and tap are served, `host:port`. */
  adminAddress: string;
  /** The app's pid when the sidecar started it. */
  appPid?: number;
  /** Resolves once the first snapshot is live. */
  ready: Promise<void>;
  /** Resolves once the app passed its readiness check and the instance is registered. */
  registered: Promise<void>;
  /** The workload certificate (absent with mtls: false). */
  certificate: WorkloadCertificateSource | undefined;
  /** When the sidecar started the app: resolves when it exits (by itself or by close()). */
  appExited?: Promise<AppExit>;
  /** Graceful shutdown (see the file comment); calling it again returns the same promise. */
  close(): Promise<void>;
}

export const DEFAULT_PROPAGATION_TIMEOUT_MS = 5_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;
export const DEFAULT_APP_STOP_GRACE_MS = 10_000;

export async function startSidecar(opts: SidecarOptions): Promise<RunningSidecar> {
  const namespace = opts.namespace ?? 'default';
  const id = opts.id ?? `${opts.service}-${process.pid}`;
  const log = createLog(`${id}.sidecar`);
  const host = opts.host ?? '127.0.0.1';
  const appHost = opts.appHost ?? '127.0.0.1';
  const check: HealthCheckOptions = {
    ...DEFAULT_HEALTH_CHECK,
    ...(opts.probeIntervalMs !== undefined ? { intervalMs: opts.probeIntervalMs } : {}),
    ...opts.healthCheck,
  };
  const problems = validateThresholds(check);
  if (!(check.intervalMs > 0)) problems.push('health check interval: must be > 0');
  if (!(check.timeoutMs > 0)) problems.push('health check timeout: must be > 0');
  if (check.httpPath !== undefined && !check.httpPath.startsWith('/'))
    problems.push('health check path: must start with "/"');
  if (problems.length > 0) throw new Error(`sidecar: ${problems.join('; ')}`);
  if (opts.appPort === undefined && !opts.appCommand)
    throw new Error('sidecar: give the app port, or the command that starts the app');
  const appPort = opts.appPort || (await freePort(appHost));

  const node: ProxyNode = {
    id: `${id}.sidecar`,
    role: 'sidecar',
    namespace,
    labels: { app: opts.service, ...(opts.labels ?? {}) },
    service: opts.service,
  };
  const certificate =
    opts.mtls === false
      ? undefined
      : startMeshIdentity({
          control: opts.control,
          credentials: opts.credentials,
          namespace,
          service: opts.service,
          log,
        });
  const tracing = await createProxyTracing(opts.tracing, node, log);
  // Who this sidecar is, told to mesh peers over mutual TLS (telemetry/peer-metadata.ts).
  const peerMetadata =
    certificate === undefined ? undefined : encodePeerMetadata(workloadOfNode(node), opts.service);
  // Learn mode: the stream is connected below, after the listeners; requests held before it
  // exists wait for the hello that carries the learned scope.
  let rescope: (upstreams: string[]) => number = () => 0;
  const learner = opts.learnUpstreams
    ? createScopeLearner({
        declared: opts.upstreams ?? [],
        namespace,
        rescope: (u) => rescope(u),
        holdMs: opts.learnHoldMs ?? DEFAULT_HOLD_MS,
        log,
      })
    : undefined;
  const dp = createDataPlane({
    node,
    log,
    tracer: tracing?.tracer,
    certificate,
    peerMetadata,
    ...(learner ? { learnHost: (a: string) => learner.learn(a) } : {}),
  });
  // Its own pool (not the data plane's, whose sweep keeps only snapshot endpoints), held here
  // so that metrics can read it.
  const inboundAgents = createAgentPool();
  const inboundHandler = createDrainable(
    createInboundHandler({
      appHost,
      appPort,
      proxyId: node.id,
      tracer: tracing?.tracer,
      agents: inboundAgents,
      peerMetadata,
      // Authorization applies here, on the server side, with the current table's policies.
      authz: () => dp.table()?.authz,
      ...(opts.numTrustedProxies !== undefined
        ? { numTrustedProxies: opts.numTrustedProxies }
        : {}),
    }),
  );
  // PeerAuthentication decides per connection what this listener accepts (tls/mesh-listener.ts).
  const inbound = await listenMesh(inboundHandler.handler, {
    host,
    port: opts.inboundPort ?? 0,
    proxyId: node.id,
    limits: opts.limits,
    log,
    certificate,
    mode: () => dp.table()?.inboundMode ?? 'PERMISSIVE',
  });
  const outbound = await listen(dp.outboundHandler(), {
    host,
    port: opts.outboundPort ?? 0,
    proxyId: node.id,
    limits: opts.limits,
  });
  let telemetry;
  try {
    telemetry = await startProxyTelemetry(
      node,
      dp,
      [
        {
          name: 'inbound',
          server: inbound.server,
          acceptor: inbound.acceptor,
          accepted: inbound.accepted,
        },
        { name: 'outbound', server: outbound.server },
      ],
      [dp.agents, inboundAgents],
      { ...opts, tracingStats: tracing?.stats },
    );
  } catch (err) {
    await Promise.all([inbound.close(), outbound.close()]);
    inboundAgents.destroy();
    throw err;
  }
  const admin = telemetry;
  // Told to the control plane in the hello, so Prometheus and the CLI can find it.
  node.adminAddress = admin.adminAddress;
  const stream = connectSnapshotStream({
    control: opts.control,
    node,
    // A control plane that restarted may send another trust bundle (tls/workload-certificate.ts).
    onConnected: () => certificate?.controlPlaneConnected(),
    apply: (s) => dp.apply(s),
    version: () => dp.version(),
    log,
    ...(learner
      ? {
          upstreams: learner.upstreams(),
          onScopeApplied: (seq: number) => learner.applied(seq),
          // Hosts learned before the stream existed (seq 0) went out in the hello.
          onApplied: () => learner.applied(0),
        }
      : opts.upstreams
        ? { upstreams: opts.upstreams }
        : {}),
    credentials: opts.credentials,
  });
  rescope = (u) => stream.rescope(u);

  const api = createControlApi(opts.control, opts.credentials);
  const registration = createRegistration({
    api,
    log,
    registration: {
      id,
      service: opts.service,
      namespace,
      address: host,
      port: inbound.port,
      labels: {
        app: opts.service,
        ...(opts.labels ?? {}),
        // Clients' auto-mTLS reads this, as Istio's reads the pod label.
        ...(certificate !== undefined ? { [TLS_MODE_LABEL]: 'istio' } : {}),
      },
      ttlSeconds: opts.ttlSeconds ?? 10,
    } satisfies InstanceRegistration,
  });

  let app: AppProcess | undefined;
  if (opts.appCommand) {
    app = startApp({
      command: opts.appCommand,
      env: {
        ...opts.appEnv,
        PORT: String(appPort),
        WEFT_OUTBOUND: `http://${host}:${outbound.port}`,
        WEFT_SERVICE: opts.service,
        WEFT_INSTANCE: id,
      },
    });
  }

  // Readiness gates the first registration: no peer learns of this instance before its app
  // passed a health check. After that, health flips are reported, not re-registrations.
  let markRegistered: () => void = () => undefined;
  const registered = new Promise<void>((r) => (markRegistered = r));
  let passedReadiness = false;
  const health = startHealthCheck(appHost, appPort, check, (healthy, reason) => {
    if (!passedReadiness) {
      passedReadiness = true;
      log('info', 'app is ready', { app: appPort });
      // Registered (and so sent mTLS by clients) only once it can serve mTLS.
      void Promise.resolve(certificate?.ready)
        .then(() => registration.register())
        .then(markRegistered);
      return;
    }
    log(
      healthy ? 'info' : 'warn',
      healthy ? 'app is healthy again' : 'app failed its health check; reported unhealthy',
      { id, ...(reason ? { reason } : {}) },
    );
    registration.reportHealth(healthy, reason);
  });
  log('info', 'sidecar listening', {
    inbound: inbound.port,
    outbound: outbound.port,
    app: appPort,
    ...(app ? { appPid: app.pid } : {}),
    healthCheck: check,
    admin: admin.adminAddress,
  });

  let closing: Promise<void> | undefined;
  const shutdown = async () => {
    health.stop();
    const revision = await registration.deregister();
    // Each replica knows only the proxies connected to it: with several, wait on every one
    // (the revision is etcd's, the same on all of them).
    if (revision !== undefined)
      await Promise.all(
        parseControlUrls(opts.control).map((url) =>
          waitForPeers(
            createControlApi(url),
            revision,
            opts.propagationTimeoutMs ?? DEFAULT_PROPAGATION_TIMEOUT_MS,
            log,
          ),
        ),
      );
    const cut = await inboundHandler.drain(
      inbound,
      opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    );
    if (cut > 0) log('warn', 'drain timeout: cut requests still in flight', { requests: cut });
    if (app) {
      const e = await app.stop(opts.appStopGraceMs ?? DEFAULT_APP_STOP_GRACE_MS);
      log('info', 'app stopped', { code: e.code, signal: e.signal });
    }
    stream.close();
    certificate?.close();
    await outbound.close();
    await admin.close();
    inboundHandler.handler.close();
    inboundAgents.destroy();
    await dp.close();
    await tracing?.close();
    log('info', 'sidecar stopped', { id });
  };

  return {
    id,
    inboundPort: inbound.port,
    outboundPort: outbound.port,
    appPort,
    adminAddress: admin.adminAddress,
    ...(app ? { appPid: app.pid, appExited: app.exited } : {}),
    ready: stream.ready,
    registered,
    certificate,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

/** Until every connected proxy ACKed `revision` (the instance is out of their rotation). */
async function waitForPeers(
  api: ControlApi,
  revision: number,
  timeoutMs: number,
  log: LogFn,
): Promise<void> {
  const started = Date.now();
  try {
    // Every replica is asked: each knows only the proxies connected to it.
    const answers = await api.callEach(
      'GET',
      `/v1/proxies/wait?version=${revision}&timeoutMs=${timeoutMs}`,
      undefined,
      timeoutMs + 2_000,
    );
    const ok: ProxyWaitAnswer[] = [];
    for (const a of answers) {
      if ('status' in a && a.status === 200) ok.push(a.body as ProxyWaitAnswer);
      else
        log('warn', 'a control-plane replica did not answer the wait; its proxies have moved', {
          replica: a.root,
          ...('error' in a ? { error: a.error.message } : { status: a.status }),
        });
    }
    if (ok.length === 0) throw new Error('no control-plane replica answered');
    const body = mergeProxyWaits(ok);
    if (body.done)
      log('info', 'every proxy runs the deregistration', {
        revision,
        proxies: body.proxies?.length,
        waitedMs: Date.now() - started,
      });
    else
      log('warn', 'not every proxy ACKed the deregistration in time; draining anyway', {
        revision,
        lagging: body.proxies?.filter((p) => p.state !== 'live').map((p) => p.id),
      });
  } catch (err) {
    log('warn', 'cannot wait for proxies: the control plane did not answer', {
      error: (err as Error).message,
    });
  }
}

/** A free port for an app that must be told its port before it starts. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
