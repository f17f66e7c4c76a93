// Admission: config the control plane accepts must be config every proxy can apply, since a
// NACK after an accepted apply leaves the mesh on an old table with nobody told. The control
// plane never imports the proxy, so the check itself is handed in (`weft control` passes the
// proxy's compile step); here we build the snapshot the apply would produce and say where in
// the applied files a rejected snapshot field came from.

import {
  parseFieldPath,
  toFqdn,
  type Snapshot,
  type SourcePosition,
  type Violation,
} from '@weft/model';
import type { LoadedResource } from '../sources/yaml.js';
import { dryRunOf } from '../translate/authorization.js';
import type { Meta, TranslateInput } from '../translate/input.js';

/**
 * Throws when some proxy would reject `snapshot`: an Error whose message names the snapshot
 * field (and `path`, when it has one), or one with `errors`, a list of such Errors, to report
 * several problems at once (the proxy's CompileErrors).
 */
export type Admit = (snapshot: Snapshot) => void;

type InputItem = { metadata: Meta; spec: unknown };

/**
 * The translate input after applying `loaded` on top of `base`: applied resources replace
 * stored ones of the same kind/namespace/name, new ones are the newest (translate's "oldest
 * wins" order puts them last, as the store's createRevision would).
 */
export function prospectiveInput(
  base: TranslateInput,
  loaded: readonly LoadedResource[],
): TranslateInput {
  const next = base.version + 1;
  const merge = <T extends InputItem>(items: readonly T[], kind: string): T[] => {
    const out = [...items];
    for (const [n, { resource: r }] of loaded.entries()) {
      if (r.kind !== kind) continue;
      const i = out.findIndex(
        (x) => x.metadata.name === r.metadata.name && x.metadata.namespace === r.metadata.namespace,
      );
      const metadata: Meta = {
        name: r.metadata.name,
        namespace: r.metadata.namespace,
        // New ones in file order, after everything stored.
        createRevision: i >= 0 ? (out[i]!.metadata.createRevision ?? next + n) : next + n,
        ...dryRunOf(r.metadata.annotations),
      };
      const item = { metadata, spec: r.spec } as T;
      if (i >= 0) out[i] = item;
      else out.push(item);
    }
    return out;
  };
  return {
    version: base.version,
    virtualServices: merge(base.virtualServices, 'VirtualService'),
    destinationRules: merge(base.destinationRules, 'DestinationRule'),
    gateways: merge(base.gateways, 'Gateway'),
    authorizationPolicies: merge(base.authorizationPolicies ?? [], 'AuthorizationPolicy'),
    instances: base.instances,
    serviceEntries: merge(base.serviceEntries ?? [], 'ServiceEntry'),
    ...(base.dnsAddresses ? { dnsAddresses: base.dnsAddresses } : {}),
    peerAuthentications: merge(base.peerAuthentications ?? [], 'PeerAuthentication'),
    ...(base.trustDomain !== undefined ? { trustDomain: base.trustDomain } : {}),
  };
}

/**
 * Runs `admit` on `snapshot`. Empty when every proxy would accept it; otherwise one error
 * Violation per compile error, whose message carries it and, when the snapshot field came from
 * one of the applied resources, that resource's file position.
 */
export function runAdmission(
  admit: Admit,
  snapshot: Snapshot,
  loaded: readonly LoadedResource[],
): Violation[] {
  try {
    admit(snapshot);
    return [];
  } catch (err) {
    const many = (err as { errors?: unknown } | null)?.errors;
    const errors = Array.isArray(many) && many.length > 0 ? (many as unknown[]) : [err];
    return errors.map((e) => toViolation(e, snapshot, loaded));
  }
}

