// The compiled form of a snapshot: everything a request needs, precomputed. A RouteTable is
// immutable once built (only LB cursors and the shared outlier records change), and the
// proxy swaps whole tables, so a request that grabbed a table finishes on it.

import type { EffectiveMode, LbPolicy, ProxyNode, Snapshot } from '@weft/model';
import type { CompiledHashPolicy } from '../lb/hash-policy.js';
import type { AlgorithmName } from '../lb/registry.js';
import type { EndpointState, LoadBalancer } from '../lb/types.js';
import type { CompiledAuthz } from '../filters/authz/index.js';
import type { RouteFilters } from '../filters/index.js';
import type { CompiledMirror } from '../filters/mirror/index.js';
import type { HealthTracker } from '../outlier/health-tracker.js';
import type { CompiledClusterPolicy } from './cluster-policy.js';
import type { HostTable } from '../routing/host-table.js';
import type { SniHostCheck } from './sni-host.js';
import type { CompiledMatchBlock } from '../routing/match-block.js';

export interface RuntimeCluster {
  readonly name: string;
  /** The FQDN, for messages and telemetry. */
  readonly service: string;
  readonly subset: string | undefined;
  /** Set on a DestinationRule portLevelSettings cluster: the destination port it serves. */
  readonly port?: number | undefined;
  readonly policy: LbPolicy;
  readonly algorithm: AlgorithmName;
  readonly endpoints: readonly EndpointState[];
  readonly lb: LoadBalancer;
  /** Set for consistent-hash clusters: what of a request to hash (computed per request). */
  readonly hashPolicy?: CompiledHashPolicy | undefined;
  /** Slow start window, 0 = none. */
  readonly warmupMs?: number;
  /** Outlier detection, circuit breaker, retry budget, connect timeout (cluster-policy.ts). */
  readonly resilience?: CompiledClusterPolicy | undefined;
}

/**
 * Header changes in the form the hot path applies them: names to drop from the incoming
 * headers (removed and overwritten ones), then a flat `[name, value, ...]` list to append.
 */
export interface CompiledHeaderOps {
  readonly drop: ReadonlySet<string>;
  readonly append: readonly string[];
  /** Host rewrite (rewrite.authority, or `set: {host: ...}`); request side only. */
  readonly authority: string | undefined;
  readonly empty: boolean;
}

export interface CompiledRetryPolicy {
  /** Tries after the first one. */
  readonly retries: number;
  /** 0 = no per-try timeout. */
  readonly perTryTimeoutMs: number;
  readonly connectFailure: boolean;
  /** Upstream reset before the response started. */
  readonly reset: boolean;
  readonly any5xx: boolean;
  readonly gatewayError: boolean;
  readonly retriable4xx: boolean;
  /** Retry when the response carries a header the request names in x-envoy-retriable-header-names. */
  readonly retriableHeaders: boolean;
  /** Only consulted when non-empty. */
  readonly statusCodes: readonly number[];
  /** gRPC status codes (from a `grpc-status` response header) that are retried. */
  readonly grpcCodes: readonly number[];
  /** Envoy retries a per-try timeout only with 5xx or gateway-error. */
  readonly perTryTimeoutRetriable: boolean;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** The retryOn conditions, as given, for explain output. */
  readonly conditions: readonly string[];
  /** Weft's default policy only: the conditions for idempotent methods (retryPolicyFor). */
  readonly idempotent?: CompiledRetryPolicy | undefined;
}

export interface CompiledDestination {
  readonly clusterName: string;
  /** Resolved when compiling; undefined means 503 NC for requests that pick it. */
  readonly cluster: RuntimeCluster | undefined;
  /**
   * Sidecar outbound, no port named, and the DestinationRule has portLevelSettings: the
   * request's port picks from these, else `cluster` (port-clusters.ts).
   */
  readonly byPort?: ReadonlyMap<number, RuntimeCluster> | undefined;
  readonly host: string;
  readonly weight: number;
  /** Route-level and destination-level ops merged (destination `set` wins). */
  readonly request: CompiledHeaderOps;
  readonly response: CompiledHeaderOps;
}

