// Istio's standard metric labels, worked out from what a proxy knows: its own node (service,
// namespace, labels) and, for the far side, the cluster and the endpoint's labels in the
// snapshot, the peer's verified certificate and the metadata it sent (peer-metadata.ts). Pure and computed once per series (cached by the
// metrics module), never per request. Every value comes from configuration, registration or a
// small fixed set (status codes, response flags): never from a path, a header or a query, so
// no label can take unbounded values.

import type { ProxyNode } from '@weft/model';
import type { ProxyKind } from './channels.js';

/** Istio's label names, in the order Istio's stats filter emits them. */
export const ISTIO_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

export type IstioLabels = Record<(typeof ISTIO_LABEL_NAMES)[number], string>;

export const UNKNOWN = 'unknown';

/** Who is on one side of a request, as Istio's peer metadata describes a workload. */
export interface Workload {
  workload: string;
  namespace: string;
  principal: string;
  app: string;
  version: string;
  canonicalService: string;
  canonicalRevision: string;
  cluster: string;
}

export const UNKNOWN_WORKLOAD: Workload = {
  workload: UNKNOWN,
  namespace: UNKNOWN,
  principal: UNKNOWN,
  app: UNKNOWN,
  version: UNKNOWN,
  canonicalService: UNKNOWN,
  canonicalRevision: 'latest',
  cluster: UNKNOWN,
};

/**
 * A workload from its labels. Istio names the workload after the Deployment
 * (`reviews-v1`); Weft has no Deployments, so the workload is the app and its version
 * (`order-v1`), or the service alone. Canonical names follow Istio's label precedence.
 */
export function workloadOf(
  labels: Readonly<Record<string, string>>,
  fallbackName: string,
  namespace: string,
): Workload {
  const app = labels.app ?? labels['app.kubernetes.io/name'] ?? fallbackName;
  const version = labels.version ?? labels['app.kubernetes.io/version'];
  return {
    workload: labels['weft.io/workload'] ?? (version === undefined ? app : `${app}-${version}`),
    namespace,
    // A peer's comes from its certificate (telemetry/peer-metadata.ts, metrics.ts).
    principal: UNKNOWN,
    app,
    version: version ?? UNKNOWN,
    canonicalService: labels['service.istio.io/canonical-name'] ?? app,
    canonicalRevision: labels['service.istio.io/canonical-revision'] ?? version ?? 'latest',
    cluster: labels['topology.istio.io/cluster'] ?? UNKNOWN,
  };
}

/**
 * The proxy's own workload. A gateway without an `app` label is Istio's ingress gateway
 * workload, named as Istio names it, so dashboards that pick the gateway by name find it.
 */
export function workloadOfNode(node: ProxyNode): Workload {
  if (node.role === 'gateway' && node.labels.app === undefined) {
    const name = node.labels.istio === 'ingressgateway' ? 'istio-ingressgateway' : 'weft-gateway';
    return workloadOf({ ...node.labels, app: name }, name, node.namespace);
  }
  return workloadOf(node.labels, node.service ?? node.id, node.namespace);
}

/** `reviews.prod.svc.cluster.local` -> name `reviews`, namespace `prod`. */
export function splitServiceHost(host: string): { name: string; namespace: string } {
  const parts = host.split('.');
  if (parts.length >= 2 && parts[2] === 'svc') return { name: parts[0]!, namespace: parts[1]! };
  // A host that is not a mesh service (a ServiceEntry's external name): Istio reports the
  // host as the name, and no namespace.
  return { name: host, namespace: UNKNOWN };
}

export interface ServiceRef {
  host: string;
  name: string;
  namespace: string;
}

export const UNKNOWN_SERVICE: ServiceRef = { host: UNKNOWN, name: UNKNOWN, namespace: UNKNOWN };

export function serviceOfNode(node: ProxyNode): ServiceRef {
  const name = node.service ?? UNKNOWN;
  return name === UNKNOWN
    ? UNKNOWN_SERVICE
    : { host: `${name}.${node.namespace}.svc.cluster.local`, name, namespace: node.namespace };
}

export interface SeriesInput {
  kind: ProxyKind;
  /** This proxy. */
  self: Workload;
  /** The other side: the destination endpoint (source reporter) or the caller (destination). */
  peer: Workload;
  service: ServiceRef;
  status: number;
  flags: string | undefined;
  mutualTls: boolean | undefined;
  peerPrincipal: string | undefined;
  /** gRPC request (content-type application/grpc), and its grpc-status (-1: none). */
  grpc?: boolean | undefined;
  grpcStatus?: number | undefined;
}

/**
 * One series' labels. The gateway and sidecar outbound report as `source` (the client side),
 * the sidecar inbound as `destination`, as Istio's proxies do.
 */
export function istioLabels(i: SeriesInput): IstioLabels {
  const destinationSide = i.kind === 'inbound';
  const source = destinationSide ? i.peer : i.self;
  const destination = destinationSide ? i.self : i.peer;
  const sourcePrincipal = destinationSide && i.peerPrincipal ? i.peerPrincipal : source.principal;
  return {
    reporter: destinationSide ? 'destination' : 'source',
    source_workload: source.workload,
    source_workload_namespace: source.namespace,
    source_principal: sourcePrincipal,
    source_app: source.app,
    source_version: source.version,
    source_canonical_service: source.canonicalService,
    source_canonical_revision: source.canonicalRevision,
    source_cluster: source.cluster,
    destination_workload: destination.workload,
    destination_workload_namespace: destination.namespace,
    destination_principal: destination.principal,
    destination_app: destination.app,
    destination_version: destination.version,
    destination_service: i.service.host,
    destination_service_name: i.service.name,
    destination_service_namespace: i.service.namespace,
    destination_canonical_service: destination.canonicalService,
    destination_canonical_revision: destination.canonicalRevision,
    destination_cluster: destination.cluster,
    // As Istio: "grpc" when the content-type says gRPC, else "http" (the wire is HTTP/1.1).
    request_protocol: i.grpc === true ? 'grpc' : 'http',
    response_code: String(i.status),
    // gRPC's 17 codes; anything else an upstream sends is not a label value.
    grpc_response_status:
      i.grpc === true && i.grpcStatus !== undefined && i.grpcStatus >= 0 && i.grpcStatus <= 16
        ? String(i.grpcStatus)
        : '',
    response_flags: i.flags ?? '-',
    // Istio: the destination side knows whether the connection was mTLS; the source side
    // says "unknown".
    connection_security_policy: destinationSide
      ? i.mutualTls === true
        ? 'mutual_tls'
        : 'none'
      : UNKNOWN,
  };
}
