// The snapshot is the only thing a proxy knows about the mesh. The control plane's translate
// step produces it from resources and registered instances; the proxy's compile step turns it
// into runtime structures. It is plain JSON so that it can be pushed, stored as a golden file
// and diffed. Everything here is already resolved: short host names are FQDNs, weights are
// normalised, subsets are turned into cluster names, defaults are filled in.

import type { PeerPolicy } from './resources/peer-authentication/effective.js';

/** Istio's StringMatch: exactly one of the three. */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

/** One HTTPMatchRequest block. All present fields must match (AND); blocks are OR-ed. */
export interface MatchBlock {
  name?: string;
  uri?: StringMatch;
  /** Case-insensitive exact/prefix uri matching (never applies to regex). */
  ignoreUriCase?: boolean;
  method?: StringMatch;
  authority?: StringMatch;
  scheme?: StringMatch;
  /** Lower-case header name -> match. `{ present: true }` is Istio's empty matcher. */
  headers?: Record<string, StringMatch | { present: true }>;
  withoutHeaders?: Record<string, StringMatch | { present: true }>;
  queryParams?: Record<string, StringMatch | { present: true }>;
  /** Only on listeners with this port. */
  port?: number;
  /**
   * Only on proxies whose labels include all of these (Istio: the client workload's labels).
   * Settled when a proxy compiles the snapshot, never per request.
   */
  sourceLabels?: Record<string, string>;
  /** Only on proxies in this namespace; settled at compile time like sourceLabels. */
  sourceNamespace?: string;
}

