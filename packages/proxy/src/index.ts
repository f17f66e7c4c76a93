export { startGateway, type GatewayOptions, type RunningGateway } from './run/gateway.js';
export { startSidecar, type SidecarOptions, type RunningSidecar } from './run/sidecar.js';
export { connectSnapshotStream } from './client/stream.js';
export { createDataPlane, type DataPlane } from './data-plane.js';
export { listen } from './server/listen.js';
export { createInboundHandler } from './server/inbound.js';
export { createRequestHandler } from './server/request-handler.js';
export { compileSnapshot } from './compile/compile-snapshot.js';
export { summarizeRouteTable } from './compile/summarize.js';
export { subscribeAccessLog } from './telemetry/access-log.js';
export { CHANNEL_NAMES } from './telemetry/channels.js';
export type { LogFn } from './telemetry/log.js';
export { checkSnapshot } from './compile/check.js';
export { CompileError } from './routing/compile-error.js';
export * from './explain/index.js';
export {
  createTracing,
  parseSamplingPercent,
  tracesUrl,
  SPAN_EXPORT_CHANNEL,
  DEFAULT_TRACE_SAMPLING_PERCENT,
  type SpanExportEvent,
  type Tracing,
  type TracingFlags,
} from './telemetry/tracing/index.js';
export { createProxyMetrics, type ProxyMetrics } from './telemetry/metrics.js';
export { startAdminServer, type AdminServer } from './admin/server.js';
export { parseStatusFilter, type TapRecord } from './telemetry/tap.js';
export { ISTIO_LABEL_NAMES } from './telemetry/istio-labels.js';
export {
  compileAuthorization,
  evaluateAuthorization,
  type AuthzDecision,
  type AuthzRequest,
  type CompiledAuthz,
} from './filters/authz/index.js';
export { DEFAULT_LIMITS, type ListenerLimits } from './server/limits.js';
export { peerIdentity, isMutualTls } from './tls/peer-identity.js';
export type { ControlCredentials } from './tls/control-client.js';
export type { WorkloadCertificateSource, WorkloadCertificate } from './tls/workload-certificate.js';
