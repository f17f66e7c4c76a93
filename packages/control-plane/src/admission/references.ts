// References between resources that may be satisfied later (a DestinationRule applied next,
// a service that has not registered yet). They are legal, so they are warnings, but each is a
// request that fails at run time until then, so a person should hear about it at apply time,
// with the file position of the reference.

import { toFqdn, type Destination, type Violation } from '@weft/model';
import type { LoadedResource } from '../sources/yaml.js';
import type { TranslateInput } from '../translate/input.js';

export interface ReferenceOptions {
  /**
   * `weft analyze`: only the files are known, no registry; messages say "in these files".
   * Live (the control plane's apply): stored resources and registered instances count too.
   */
  offline: boolean;
}

/**
 * Warnings for the references of `loaded` resources that nothing in `input` (the whole
 * prospective configuration, applied resources included) satisfies.
 */
export function referenceWarnings(
  loaded: readonly LoadedResource[],
  input: TranslateInput,
  opts: ReferenceOptions,
): Violation[] {
  const where = opts.offline ? 'in these files' : 'in the mesh';
  const gateways = new Set(input.gateways.map((g) => `${g.metadata.namespace}/${g.metadata.name}`));
  const vsHosts = new Set<string>();
  for (const vs of input.virtualServices)
    for (const h of vs.spec.hosts ?? []) vsHosts.add(toFqdn(h, vs.metadata.namespace));
  const subsets = new Map<string, Set<string>>();
  for (const dr of input.destinationRules) {
    const host = toFqdn(dr.spec.host, dr.metadata.namespace);
    const set = subsets.get(host) ?? new Set<string>();
    for (const s of dr.spec.subsets ?? []) set.add(s.name);
    subsets.set(host, set);
  }
  const services = new Set(input.instances.map((i) => toFqdn(i.service, i.namespace)));
  // A ServiceEntry's hosts are destinations too.
  for (const se of input.serviceEntries ?? [])
    for (const h of se.spec.hosts) services.add(toFqdn(h, se.metadata.namespace));

  const out: Violation[] = [];
  for (const l of loaded) {
    const r = l.resource;
    if (r.kind !== 'VirtualService') continue;
    const ns = r.metadata.namespace;
    const label = `VirtualService ${ns}/${r.metadata.name}`;
    const warn = (field: string, message: string) => {
      const position = l.positionOf?.(field);
      out.push({
        severity: 'warning',
        field,
        message,
        resource: label,
        ...(position ? { position } : {}),
      });
    };

    (r.spec.gateways ?? []).forEach((g, k) => {
      if (g === 'mesh') return;
      const full = g.includes('/') ? g : `${ns}/${g}`;
      if (!gateways.has(full))
        warn(
          `spec.gateways[${k}]`,
          `Gateway ${full} is not defined ${where}; the routes bound to it serve no gateway until it is`,
        );
    });

    const checkDestination = (d: Destination, field: string) => {
      const host = toFqdn(d.host, ns);
      // Wildcard and external hosts are not services Weft resolves; nothing to check yet.
      if (host.startsWith('*')) return;
      const known = vsHosts.has(host) || subsets.has(host) || services.has(host);
      if (!known) {
        warn(
          `${field}.host`,
          opts.offline
            ? `host ${host} is not known in these files: no VirtualService or DestinationRule names it (fine if the service registers with the mesh; until then requests get 503 NC)`
            : `host ${host} is not known in the mesh: no instance has registered and no VirtualService or DestinationRule names it; requests get 503 NC until one registers`,
        );
      }
      if (d.subset !== undefined && !subsets.get(host)?.has(d.subset)) {
        warn(
          `${field}.subset`,
          `subset "${d.subset}" of ${host} is defined by no DestinationRule ${where}; requests routed to it get 503 NC`,
        );
      }
    };
    (r.spec.http ?? []).forEach((rule, i) => {
      const base = `spec.http[${i}]`;
      (rule.route ?? []).forEach((rd, j) =>
        checkDestination(rd.destination, `${base}.route[${j}].destination`),
      );
      if (rule.mirror) checkDestination(rule.mirror, `${base}.mirror`);
      (rule.mirrors ?? []).forEach((m, j) =>
        checkDestination(m.destination, `${base}.mirrors[${j}].destination`),
      );
    });
  }
  return out;
}
