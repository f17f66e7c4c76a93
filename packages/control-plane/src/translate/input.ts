// The slice of each resource that translate reads. The validated resource types from
// @weft/model are wider; keeping translate's needs explicit here documents which fields
// Weft implements and lets the golden tests build inputs by hand.

import type { Instance } from '@weft/model';

export interface Meta {
  name: string;
  namespace: string;
  /** Store revision that created the resource: Istio's "oldest wins" order on sidecars. */
  createRevision?: number;
  /** Set only when the resource has the annotation (AuthorizationPolicy's istio.io/dry-run). */
  dryRun?: boolean;
}

export type StringMatchIn = { exact?: string; prefix?: string; regex?: string };

export interface HttpMatchIn {
  name?: string;
  uri?: StringMatchIn;
  scheme?: StringMatchIn;
  method?: StringMatchIn;
  authority?: StringMatchIn;
  headers?: Record<string, StringMatchIn>;
  withoutHeaders?: Record<string, StringMatchIn>;
  queryParams?: Record<string, StringMatchIn>;
  ignoreUriCase?: boolean;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
}

export interface HeaderOpsIn {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HeadersIn {
  request?: HeaderOpsIn;
  response?: HeaderOpsIn;
}

export interface DestinationIn {
  host: string;
  subset?: string;
  port?: { number?: number };
}

/** Istio's Percent; `{}` (no value) is 0. */
export interface PercentIn {
  value?: number;
}

export interface HttpRouteIn {
  name?: string;
  match?: HttpMatchIn[];
  route?: {
    destination: DestinationIn;
    weight?: number;
    headers?: HeadersIn;
  }[];
  redirect?: {
    uri?: string;
    authority?: string;
    scheme?: string;
    port?: number;
    derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
    prefixRewrite?: string;
    redirectCode?: number;
  };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  rewrite?: {
    uri?: string;
    authority?: string;
    uriRegexRewrite?: { match: string; rewrite: string };
  };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string; backoff?: string };
  headers?: HeadersIn;
  fault?: {
    /** `exponentialDelay` is not supported: a delay without `fixedDelay` is dropped. */
    delay?: { fixedDelay?: string; percentage?: PercentIn; percent?: number };
    /** Only `httpStatus` aborts are supported (not grpcStatus, http2Error). */
    abort?: { httpStatus?: number; percentage?: PercentIn };
  };
  mirror?: DestinationIn;
  mirrorPercentage?: PercentIn;
  /** Deprecated integer form of mirrorPercentage. */
  mirrorPercent?: number;
  mirrors?: { destination: DestinationIn; percentage?: PercentIn }[];
  corsPolicy?: {
    allowOrigins?: StringMatchIn[];
    /** Deprecated: exact origins, used when allowOrigins is absent. */
    allowOrigin?: string[];
    allowMethods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    maxAge?: string;
    allowCredentials?: boolean;
    unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
  };
}

export interface VirtualServiceIn {
  metadata: Meta;
  spec: { hosts?: string[]; gateways?: string[]; http?: HttpRouteIn[] };
}

export interface LoadBalancerIn {
  simple?: string;
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    /** uint64 fields: protobuf JSON may quote them. */
    ringHash?: { minimumRingSize?: number | string };
    maglev?: { tableSize?: number | string };
    minimumRingSize?: number | string;
  };
  warmupDurationSecs?: string;
  warmup?: { duration: string };
}

export interface TrafficPolicyIn {
  loadBalancer?: LoadBalancerIn;
  connectionPool?: {
    tcp?: { maxConnections?: number; connectTimeout?: string; idleTimeout?: string };
    http?: {
      http1MaxPendingRequests?: number;
      http2MaxRequests?: number;
      maxRequestsPerConnection?: number;
      maxRetries?: number;
      idleTimeout?: string;
    };
  };
  outlierDetection?: {
    consecutive5xxErrors?: number;
    consecutiveGatewayErrors?: number;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
    minHealthPercent?: number;
  };
  retryBudget?: { percent?: { value?: number }; minRetryConcurrency?: number };
  /** ISTIO_MUTUAL and DISABLE are acted on; other modes are warned about at apply. */
  tls?: { mode?: string };
  /** Per destination port: these four components replace the level's own (port-level.ts). */
  portLevelSettings?: PortTrafficPolicyIn[];
}

export type PortTrafficPolicyIn = Pick<
  TrafficPolicyIn,
  'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'
> & { port?: { number?: number } };

export interface PeerAuthenticationIn {
  metadata: Meta;
  spec: {
    selector?: { matchLabels?: Record<string, string> };
    mtls?: { mode?: 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT' };
    portLevelMtls?: Record<string, { mode?: 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT' }>;
  };
}

export interface DestinationRuleIn {
  metadata: Meta;
  spec: {
    host: string;
    trafficPolicy?: TrafficPolicyIn;
    subsets?: { name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicyIn }[];
  };
}

export interface GatewayIn {
  metadata: Meta;
  spec: {
    selector?: Record<string, string>;
    servers?: {
      port: { number: number; name?: string; protocol?: string };
      hosts: string[];
      tls?: {
        httpsRedirect?: boolean;
        mode?: string;
        serverCertificate?: string;
        privateKey?: string;
        caCertificates?: string;
      };
    }[];
  };
}

export interface ServiceEntryIn {
  metadata: Meta;
  spec: {
    hosts: string[];
    ports?: { number: number; name: string; protocol?: string; targetPort?: number }[];
    location?: string;
    resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
    endpoints?: {
      address?: string;
      ports?: Record<string, number>;
      labels?: Record<string, string>;
      weight?: number;
    }[];
  };
}

/** The validated spec (see @weft/model's authorization-policy schema). */
export interface AuthorizationPolicyIn {
  metadata: Meta;
  spec: {
    selector?: { matchLabels?: Record<string, string> };
    targetRef?: TargetRefIn;
    targetRefs?: TargetRefIn[];
    action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
    rules?: {
      from?: { source?: Record<string, string[] | undefined> }[];
      to?: { operation?: Record<string, string[] | undefined> }[];
      when?: { key: string; values?: string[]; notValues?: string[] }[];
    }[];
  };
}

export interface TargetRefIn {
  group?: string;
  kind: string;
  name: string;
}

export interface TranslateInput {
  version: number;
  virtualServices: VirtualServiceIn[];
  destinationRules: DestinationRuleIn[];
  gateways: GatewayIn[];
  /** Optional so that inputs built before the kind existed stay valid. */
  authorizationPolicies?: AuthorizationPolicyIn[];
  instances: Instance[];
  /**
   * The same instances grouped by service FQDN, when the caller keeps that grouping between
   * revisions (the control plane does: registry/instance-groups.ts). A group's array is a new
   * object whenever one of its instances changed, so the memo finds untouched services by
   * identity without reading `instances`. Absent: translate groups `instances` itself.
   */
  instanceGroups?: ReadonlyMap<string, readonly Instance[]>;
  serviceEntries?: ServiceEntryIn[];
  /**
   * What DNS gave for the names DNS ServiceEntries resolve (name -> IPv4 addresses). The
   * elected control plane resolves them and stores the answers, so translate stays pure and
   * every replica builds the same snapshot.
   */
  dnsAddresses?: Record<string, string[]>;
  peerAuthentications?: PeerAuthenticationIn[];
  /** The mesh CA's trust domain (default cluster.local), for endpoints' SPIFFE IDs. */
  trustDomain?: string;
}
