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

/** What Weft's gateway listener speaks today. */
const WEFT_PROTOCOLS = new Set(['HTTP']);

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
        `protocol ${protocol} is not supported by Weft yet; only HTTP servers are served`,
      );
    }
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
