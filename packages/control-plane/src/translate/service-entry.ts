// ServiceEntry -> endpoints per host. A STATIC entry's endpoints are its own addresses; a DNS
// entry's are the addresses DNS gave for each endpoint's name (or, without endpoints, for each
// host), which the elected control plane resolves and stores (see dns/resolver.ts). Each host
// becomes a cluster like a registered service's, so VirtualServices route to it and
// DestinationRules (load balancing, subsets by endpoint labels) apply to it.

import { toFqdn, type Endpoint } from '@weft/model';
import type { ServiceEntryIn } from './input.js';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

const isDns = (se: ServiceEntryIn) =>
  se.spec.resolution === 'DNS' || se.spec.resolution === 'DNS_ROUND_ROBIN';

/** The names DNS entries need resolved: endpoint addresses that are not IPs, or the hosts. */
export function dnsNamesOf(entries: readonly ServiceEntryIn[]): string[] {
  const names = new Set<string>();
  for (const se of entries) {
    if (!isDns(se) || (se.spec.ports ?? []).length === 0) continue;
    const eps = se.spec.endpoints ?? [];
    if (eps.length === 0) for (const h of se.spec.hosts) names.add(h.toLowerCase());
    for (const e of eps)
      if (e.address && !IPV4.test(e.address) && !e.address.includes(':'))
        names.add(e.address.toLowerCase());
  }
  return [...names].sort();
}

/** Endpoints of every ServiceEntry host, by FQDN; entries Weft cannot serve give none. */
export function serviceEntryEndpoints(
  entries: readonly ServiceEntryIn[],
  dns: Readonly<Record<string, string[]>>,
): Map<string, Endpoint[]> {
  const out = new Map<string, Endpoint[]>();
  for (const se of entries) {
    const port = se.spec.ports?.[0];
    const resolution = se.spec.resolution ?? 'NONE';
    if (!port || (resolution !== 'STATIC' && !isDns(se))) continue;
    const ns = se.metadata.namespace;
    const id = `${ns}/${se.metadata.name}`;
    const defaultPort = port.targetPort ?? port.number;
    const eps: Endpoint[] = [];
    const entryEndpoints = se.spec.endpoints ?? [];
    entryEndpoints.forEach((e, i) => {
      if (!e.address) return;
      const addresses =
        resolution === 'STATIC' || IPV4.test(e.address) || e.address.includes(':')
          ? [e.address]
          : (dns[e.address.toLowerCase()] ?? []);
      for (const address of addresses)
        eps.push({
          id:
            addresses.length === 1 && address === e.address
              ? `${id}#${i}`
              : `${id}#${i}@${address}`,
          address,
          port: e.ports?.[port.name] ?? defaultPort,
          labels: { ...(e.labels ?? {}) },
          healthy: true,
          weight: e.weight && e.weight > 0 ? e.weight : 1,
        });
    });
    for (const host of se.spec.hosts) {
      const fqdn = toFqdn(host, ns);
      let list = eps;
      // A DNS entry without endpoints sends each host to that host's own addresses.
      if (isDns(se) && entryEndpoints.length === 0)
        list = (dns[host.toLowerCase()] ?? []).map((address) => ({
          id: `${id}@${address}`,
          address,
          port: defaultPort,
          labels: {},
          healthy: true,
          weight: 1,
        }));
      out.set(fqdn, [...(out.get(fqdn) ?? []), ...list]);
    }
  }
  return out;
}
