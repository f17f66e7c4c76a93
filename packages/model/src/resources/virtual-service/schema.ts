// VirtualService, from istio/api networking/v1alpha3/virtual_service.proto. Oneofs are optional
// fields here; validate.ts checks how many of them are set.
import { z } from 'zod';
import {
  duration,
  int32,
  percentSchema,
  portNumber,
  portSelectorSchema,
  stringList,
  stringMap,
  stringMatchSchema,
  uint32,
} from '../fields.js';

export const destinationSchema = z.strictObject({
  host: z.string(),
  subset: z.string().optional(),
  port: portSelectorSchema.optional(),
});
export type Destination = z.infer<typeof destinationSchema>;

export const headerOperationsSchema = z.strictObject({
  set: stringMap.optional(),
  add: stringMap.optional(),
  remove: stringList.optional(),
});
export type HeaderOperations = z.infer<typeof headerOperationsSchema>;

/** Istio's `Headers` message. */
export const headerManipulationSchema = z.strictObject({
  request: headerOperationsSchema.optional(),
  response: headerOperationsSchema.optional(),
});
export type HeaderManipulation = z.infer<typeof headerManipulationSchema>;

const stringMatchMap = z.record(z.string(), stringMatchSchema);

export const httpMatchRequestSchema = z.strictObject({
  name: z.string().optional(),
  uri: stringMatchSchema.optional(),
  scheme: stringMatchSchema.optional(),
  method: stringMatchSchema.optional(),
  authority: stringMatchSchema.optional(),
  headers: stringMatchMap.optional(),
  port: portNumber.optional(),
  sourceLabels: stringMap.optional(),
  gateways: stringList.optional(),
  queryParams: stringMatchMap.optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: stringMatchMap.optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.infer<typeof httpMatchRequestSchema>;

export const httpRouteDestinationSchema = z.strictObject({
  destination: destinationSchema,
  weight: int32.optional(),
  headers: headerManipulationSchema.optional(),
});
export type HTTPRouteDestination = z.infer<typeof httpRouteDestinationSchema>;

export const routeDestinationSchema = z.strictObject({
  destination: destinationSchema,
  weight: int32.optional(),
});
export type RouteDestination = z.infer<typeof routeDestinationSchema>;

export const httpRedirectSchema = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  // oneof redirect_port { port | derivePort }
  port: portNumber.optional(),
  derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
  scheme: z.string().optional(),
  redirectCode: uint32.optional(),
  prefixRewrite: z.string().optional(),
});
export type HTTPRedirect = z.infer<typeof httpRedirectSchema>;

export const httpDirectResponseSchema = z.strictObject({
  status: uint32,
  // oneof specifier { string | bytes }; bytes are base64 in protobuf JSON.
  body: z
    .strictObject({
      string: z.string().optional(),
      bytes: z.string().optional(),
    })
    .optional(),
});
export type HTTPDirectResponse = z.infer<typeof httpDirectResponseSchema>;

export const delegateSchema = z.strictObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
});
export type Delegate = z.infer<typeof delegateSchema>;

export const httpRewriteSchema = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: z
    .strictObject({
      match: z.string(),
      rewrite: z.string(),
    })
    .optional(),
});
export type HTTPRewrite = z.infer<typeof httpRewriteSchema>;

export const httpRetrySchema = z.strictObject({
  attempts: int32.optional(),
  perTryTimeout: duration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: duration.optional(),
});
export type HTTPRetry = z.infer<typeof httpRetrySchema>;

export const corsPolicySchema = z.strictObject({
  /** Deprecated in Istio in favour of allowOrigins. */
  allowOrigin: stringList.optional(),
  allowOrigins: z.array(stringMatchSchema).optional(),
  allowMethods: stringList.optional(),
  allowHeaders: stringList.optional(),
  exposeHeaders: stringList.optional(),
  maxAge: duration.optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});
export type CorsPolicy = z.infer<typeof corsPolicySchema>;

export const httpFaultInjectionSchema = z.strictObject({
  delay: z
    .strictObject({
      // oneof http_delay_type { fixedDelay | exponentialDelay }
      fixedDelay: duration.optional(),
      exponentialDelay: duration.optional(),
      percentage: percentSchema.optional(),
      /** Deprecated integer percentage. */
      percent: int32.optional(),
    })
    .optional(),
  abort: z
    .strictObject({
      // oneof error_type { httpStatus | grpcStatus | http2Error }
      httpStatus: int32.optional(),
      grpcStatus: z.string().optional(),
      http2Error: z.string().optional(),
      percentage: percentSchema.optional(),
    })
    .optional(),
});
export type HTTPFaultInjection = z.infer<typeof httpFaultInjectionSchema>;

export const httpMirrorPolicySchema = z.strictObject({
  destination: destinationSchema,
  percentage: percentSchema.optional(),
});
export type HTTPMirrorPolicy = z.infer<typeof httpMirrorPolicySchema>;

export const httpRouteSchema = z.strictObject({
  name: z.string().optional(),
  match: z.array(httpMatchRequestSchema).optional(),
  route: z.array(httpRouteDestinationSchema).optional(),
  redirect: httpRedirectSchema.optional(),
  directResponse: httpDirectResponseSchema.optional(),
  delegate: delegateSchema.optional(),
  rewrite: httpRewriteSchema.optional(),
  timeout: duration.optional(),
  retries: httpRetrySchema.optional(),
  fault: httpFaultInjectionSchema.optional(),
  mirror: destinationSchema.optional(),
  mirrors: z.array(httpMirrorPolicySchema).optional(),
  /** Deprecated integer percentage. */
  mirrorPercent: uint32.optional(),
  mirrorPercentage: percentSchema.optional(),
  corsPolicy: corsPolicySchema.optional(),
  headers: headerManipulationSchema.optional(),
});
export type HTTPRoute = z.infer<typeof httpRouteSchema>;

export const tlsMatchAttributesSchema = z.strictObject({
  sniHosts: stringList.optional(),
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceLabels: stringMap.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});
export type TLSMatchAttributes = z.infer<typeof tlsMatchAttributesSchema>;

export const l4MatchAttributesSchema = z.strictObject({
  destinationSubnets: stringList.optional(),
  port: portNumber.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: stringMap.optional(),
  gateways: stringList.optional(),
  sourceNamespace: z.string().optional(),
});
export type L4MatchAttributes = z.infer<typeof l4MatchAttributesSchema>;

export const tlsRouteSchema = z.strictObject({
  match: z.array(tlsMatchAttributesSchema).optional(),
  route: z.array(routeDestinationSchema).optional(),
});
export type TLSRoute = z.infer<typeof tlsRouteSchema>;

export const tcpRouteSchema = z.strictObject({
  match: z.array(l4MatchAttributesSchema).optional(),
  route: z.array(routeDestinationSchema).optional(),
});
export type TCPRoute = z.infer<typeof tcpRouteSchema>;

export const virtualServiceSpecSchema = z.strictObject({
  hosts: stringList.optional(),
  gateways: stringList.optional(),
  http: z.array(httpRouteSchema).optional(),
  tls: z.array(tlsRouteSchema).optional(),
  tcp: z.array(tcpRouteSchema).optional(),
  exportTo: stringList.optional(),
});
export type VirtualServiceSpec = z.infer<typeof virtualServiceSpecSchema>;
