// The structured answer to "what would the proxy do with this request, and why": plain JSON,
// so `weft explain -o json` prints it as is and tests compare it field by field.

import type { CorsConfig, FaultPolicy, HeaderRules, MirrorPolicy } from '@weft/model';

export type ExplainListener = 'gateway' | 'sidecar-outbound';

export interface RouteTrace {
  /** Position of the route in its virtual host. */
  index: number;
  /** `<namespace>/<vs-name>#<http index>`, or `default` for a service's implicit route. */
  id: string;
  name?: string;
  /** The VirtualService rule the route came from, when the id names one. */
  virtualService?: { namespace: string; name: string; http: number };
  /** One line per match block: what the block asks for. */
  conditions: string[];
  matched: boolean;
  /** Index of the block that matched (0 for a route without `match`). */
  block?: number;
  /** For a route that did not match: each failing field, `match[0].uri: prefix "/a" ...`. */
  failures: string[];
}

export interface EndpointTrace {
  id: string;
  /** `address:port` */
  address: string;
  weight: number;
  /** What the instance reported (its app's probe). */
  healthy: boolean;
  /** Taken out of rotation by this proxy after connection failures. */
  ejected: boolean;
}

export interface DestinationTrace {
  host: string;
  subset?: string;
  port?: number;
  cluster: string;
  weight: number;
  /** Share of requests, 0-100. */
  percent: number;
  /** False when the snapshot has no such cluster: requests that pick it get 503 NC. */
  clusterFound: boolean;
  /** The DestinationRule's policy and the algorithm the proxy runs for it. */
  lb?: { policy: string; algorithm: string };
  endpoints: EndpointTrace[];
  /** Endpoints the load balancer would choose from now (healthy, not ejected; all if panic). */
  eligible: number;
  headers?: HeaderRules;
}

export interface ForwardTrace {
  type: 'route';
  destinations: DestinationTrace[];
  /** 0 = no route timeout. */
  timeoutMs: number;
  retries: {
    /** Tries after the first one. */
    attempts: number;
    perTryTimeoutMs: number;
    retryOn: string[];
    /** True when the route sets no `retries` and Istio's default applies. */
    isDefault: boolean;
  };
  rewrite?: { uri?: string; authority?: string; uriRegex?: { match: string; rewrite: string } };
  headers?: HeaderRules;
  fault?: FaultPolicy;
  mirrors?: MirrorPolicy[];
  cors?: CorsConfig;
}

export interface RedirectTrace {
  type: 'redirect';
  code: number;
  location: string;
}

export interface DirectTrace {
  type: 'direct';
  status: number;
  body?: string;
}

export interface ExplainOutcome {
  /** `forward` when the request goes upstream; otherwise the proxy answers itself. */
  kind: 'forward' | 'local';
  status?: number;
  /** Envoy-style response flag of a proxy-made error (NR, NC, UH). */
  flag?: string;
  message: string;
}

export interface ExplainTrace {
  /** Snapshot version the answer is about. */
  version: number;
  listener: ExplainListener;
  /** Gateway view: the Gateways the explaining proxy serves. */
  gateways?: string[];
  /** Sidecar view: the service whose sidecar sends the request (informational for now). */
  from?: string;
  request: {
    method: string;
    authority: string;
    path: string;
    query: string;
    scheme: string;
    port: number;
  };
  virtualHost?: {
    name: string;
    /** The domain entry that selected it: the host itself, `*.suffix` or `*`. */
    domain: string;
  };
  /** The routes tried, in order, up to and including the one that matched. */
  routes: RouteTrace[];
  /** Index into `routes` of the matching route. */
  matched?: number;
  action?: ForwardTrace | RedirectTrace | DirectTrace;
  outcome: ExplainOutcome;
}
