// `weft gateway`: the edge proxy. It serves every Gateway resource whose selector its labels
// satisfy (Istio's default gateway labels are istio=ingressgateway), routing by the
// VirtualServices bound to those Gateways. Two listeners: plain HTTP (`--port`) for the
// Gateways' HTTP servers, and, with `--https-port`, HTTPS for their SIMPLE TLS servers, with
// the certificate picked by SNI. Certificates are read here, when a snapshot is applied: a
// file that cannot be used NACKs the snapshot and the last good configuration keeps serving.

import type { ProxyNode } from '@weft/model';
import { connectSnapshotStream } from '../client/stream.js';
import type { RouteTable } from '../compile/types.js';
import { createDataPlane } from '../data-plane.js';
import { normalizeHost } from '../routing/host-table.js';
import type { ListenerLimits } from '../server/limits.js';
import { listen, type Listener } from '../server/listen.js';
import { startProxyTelemetry, type TelemetryOptions } from '../admin/telemetry.js';
import { loadServerCertificates, type ServerCertificates } from '../tls/server-certificates.js';
import { createProxyTracing, type TracingFlags } from '../telemetry/tracing/index.js';
import type { ControlCredentials } from '../tls/control-client.js';
import { startMeshIdentity } from '../tls/mesh-identity.js';
import { workloadOfNode } from '../telemetry/istio-labels.js';
import { encodePeerMetadata } from '../telemetry/peer-metadata.js';
import { createLog } from './log.js';

export interface GatewayOptions extends TelemetryOptions {
  control: string;
  host?: string;
  port?: number;
  id?: string;
  namespace?: string;
  labels?: Record<string, string>;
  /**
   * Port of the HTTPS listener for SIMPLE TLS servers (0 = any free port). Without one, TLS
   * servers are skipped with a warning (not NACKed): the gateway serves what it can.
   */
  httpsPort?: number;
  /** Distributed tracing to an OTLP/HTTP collector; off when undefined. */
  tracing?: TracingFlags;
  /** Limits on both listeners (server/limits.ts); defaults for what is unset. */
  limits?: Partial<ListenerLimits>;
  /** Istio's gatewayTopology.numTrustedProxies: X-Forwarded-For hops to trust (default 0). */
  numTrustedProxies?: number;
  /** Root to trust for an https:// control plane, and the gateway's bootstrap token. */
  credentials?: ControlCredentials | undefined;
  /**
   * Call mesh sidecars over mutual TLS with a workload certificate for this service (default
   * true, as Istio's ingress gateway does); its SPIFFE ID is .../ns/NAMESPACE/sa/SERVICE.
   */
  mtls?: boolean;
  /** The gateway's identity in the mesh (default istio-ingressgateway). */
  service?: string;
}

