// Which applied resources concern a service (the VirtualServices that name it as a host or a
// destination, the DestinationRules for it), with the warnings validation gives them.

import { toFqdn, validateResource, type ConfigRef } from '@weft/model';
import type { CachedResource } from '../control-plane.js';

function hostsOf(spec: unknown): string[] {
  const s = spec as {
    hosts?: unknown;
    host?: unknown;
    http?: { route?: { destination?: { host?: unknown } }[] }[];
  };
  const out: string[] = [];
  if (Array.isArray(s.hosts)) for (const h of s.hosts) if (typeof h === 'string') out.push(h);
  if (typeof s.host === 'string') out.push(s.host);
  for (const r of Array.isArray(s.http) ? s.http : [])
    for (const d of Array.isArray(r.route) ? r.route : [])
      if (typeof d.destination?.host === 'string') out.push(d.destination.host);
  return out;
}

export function configRefsFor(
  resources: readonly CachedResource[],
  service: string,
  namespace: string,
): ConfigRef[] {
  const fqdn = toFqdn(service, namespace);
  const refs: ConfigRef[] = [];
  for (const { resource } of resources) {
    const ns = resource.metadata.namespace;
    if (!hostsOf(resource.spec).some((h) => toFqdn(h, ns) === fqdn)) continue;
    const warnings = validateResource(resource)
      .violations.filter((v) => v.severity === 'warning')
      .map((v) => (v.field ? `${v.field}: ${v.message}` : v.message));
    refs.push({ kind: resource.kind, namespace: ns, name: resource.metadata.name, warnings });
  }
  return refs.sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
}
