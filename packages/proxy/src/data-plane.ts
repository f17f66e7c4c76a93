// The proxy's data plane behind one small facade: the snapshot stream calls apply(), the
// listeners call the handlers. apply() compiles off to the side and swaps the table in one
// assignment; a snapshot that fails to compile throws (the caller NACKs) and the old table
// keeps serving. Requests grab the table once when they start, so a swap never changes a
// request halfway.

import type { ProxyNode, Snapshot } from '@weft/model';
import { createClusterStates, type ClusterStates } from './compile/cluster-policy.js';
import { compileSnapshot } from './compile/compile-snapshot.js';
import type { RouteTable } from './compile/types.js';
import { createEndpointLoadTracker } from './lb/endpoint-load.js';
import {
  createHealthTracker,
  type HealthTracker,
  type HealthTrackerOptions,
} from './outlier/health-tracker.js';
import {
  createRequestHandler,
  type ProxyRequestHandler,
  type RequestHandlerOptions,
} from './server/request-handler.js';
import { tableSwappedChannel } from './telemetry/channels.js';
import type { LogFn } from './telemetry/log.js';
import type { Tracer } from './telemetry/tracing/tracer.js';
import type { RetryBudgetConfig } from './retry-budget/index.js';
import { MeshAgent } from './tls/mesh-agent.js';
import type { WorkloadCertificateSource } from './tls/workload-certificate.js';
import { createAgentPool, type AgentPool, type AgentPoolOptions } from './upstream/agent-pool.js';

export interface DataPlaneOptions {
  node: ProxyNode;
  now?: () => number;
  random?: () => number;
  log?: LogFn;
  health?: HealthTrackerOptions;
  /** The default retry budget (Linkerd's 20 %, 10/s floor, 10 s window when not given). */
  retryBudget?: RetryBudgetConfig;
  agents?: AgentPoolOptions;
  connectTimeoutMs?: number;
  maxBufferedBodyBytes?: number;
  /** The gateway's HTTPS listener port, read at each apply (for httpsRedirect Locations). */
  httpsRedirectPort?: () => number | undefined;
  /**
   * Runs on a freshly compiled table before it is swapped in: throwing rejects the snapshot
   * (the current table keeps serving); the function it returns runs right after the swap.
   * The gateway loads its TLS certificates here.
   */
  beforeSwap?: (table: RouteTable) => (() => void) | undefined;
  /** Distributed tracing for the gateway and outbound handlers; off when undefined. */
  tracer?: Tracer | undefined;
  /** Gateway: X-Forwarded-For hops to trust (Istio's numTrustedProxies). */
  numTrustedProxies?: number;
  /** Peer metadata header value sent to mesh upstreams (telemetry/peer-metadata.ts). */
  peerMetadata?: string | undefined;
  /** This proxy's workload certificate: with it, endpoints with a tlsIdentity get mutual TLS. */
  certificate?: WorkloadCertificateSource | undefined;
  /** Sidecar learn mode: holds outbound requests for hosts outside the scope (scope/learn.ts). */
  learnHost?: RequestHandlerOptions['learnHost'];
}

export interface DataPlane {
  /** Compiles and swaps in the snapshot; throws (keeping the current table) if it cannot. */
  apply(snapshot: Snapshot): void;
  /** Version of the table in use. */
  version(): number | undefined;
  table(): RouteTable | undefined;
  gatewayHandler(): ProxyRequestHandler;
  outboundHandler(): ProxyRequestHandler;
  readonly health: HealthTracker;
  /** Circuit-breaker counts and retry budgets per cluster, kept across swaps. */
  readonly clusterStates: ClusterStates;
  readonly agents: AgentPool;
  /** Destroys pooled connections and stops housekeeping. Close listeners first. */
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 30_000;

export function createDataPlane(opts: DataPlaneOptions): DataPlane {
  const now = opts.now ?? Date.now;
  const health = createHealthTracker(opts.health);
  // In-flight counts, latency estimates and first-seen times, kept across swaps like health.
  const load = createEndpointLoadTracker();
  const clusterStates = createClusterStates(opts.retryBudget);
  const agents = createAgentPool(opts.agents);
  const cert = opts.certificate;
  const meshAgents =
    cert === undefined
      ? undefined
      : createAgentPool({ ...opts.agents, createAgent: (o) => new MeshAgent(o, cert) });
  let current: RouteTable | undefined;
  let gateway: ProxyRequestHandler | undefined;
  let outbound: ProxyRequestHandler | undefined;

  const handlerOptions: RequestHandlerOptions = {
    proxyId: opts.node.id,
    now,
    agents,
    meshAgents,
    ...(opts.random !== undefined ? { random: opts.random } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.maxBufferedBodyBytes !== undefined
      ? { maxBufferedBodyBytes: opts.maxBufferedBodyBytes }
      : {}),
    ...(opts.tracer !== undefined ? { tracer: opts.tracer } : {}),
    ...(opts.numTrustedProxies !== undefined ? { numTrustedProxies: opts.numTrustedProxies } : {}),
    peerMetadata: opts.peerMetadata,
    learnHost: opts.learnHost,
  };
  const getTable = () => current;

  const sweep = () => {
    const keys = current?.endpointKeys ?? new Set<string>();
    const t = now();
    agents.retain(keys, t);
    meshAgents?.retain(keys, t);
    health.retain(keys, t);
    load.retain(keys);
    clusterStates.retain(new Set(current?.clusters.keys() ?? []));
  };
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();

  return {
    apply(snapshot) {
      const table = compileSnapshot(snapshot, {
        node: opts.node,
        health,
        load,
        clusterStates,
        now: now(),
        httpsRedirectPort: opts.httpsRedirectPort?.(),
      });
      // May throw (the snapshot is NACKed and nothing changes); commits what it prepared.
      const commit = opts.beforeSwap?.(table);
      const previous = current;
      current = table;
      commit?.();
      sweep();
      for (const w of table.warnings)
        opts.log?.('warn', 'snapshot compiled with a warning', {
          version: table.version,
          warning: w,
        });
      opts.log?.('info', 'route table swapped', {
        version: table.version,
        previousVersion: previous?.version,
        clusters: table.clusters.size,
        gateways: table.gateways,
      });
      if (tableSwappedChannel.hasSubscribers) {
        tableSwappedChannel.publish({
          proxyId: opts.node.id,
          version: table.version,
          previousVersion: previous?.version,
          clusters: table.clusters.size,
          warnings: table.warnings,
        });
      }
    },
    version: () => current?.version,
    table: getTable,
    gatewayHandler() {
      gateway ??= createRequestHandler('gateway', getTable, handlerOptions);
      return gateway;
    },
    outboundHandler() {
      outbound ??= createRequestHandler('outbound', getTable, handlerOptions);
      return outbound;
    },
    health,
    clusterStates,
    agents,
    close() {
      clearInterval(timer);
      agents.destroy();
      meshAgents?.destroy();
      return Promise.resolve();
    },
  };
}
