// Checks on a Gateway beyond its schema, after istio/istio pkg/config/validation/validation.go
// (validateGateway, validateServer, validateServerPort).
import { checkHost, isDns1123Label, type FieldPath, type Report } from '../checks.js';
import type { GatewaySpec } from './schema.js';

/** Protocols Istio accepts on a gateway port, upper-cased (Istio compares case-insensitively). */
const PROTOCOLS = new Set([
  'HTTP',
  'HTTPS',
  'GRPC',
  'GRPC-WEB',
  'HTTP2',
  'MONGO',
  'REDIS',
  'MYSQL',
  'TCP',
  'TLS',
]);

/** What Weft's gateway listeners speak: plain HTTP, and HTTPS terminated with SIMPLE TLS. */
const WEFT_PROTOCOLS = new Set(['HTTP', 'HTTPS']);

/** Istio's protocol.IsHTTP() and IsTLS(), for the TLS-settings rules of validateServer. */
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);

export function validateGateway(spec: GatewaySpec, report: Report): GatewaySpec {
  const at: FieldPath = ['spec'];
  if (spec.servers.length === 0)
    report.error([...at, 'servers'], 'at least one server is required');
  const portNames = new Map<string, number>();
  spec.servers.forEach((server, i) => {
    const path = [...at, 'servers', i];
    const protocol = server.port.protocol.toUpperCase();
    if (!PROTOCOLS.has(protocol)) {
      report.error(
        [...path, 'port', 'protocol'],
        `unknown protocol "${server.port.protocol}"; expected one of ${[...PROTOCOLS].join(', ')}`,
      );
    } else if (!WEFT_PROTOCOLS.has(protocol)) {
      report.warning(
        [...path, 'port', 'protocol'],
        `protocol ${protocol} is not supported by Weft yet; only HTTP and HTTPS servers are served`,
      );
    }
    if (PROTOCOLS.has(protocol)) checkServerTls(server, protocol, path, report);
    const name = server.port.name;
    if (name !== undefined && name !== '') {
      const first = portNames.get(name);
      if (first !== undefined) {
        report.error(
          [...path, 'port', 'name'],
          `duplicate port name "${name}" (also spec.servers[${first}]); port names must be unique`,
        );
      } else {
        portNames.set(name, i);
      }
    }
    if (server.hosts.length === 0)
      report.error([...path, 'hosts'], 'at least one host is required');
    server.hosts.forEach((h, j) => checkServerHost(h, [...path, 'hosts', j], report));
  });
  return spec;
}

/**
 * Istio's rules (validateServer, validateTLSOptions) plus what Weft serves: SIMPLE TLS from
 * certificate files. A server Weft cannot terminate gets a warning, and proxies skip it.
 */
function checkServerTls(
  server: GatewaySpec['servers'][number],
  protocol: string,
  path: FieldPath,
  report: Report,
): void {
  const tls = server.tls;
  const at: FieldPath = [...path, 'tls'];
  if (TLS_PROTOCOLS.has(protocol)) {
    if (tls === undefined) {
      report.error(at, `required: a server with protocol ${protocol} must have TLS settings`);
      return;
    }
  } else {
    if (tls === undefined) return;
    // Only httpsRedirect may be set on a plain-text port (Istio: a PASSTHROUGH server, the
    // default mode, without certificates).
    const plain =
      (tls.mode ?? 'PASSTHROUGH') === 'PASSTHROUGH' &&
      !tls.serverCertificate &&
      !tls.privateKey &&
      !tls.caCertificates;
    if (!plain) {
      report.error(
        at,
        HTTP_PROTOCOLS.has(protocol)
          ? 'a plain-text HTTP server cannot have TLS settings other than httpsRedirect; use protocol HTTPS to terminate TLS'
          : `a ${protocol} server cannot have TLS settings; only HTTPS and TLS servers can`,
      );
    }
    return;
  }
  const mode = tls.mode ?? 'PASSTHROUGH';
  const credentials = tls.credentialName !== undefined || tls.credentialNames !== undefined;
  const files = tls.serverCertificate !== undefined || tls.privateKey !== undefined;
  for (const field of ['credentialName', 'credentialNames'] as const) {
    if (tls[field] === undefined) continue;
    report.warning(
      [...at, field],
      'Weft reads certificate files (serverCertificate, privateKey), not Kubernetes secrets; ignored' +
        (mode === 'SIMPLE' && !files ? ', so this server is not served' : ''),
    );
  }
  if (mode === 'SIMPLE') {
    if (credentials) return;
    for (const field of ['serverCertificate', 'privateKey'] as const) {
      if (!tls[field])
        report.error(
          [...at, field],
          'required with mode SIMPLE: the PEM file Weft reads (credentialName is not supported)',
        );
    }
  } else if (protocol === 'HTTPS') {
    report.warning(
      [...at, 'mode'],
      mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL'
        ? `mode ${mode} is not supported by Weft yet (client certificates); this server is not served`
        : `mode ${mode}${tls.mode === undefined ? ' (the default)' : ''} is not supported by Weft; only SIMPLE is, so this server is not served`,
    );
  }
}

/** Server hosts are `[namespace/]dnsName`, the namespace being `*`, `.` or a name. */
function checkServerHost(host: string, path: FieldPath, report: Report): void {
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const ns = host.slice(0, slash);
    if (ns !== '*' && ns !== '.' && !isDns1123Label(ns.toLowerCase())) {
      report.error(
        path,
        `invalid namespace "${ns}" in host "${host}": expected "*", "." or a name`,
      );
    }
  }
  checkHost(host.slice(slash + 1), path, report, { ip: true });
}