export interface ForwardAction {
  readonly type: 'route';
  readonly destinations: readonly CompiledDestination[];
  /** Weighted choice; one destination never calls `random`. */
  readonly pick: (random: () => number) => CompiledDestination;
  /** 0 = no route timeout (Istio's default). Covers all tries. */
  readonly timeoutMs: number;
  readonly retry: CompiledRetryPolicy;
  readonly rewriteUri: string | undefined;
  /** uriRegexRewrite, compiled: the new path for a path. */
  readonly rewriteRegex?: ((path: string) => string) | undefined;
  /** uriRegexRewrite as configured, for explain output. */
  readonly rewriteRegexSource?: { readonly match: string; readonly rewrite: string } | undefined;
  /** Clusters that get a copy of (a share of) the requests; undefined = none. */
  readonly mirrors?: readonly CompiledMirror[] | undefined;
}

export interface RedirectRouteAction {
  readonly type: 'redirect';
  readonly code: number;
  readonly uri: string | undefined;
  readonly authority: string | undefined;
  readonly scheme: string | undefined;
  readonly port: number | undefined;
  /** Replaces the matched uri prefix, keeping the rest of the path. */
  readonly prefixRewrite?: string | undefined;
  readonly derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT' | undefined;
}

export interface DirectRouteAction {
  readonly type: 'direct';
  readonly status: number;
  readonly body: Buffer;
}

export type CompiledAction = ForwardAction | RedirectRouteAction | DirectRouteAction;

export interface CompiledRoute {
  readonly id: string;
  readonly name: string | undefined;
  readonly blocks: readonly CompiledMatchBlock[];
  readonly action: CompiledAction;
  /** Route-level response ops, for replies the proxy makes itself (redirect, direct). */
  readonly response: CompiledHeaderOps;
  /** Fault injection and CORS, run before the action; undefined (the usual) = none. */
  readonly filters?: RouteFilters | undefined;
}

export interface CompiledVirtualHost {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];
}

/** A SIMPLE TLS server of a Gateway: what the gateway's HTTPS listener loads. */
export interface GatewayTlsServer {
  /** `<namespace>/<gateway> servers[i] (port name)`, for logs. */
  readonly name: string;
  /** Snapshot path of the server's tls settings, for NACK messages: `gateways[0].servers[1].tls`. */
  readonly field: string;
  /** SNI names this server's certificate answers (server host patterns, lower case). */
  readonly hosts: readonly string[];
  /** PEM file paths on the gateway's machine. */
  readonly serverCertificate: string;
  readonly privateKey: string;
  readonly caCertificates: string | undefined;
}

export interface RouteTable {
  readonly version: number;
  /** Sidecars: which connections the inbound listener accepts (PeerAuthentication). */
  readonly inboundMode: EffectiveMode;
  /**
   * Virtual hosts of the Gateways this proxy serves, for the plain HTTP listener: hosts of
   * non-TLS servers (httpsRedirect hosts map to a virtual host that answers 301).
   */
  readonly gateway: HostTable<CompiledVirtualHost>;
  /** The same for the HTTPS listener: hosts of SIMPLE TLS servers. */
  readonly gatewayTls: HostTable<CompiledVirtualHost>;
  /** The TLS servers, in snapshot order; the first one's certificate is the default. */
  readonly tlsServers: readonly GatewayTlsServer[];
  /** Host against the SNI-selected TLS server (sni-host.ts); undefined with fewer than two. */
  readonly sniHostCheck?: SniHostCheck | undefined;
  /** Sidecar outbound: `snapshot.mesh`. */
  readonly mesh: HostTable<CompiledVirtualHost>;
  readonly clusters: ReadonlyMap<string, RuntimeCluster>;
  /** Names of the Gateways whose selector matched this proxy. */
  readonly gateways: readonly string[];
  /** Every `address:port` in the table (connection pools and outlier records to keep). */
  readonly endpointKeys: ReadonlySet<string>;
  readonly health: HealthTracker;
  /** Things compiled with a caveat (dropped domains, ignored header ops). */
  readonly warnings: readonly string[];
  /** The AuthorizationPolicies that apply to this proxy; undefined (the usual) = none. */
  readonly authz?: CompiledAuthz | undefined;
  /** The proxy the table was compiled for (its labels decided sourceLabels). */
  readonly node?: ProxyNode;
  /**
   * The snapshot this table was compiled from. Compiled predicates cannot say why they failed;
   * explain (`x-weft-explain`) reads the match blocks here. Read-only, never patched.
   */
  readonly snapshot?: Snapshot;
}
