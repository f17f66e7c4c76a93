// Errors the proxy makes itself carry an Envoy-style response flag on the wire and a stable
// WEFT_ERR_* code in logs and bodies, so nobody mistakes them for the application's errors.

export const ResponseFlag = {
  /** No route matched the request (or no virtual host for its Host). */
  NoRoute: 'NR',
  /** The route names a cluster that does not exist (e.g. a subset no DestinationRule defines). */
  NoCluster: 'NC',
  /** The cluster has no healthy endpoint. */
  NoHealthyUpstream: 'UH',
  /** Connecting to the upstream failed. */
  UpstreamConnectionFailure: 'UF',
  /** The upstream reset the connection before the response was complete. */
  UpstreamRemoteReset: 'UR',
  /** The route timeout expired. */
  UpstreamRequestTimeout: 'UT',
  /** Retries were exhausted. */
  UpstreamRetryLimitExceeded: 'URX',
  /** A circuit breaker (connection pool limit) rejected the request. */
  UpstreamOverflow: 'UO',
  /** The downstream request was malformed. */
  DownstreamProtocolError: 'DPE',
  /** Fault injection answered the request without calling the upstream. */
  FaultInjected: 'FI',
  /** Fault injection delayed the request. */
  DelayInjected: 'DI',
  /** Weft's own: a retry was skipped because the cluster's retry budget was spent (telemetry only). */
  RetryBudgetExhausted: 'RBX',
  /** An AuthorizationPolicy denied the request (Envoy's RBAC filter). */
  RbacDenied: 'RBAC',
} as const;
export type ResponseFlag = (typeof ResponseFlag)[keyof typeof ResponseFlag];

export const ErrorCode = {
  NoRoute: 'WEFT_ERR_NO_ROUTE',
  NoCluster: 'WEFT_ERR_NO_CLUSTER',
  NoHealthyUpstream: 'WEFT_ERR_NO_HEALTHY_UPSTREAM',
  UpstreamConnect: 'WEFT_ERR_UPSTREAM_CONNECT',
  UpstreamReset: 'WEFT_ERR_UPSTREAM_RESET',
  UpstreamTimeout: 'WEFT_ERR_UPSTREAM_TIMEOUT',
  /** A circuit breaker (DestinationRule connectionPool limit) refused the request. */
  UpstreamOverflow: 'WEFT_ERR_UPSTREAM_OVERFLOW',
  BadRequest: 'WEFT_ERR_BAD_REQUEST',
  NoSnapshot: 'WEFT_ERR_NO_SNAPSHOT',
  RbacDenied: 'WEFT_ERR_RBAC_DENIED',
  /** 431: the header block, or the number of headers, is over the listener's limit. */
  HeadersTooLarge: 'WEFT_ERR_HEADERS_TOO_LARGE',
  /** 414: the request target is longer than the listener's limit. */
  UriTooLong: 'WEFT_ERR_URI_TOO_LONG',
  /** 413: the request body is bigger than the listener's limit. */
  BodyTooLarge: 'WEFT_ERR_BODY_TOO_LARGE',
  /** 408: the request's headers (or all of it) did not arrive in time. */
  RequestTimeout: 'WEFT_ERR_REQUEST_TIMEOUT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Response header naming the proxy that produced an error response, and its flag. */
export const PROXY_ERROR_HEADER = 'x-weft-error';
export const PROXY_ID_HEADER = 'x-weft-proxy';