export interface RunningGateway {
  port: number;
  /** The HTTPS listener's port, when the gateway has one. */
  httpsPort?: number;
  id: string;
  /** Where its metrics (/stats/prometheus) and tap are served, `host:port`. */
  adminAddress: string;
  /** Resolves once the first snapshot is live. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const id = opts.id ?? `gateway-${process.pid}`;
  const log = createLog(id);
  const node: ProxyNode = {
    id,
    role: 'gateway',
    namespace: opts.namespace ?? 'default',
    labels: opts.labels ?? { istio: 'ingressgateway' },
  };
  const host = opts.host ?? '127.0.0.1';
  let https: Listener | undefined;
  // What the HTTPS listener serves now; swapped together with the route table.
  let certs: ServerCertificates | undefined;
  let tlsLogged = '';

  const prepareTls = (table: RouteTable): (() => void) | undefined => {
    const key = JSON.stringify(table.tlsServers);
    const changed = key !== tlsLogged;
    if (https === undefined) {
      if (changed && table.tlsServers.length > 0) {
        log(
          'warn',
          'the Gateways have TLS servers but this gateway has no HTTPS listener (--https-port); their hosts are not served',
          {
            servers: table.tlsServers.map((s) => s.name),
          },
        );
      }
      tlsLogged = key;
      return undefined;
    }
    const listener = https;
    // Throws with the file and field named: the snapshot is NACKed and nothing changes.
    const loaded = loadServerCertificates(table.tlsServers, { now: Date.now() });
    if (loaded === undefined && certs === undefined) return undefined;
    return () => {
      certs = loaded;
      // No TLS server left: an empty default context makes handshakes fail instead of
      // presenting a certificate the configuration no longer names.
      listener.setSecureContext?.(loaded?.defaultOptions ?? {});
      if (changed) {
        tlsLogged = key;
        log('info', 'TLS certificates loaded', { servers: table.tlsServers.map((s) => s.name) });
        for (const w of loaded?.warnings ?? []) log('warn', 'TLS configuration', { warning: w });
      }
    };
  };

  const certificate =
    opts.mtls === false
      ? undefined
      : startMeshIdentity({
          control: opts.control,
          credentials: opts.credentials,
          namespace: node.namespace,
          service: opts.service ?? 'istio-ingressgateway',
          log,
        });
  // Before anything listens: a bad endpoint is an error at start, not a silent loss later.
  const tracing = await createProxyTracing(opts.tracing, node, log);
  const dp = createDataPlane({
    node,
    log,
    tracer: tracing?.tracer,
    certificate,
    // Who the gateway is, told to mesh sidecars over mutual TLS (telemetry/peer-metadata.ts).
    peerMetadata:
      certificate === undefined
        ? undefined
        : encodePeerMetadata(workloadOfNode(node), opts.service ?? 'istio-ingressgateway'),
    httpsRedirectPort: () => https?.port,
    beforeSwap: prepareTls,
    ...(opts.numTrustedProxies !== undefined ? { numTrustedProxies: opts.numTrustedProxies } : {}),
  });
  const listener = await listen(dp.gatewayHandler(), {
    host,
    port: opts.port ?? 8080,
    proxyId: id,
    log,
    limits: opts.limits,
  });
  if (opts.httpsPort !== undefined) {
    try {
      https = await listen(dp.gatewayHandler(), {
        host,
        port: opts.httpsPort,
        proxyId: id,
        log,
        limits: opts.limits,
        tls: {
          SNICallback: (servername, cb) => {
            if (certs === undefined) {
              cb(new Error('no TLS server is configured on this gateway'));
              return;
            }
            // An unknown name gets the default context (the first TLS server's certificate);
            // the Host then decides, and a host no TLS server accepts is 404 NR.
            cb(null, certs.sni.lookup(normalizeHost(servername)));
          },
        },
      });
    } catch (err) {
      await listener.close();
      await tracing?.close();
      throw err;
    }
  }
  let telemetry;
  try {
    telemetry = await startProxyTelemetry(
      node,
      dp,
      [
        { name: 'http', server: listener.server },
        ...(https ? [{ name: 'https', server: https.server }] : []),
      ],
      [dp.agents],
      { ...opts, tracingStats: tracing?.stats },
    );
  } catch (err) {
    await Promise.all([listener.close(), https?.close()]);
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
    credentials: opts.credentials,
  });
  log('info', 'gateway listening', {
    port: listener.port,
    httpsPort: https?.port,
    ...(tracing !== undefined
      ? { tracing: { endpoint: opts.tracing?.otlpEndpoint, sampling: tracing.tracer.percent } }
      : {}),
    admin: admin.adminAddress,
  });
  return {
    port: listener.port,
    ...(https ? { httpsPort: https.port } : {}),
    id,
    adminAddress: admin.adminAddress,
    ready: stream.ready,
    async close() {
      stream.close();
      certificate?.close();
      await Promise.all([listener.close(), https?.close()]);
      await admin.close();
      await dp.close();
      await tracing?.close();
    },
  };
}