export interface HeaderOps {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HeaderRules {
  request?: HeaderOps;
  response?: HeaderOps;
}

export interface WeightedDestination {
  /** Cluster name, see clusterName(). May name a cluster absent from the snapshot (503 NC). */
  cluster: string;
  /** Relative weight, > 0. A route with one destination always has weight 1. */
  weight: number;
  /** The FQDN the destination names, kept for logs and explain output. */
  host: string;
  subset?: string;
  port?: number;
  headers?: HeaderRules;
}

export interface RetryPolicy {
  attempts: number;
  perTryTimeoutMs?: number;
  /** Envoy retry_on conditions, e.g. connect-failure, refused-stream, 5xx, retriable-status-codes. */
  retryOn: string[];
  retriableStatusCodes: number[];
  /** VirtualService retries.backoff: Envoy's base interval (25 ms when absent); the cap is 10x. */
  backoffBaseMs?: number;
}

/** Istio's HTTPFaultInjection, applied by the client-side proxy before routing. */
export interface FaultPolicy {
  /** Delay `percent`% of requests by `fixedDelayMs` (before the route timeout starts). */
  delay?: { fixedDelayMs: number; percent: number };
  /** Answer `percent`% of requests with `httpStatus` without calling the upstream. */
  abort?: { httpStatus: number; percent: number };
}

/** A copy of each request sent fire-and-forget; its response is dropped. */
export interface MirrorPolicy {
  cluster: string;
  host: string;
  subset?: string;
  port?: number;
  /** 0-100; Istio's default for `mirror` without `mirrorPercentage` is 100. */
  percent: number;
}

/** Istio's CorsPolicy, with origins compiled to string matches. */
export interface CorsConfig {
  allowOrigins: StringMatch[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
  /** What to do with a preflight whose origin does not match: FORWARD (default) or IGNORE. */
  unmatchedPreflights?: 'FORWARD' | 'IGNORE';
}

export interface RouteAction {
  type: 'route';
  destinations: WeightedDestination[];
  timeoutMs?: number;
  retries?: RetryPolicy;
  rewrite?: {
    uri?: string;
    authority?: string;
    /** RE2 substitution on the path; `\\1`-style capture references in `rewrite`. */
    uriRegex?: { match: string; rewrite: string };
  };
  mirrors?: MirrorPolicy[];
}

export interface RedirectAction {
  type: 'redirect';
  uri?: string;
  authority?: string;
  scheme?: string;
  port?: number;
  /** Replaces the matched prefix (needs a prefix match), keeping the rest of the path. */
  prefixRewrite?: string;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  code: number;
}

export interface DirectResponseAction {
  type: 'direct';
  status: number;
  body?: string;
}

export interface Route {
  /** Human-readable id: `<namespace>/<vs-name>#<http index>` or `default` for implicit routes. */
  id: string;
  name?: string;
  /** Empty list = matches every request (Istio: no `match` is a catch-all). */
  matches: MatchBlock[];
  action: RouteAction | RedirectAction | DirectResponseAction;
  headers?: HeaderRules;
  fault?: FaultPolicy;
  cors?: CorsConfig;
}

/** A set of domains and the ordered routes that serve them (Envoy's virtual host). */
export interface VirtualHost {
  /** `<namespace>/<vs-name>` or `default|<fqdn>` for a service with no VirtualService. */
  name: string;
  /**
   * Host header values that select this virtual host, lower case, without port. Includes the
   * FQDN and the short forms (`user`, `user.default`, `user.default.svc`). A leading `*.`
   * is a suffix wildcard; `*` alone matches everything.
   */
  domains: string[];
  routes: Route[];
}

/**
 * `PEAK_EWMA` is Weft's default for services with no load-balancer setting: power of two
 * choices over peak-EWMA latency and in-flight requests (as Linkerd does). The others are
 * Istio's `loadBalancer.simple` values.
 */
export type LbPolicy = 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'PASSTHROUGH' | 'PEAK_EWMA';

/** Istio's consistentHash: what to hash, and which table to hash onto. */
export interface ConsistentHash {
  key:
    | { header: string }
    | { cookie: { name: string; path?: string; ttlMs?: number } }
    | { sourceIp: true }
    | { queryParameter: string };
  algorithm: 'RING_HASH' | 'MAGLEV';
  minRingSize?: number;
  tableSize?: number;
}

export interface Endpoint {
  /** Instance id as registered. */
  id: string;
  address: string;
  port: number;
  labels: Record<string, string>;
  /** False when the instance reported itself unhealthy (its app failed its probe). */
  healthy: boolean;
  /** Relative endpoint weight for weighted load balancing, default 1. */
  weight: number;
  /**
   * Present when clients must call this endpoint over mutual TLS (auto-mTLS or a
   * DestinationRule's ISTIO_MUTUAL): the SPIFFE ID its certificate must carry.
   */
  tlsIdentity?: string;
}

export interface Cluster {
  /** `outbound|<port>|<subset>|<fqdn>`, as Istio names clusters (port empty when unset). */
  name: string;
  service: string;
  subset?: string;
  /**
   * Set on the clusters DestinationRule portLevelSettings add: traffic to this destination port
   * uses this cluster instead of the portless one of the same service and subset.
   */
  port?: number;
  lb: LbPolicy;
  /** Set when the DestinationRule asks for consistent hashing; it replaces `lb`. */
  hash?: ConsistentHash;
  /** Slow start: a new endpoint's share ramps up over this long (warmupDurationSecs). */
  warmupMs?: number;
  /** DestinationRule outlierDetection, defaults filled in; absent = Weft's default ejection. */
  outlier?: OutlierPolicy;
  /** DestinationRule connectionPool; absent fields (and Istio's 0 = default) are unlimited. */
  pool?: ConnectionPoolPolicy;
  /** DestinationRule retryBudget (Envoy's: a share of active requests); absent = Weft's default. */
  retryBudget?: { percent: number; minRetryConcurrency: number };
  endpoints: Endpoint[];
}

/** Istio's OutlierDetection with its defaults filled in (docs/reliability.md). */
export interface OutlierPolicy {
  /** 0 = off. Istio's default is 5. */
  consecutive5xxErrors: number;
  /** 502, 503 and 504 (and local failures); 0 = off, Istio's default. */
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionMs: number;
  /** 0-100; Istio's default is 10. */
  maxEjectionPercent: number;
  /** 0-100; below this share of non-ejected endpoints the cluster ignores ejections (panic). */
  minHealthPercent: number;
}

/** Istio's ConnectionPoolSettings as circuit breakers; each limit absent = unlimited. */
export interface ConnectionPoolPolicy {
  maxConnections?: number;
  maxPendingRequests?: number;
  /** http2MaxRequests: concurrent requests, HTTP/1.1 included (as in Envoy). */
  maxRequests?: number;
  /** 1 = no keep-alive. */
  maxRequestsPerConnection?: number;
  /** Concurrent retries. */
  maxRetries?: number;
  connectTimeoutMs?: number;
  /** Upstream idle connections close after this (http.idleTimeout, else tcp.idleTimeout). */
  idleTimeoutMs?: number;
}

export interface GatewayServer {
  port: { number: number; name?: string; protocol: string };
  /** Host patterns this server accepts, without namespace prefix, lower case. */
  hosts: string[];
  /**
   * TLS settings. `httpsRedirect` answers plain HTTP with a 301 to https. `mode: SIMPLE`
   * terminates TLS with the PEM files named (paths on the gateway's machine, as in Istio).
   */
  tls?: {
    httpsRedirect?: boolean;
    mode?: 'SIMPLE';
    serverCertificate?: string;
    privateKey?: string;
    caCertificates?: string;
  };
}

/** One Gateway resource, with the virtual hosts bound to it. */
export interface GatewayConfig {
  /** `<namespace>/<name>` */
  name: string;
  /** Gateway proxies whose labels include all of these serve this Gateway. */
  selector: Record<string, string>;
  servers: GatewayServer[];
  virtualHosts: VirtualHost[];
}

export interface Snapshot {
  /** Monotonic; the store revision the snapshot was translated from. */
  version: number;
  gateways: GatewayConfig[];
  /** What every sidecar uses for outbound traffic (VirtualServices bound to `mesh`, defaults). */
  mesh: { virtualHosts: VirtualHost[] };
  clusters: Cluster[];
  /**
   * AuthorizationPolicies, applied by the server side (sidecar inbound, gateway) of the
   * workloads each one's scope selects. Absent when there are none.
   */
  authorization?: AuthorizationPolicyConfig[];
  /** PeerAuthentications, oldest first; absent when there are none (every sidecar PERMISSIVE). */
  security?: { peerAuthentications: PeerPolicy[] };
}

/** Where an AuthorizationPolicy applies, resolved by translate from namespace/selector/targetRefs. */
export interface AuthorizationScope {
  /** Namespace of the workloads; absent for a root-namespace policy (every namespace). */
  namespace?: string;
  /** Workload labels that must all be present; absent = every workload in the namespace(s). */
  selector?: Record<string, string>;
  /** targetRefs to Services (by name, in `namespace`): sidecars of those services. */
  services?: string[];
  /** targetRefs to Gateways: gateway proxies serving a Gateway named `<namespace>/<name>`. */
  gateways?: string[];
}

/** Istio's Rule.From.source; string values keep Istio's `*` prefix/suffix/presence syntax. */
export interface AuthorizationSourceConfig {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthorizationOperationConfig {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationConditionConfig {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRuleConfig {
  /** Absent = any source; otherwise one of them must match. */
  from?: AuthorizationSourceConfig[];
  /** Absent = any operation; otherwise one of them must match. */
  to?: AuthorizationOperationConfig[];
  /** All must match. */
  when?: AuthorizationConditionConfig[];
}

export interface AuthorizationPolicyConfig {
  /** `<namespace>/<name>` */
  name: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  scope: AuthorizationScope;
  /** Empty: an ALLOW policy allows nothing; a DENY/AUDIT/CUSTOM policy never matches. */
  rules: AuthorizationRuleConfig[];
  /** `istio.io/dry-run: "true"`: never enforced (proxies leave it out). */
  dryRun?: boolean;
}

export function clusterName(fqdn: string, subset?: string, port?: number): string {
  return `outbound|${port ?? ''}|${subset ?? ''}|${fqdn}`;
}
