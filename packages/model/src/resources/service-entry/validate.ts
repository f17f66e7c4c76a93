// Checks on a ServiceEntry beyond its schema, after istio/istio pkg/config/validation
// (ValidateServiceEntry), and what Weft serves of it: HTTP to STATIC endpoints or to the
// addresses DNS gives for the hosts (or for the endpoints' names).
import { checkHost, isDns1123Label, isIp, type FieldPath, type Report } from '../checks.js';
import type { ServiceEntrySpec } from './schema.js';

export function validateServiceEntry(spec: ServiceEntrySpec, report: Report): ServiceEntrySpec {
  const at: FieldPath = ['spec'];
  const resolution = spec.resolution ?? 'NONE';
  if (spec.hosts.length === 0) report.error([...at, 'hosts'], 'at least one host is required');
  spec.hosts.forEach((h, i) => {
    checkHost(h, [...at, 'hosts', i], report);
    if (h.startsWith('*') && resolution !== 'NONE')
      report.error(
        [...at, 'hosts', i],
        `wildcard host "${h}" needs resolution NONE (Istio): there is nothing to resolve`,
      );
  });
  const ports = spec.ports ?? [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (!isDns1123Label(p.name.toLowerCase()) && p.name !== '')
      report.error([...at, 'ports', i, 'name'], `invalid port name "${p.name}"`);
    if (names.has(p.name))
      report.error([...at, 'ports', i, 'name'], `duplicate port name "${p.name}"`);
    names.add(p.name);
    const protocol = (p.protocol ?? 'HTTP').toUpperCase();
    if (!['HTTP', 'HTTP2', 'GRPC', ''].includes(protocol))
      report.warning(
        [...at, 'ports', i, 'protocol'],
        `protocol ${protocol} is not supported by Weft; its traffic is proxied as HTTP`,
      );
  });
  if (ports.length === 0 && resolution !== 'NONE')
    report.error([...at, 'ports'], 'at least one port is required');
  if (ports.length > 1)
    report.warning(
      [...at, 'ports'],
      `Weft routes to one port per host: ${ports[0]?.name} (${ports[0]?.number}) is used, the others are ignored`,
    );
  const endpoints = spec.endpoints ?? [];
  if (resolution === 'NONE')
    report.warning(
      [...at, 'resolution'],
      `resolution ${spec.resolution ?? 'NONE (the default)'} (pass-through to the original destination) is not supported by Weft; this entry gives no route`,
    );
  if (resolution === 'STATIC') {
    if (endpoints.length === 0 && spec.workloadSelector === undefined)
      report.error([...at, 'endpoints'], 'resolution STATIC needs endpoints');
    endpoints.forEach((e, i) => {
      if (e.address === undefined || e.address === '')
        report.error([...at, 'endpoints', i, 'address'], 'required with resolution STATIC');
      else if (!isIp(e.address) && !e.address.startsWith('unix://'))
        report.error(
          [...at, 'endpoints', i, 'address'],
          `"${e.address}" is not an IP address; with resolution STATIC endpoints are IPs (use DNS for names)`,
        );
    });
  }
  if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN')
    endpoints.forEach((e, i) => {
      if (e.address !== undefined && e.address !== '')
        checkHost(e.address, [...at, 'endpoints', i, 'address'], report, { ip: true });
    });
  endpoints.forEach((e, i) => {
    for (const name of Object.keys(e.ports ?? {}))
      if (!names.has(name))
        report.error(
          [...at, 'endpoints', i, 'ports', name],
          `no port named "${name}" in spec.ports`,
        );
  });
  if (spec.workloadSelector !== undefined)
    report.warning(
      [...at, 'workloadSelector'],
      'selecting registered workloads is not supported by Weft; use endpoints',
    );
  return spec;
}