function toViolation(err: unknown, snapshot: Snapshot, loaded: readonly LoadedResource[]) {
  const message = err instanceof Error ? err.message : String(err);
  const path = snapshotPathOf(err, message);
  const at = path === undefined ? undefined : locate(snapshot, path, loaded);
  return {
    severity: 'error' as const,
    field: at?.field ?? '',
    message: `proxies would reject the resulting snapshot: ${message}`,
    ...(at?.resource !== undefined ? { resource: at.resource } : {}),
    ...(at?.position !== undefined ? { position: at.position } : {}),
  };
}

/** The snapshot field a compile error names: CompileError.path, or the message's prefix. */
function snapshotPathOf(err: unknown, message: string): string | undefined {
  const p = (err as { path?: unknown } | null)?.path;
  if (typeof p === 'string' && p !== '') return p;
  const colon = message.indexOf(': ');
  return colon > 0 ? message.slice(0, colon) : undefined;
}

interface Located {
  resource?: string;
  field?: string;
  position?: SourcePosition;
}

/**
 * Snapshot field -> the resource it was translated from. Routes carry their VirtualService and
 * http index in their id; clusters their host and subset (a DestinationRule's); gateways
 * their name.
 */
export function locate(
  snapshot: Snapshot,
  path: string,
  loaded: readonly LoadedResource[],
): Located | undefined {
  const segs = parseFieldPath(path);
  if (!segs) return undefined;
  let node: unknown = snapshot;
  let route: { id?: unknown } | undefined;
  let cluster: { service?: unknown; subset?: unknown } | undefined;
  let gateway: { name?: unknown } | undefined;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (node === null || typeof node !== 'object') break;
    node = (node as Record<string | number, unknown>)[seg];
    const parent = segs[i - 1];
    if (typeof seg === 'number' && parent === 'routes') route = node as typeof route;
    if (typeof seg === 'number' && parent === 'clusters' && i === 1)
      cluster = node as typeof cluster;
    if (typeof seg === 'number' && parent === 'gateways' && i === 1)
      gateway = node as typeof gateway;
  }
  const find = (kind: string, ns: string, name: string) =>
    loaded.find(
      (l) =>
        l.resource.kind === kind &&
        l.resource.metadata.namespace === ns &&
        l.resource.metadata.name === name,
    );
  const at = (
    l: LoadedResource | undefined,
    kind: string,
    ns: string,
    name: string,
    f: string,
  ) => ({
    resource: `${kind} ${ns}/${name}`,
    field: f,
    ...(l?.positionOf?.(f) ? { position: l.positionOf(f)! } : {}),
  });

  const id = typeof route?.id === 'string' ? route.id : undefined;
  const m = id !== undefined ? /^([^/#]+)\/([^/#]+)#(\d+)$/.exec(id) : null;
  if (m) {
    const [, ns, name, http] = m as unknown as [string, string, string, string];
    return at(find('VirtualService', ns, name), 'VirtualService', ns, name, `spec.http[${http}]`);
  }
  if (cluster && typeof cluster.service === 'string') {
    const host = cluster.service;
    const dr = loaded.find(
      (l) =>
        l.resource.kind === 'DestinationRule' &&
        toFqdn(l.resource.spec.host, l.resource.metadata.namespace) === host,
    );
    if (!dr) return { field: '' };
    const { namespace, name } = dr.resource.metadata;
    let field = 'spec';
    if (typeof cluster.subset === 'string' && dr.resource.kind === 'DestinationRule') {
      const k = (dr.resource.spec.subsets ?? []).findIndex((s) => s.name === cluster.subset);
      if (k >= 0) field = `spec.subsets[${k}]`;
    } else if (dr.resource.kind === 'DestinationRule' && dr.resource.spec.trafficPolicy) {
      field = 'spec.trafficPolicy';
    }
    return at(dr, 'DestinationRule', namespace, name, field);
  }
  if (gateway && typeof gateway.name === 'string' && gateway.name.includes('/')) {
    const [ns, name] = gateway.name.split('/') as [string, string];
    return at(find('Gateway', ns, name), 'Gateway', ns, name, 'spec');
  }
  return undefined;
}
