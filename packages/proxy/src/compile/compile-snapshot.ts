// Snapshot -> RouteTable. Pure apart from the health tracker it is handed (whose records
// the new table shares with the old one). Anything it cannot compile throws a CompileError
// naming the field, and the caller NACKs the snapshot and keeps its current table.

import { effectivePeerMode } from '@weft/model';
import type {
  EffectiveMode,
  Cluster,
  DirectResponseAction,
  MatchBlock,
  ProxyNode,
  RedirectAction,
  Route,
  RouteAction,
  Snapshot,
  VirtualHost,
  WeightedDestination,
} from '@weft/model';
import { createEndpointLoadTracker, type EndpointLoadTracker } from '../lb/endpoint-load.js';
import { checkConsistentHash, compileHashPolicy } from '../lb/hash-policy.js';
import { createClusterLoadBalancer } from '../lb/registry.js';
import type { EndpointState } from '../lb/types.js';
import type { HealthTracker } from '../outlier/health-tracker.js';
import {
  at,
  CompileError,
  CompileErrors,
  compileErrorsOf,
  mapAll,
} from '../routing/compile-error.js';
import { createHostTable } from '../routing/host-table.js';
import { compileMatchBlocks } from '../routing/match-block.js';
import { sourceMismatch } from '../routing/source-match.js';
import { compileGateways } from './gateway.js';
import { compileAuthorization } from '../filters/authz/index.js';
import { compileRouteFilters } from '../filters/index.js';
import { compileMirrors } from '../filters/mirror/index.js';
import { compileHeaderOps } from './header-ops.js';
import { compileSniHostCheck } from './sni-host.js';
import { compileRetryPolicy } from './retry-policy.js';
import { compileClusterPolicy, createClusterStates, type ClusterStates } from './cluster-policy.js';
import { compileUriRegexRewrite } from './rewrite.js';
import {
  indexPortClusters,
  resolveDestinationClusters,
  type PortClusters,
} from './port-clusters.js';
import type {
  CompiledAction,
  CompiledDestination,
  CompiledRoute,
  CompiledVirtualHost,
  RouteTable,
  RuntimeCluster,
} from './types.js';

export interface CompileOptions {
  node: ProxyNode;
  /** Shared across compiles so that ejections survive snapshot swaps. */
  health: HealthTracker;
  /** Shared across compiles so that in-flight counts, latency and warm-up survive swaps. */
  load?: EndpointLoadTracker;
  /** Shared across compiles: circuit-breaker counts and retry budgets per cluster name. */
  clusterStates?: ClusterStates;
  /** When endpoints new to `load` count as first seen (slow start); 0 when not given. */
  now?: number;
  /** The gateway's HTTPS listener port, for httpsRedirect Locations (443 when not given). */
  httpsRedirectPort?: number | undefined;
  /**
   * Admission: compile every cluster, virtual host and route even after one failed, and throw
   * all their errors together (CompileErrors). A proxy applying a snapshot stops at the first.
   */
  allErrors?: boolean;
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

export function compileSnapshot(snapshot: Snapshot, opts: CompileOptions): RouteTable {
  if (typeof snapshot !== 'object' || snapshot === null) {
    throw new CompileError('', 'the snapshot is not an object');
  }
  if (!Number.isFinite(snapshot.version)) throw new CompileError('version', 'must be a number');
  const warnings: string[] = [];
  const warn = (msg: string) => void warnings.push(msg);

  const all = opts.allErrors === true;
  const errors: CompileError[] = [];
  /** Without allErrors, runs `fn`; with it, keeps its errors and goes on (undefined). */
  const section = <T>(fn: () => T): T | undefined => {
    if (!all) return fn();
    try {
      return fn();
    } catch (err) {
      errors.push(...compileErrorsOf(err));
      return undefined;
    }
  };

  const load = opts.load ?? createEndpointLoadTracker();
  const now = opts.now ?? 0;
  const states = opts.clusterStates ?? createClusterStates();
  const clusters = new Map<string, RuntimeCluster>();
  const endpointKeys = new Set<string>();
  for (const [i, c] of list(snapshot.clusters, 'clusters').entries()) {
    const rc = section(() =>
      at(`clusters[${i}]`, () => compileCluster(c, opts.health, load, now, states)),
    );
    if (rc === undefined) continue;
    if (clusters.has(rc.name)) {
      section(() => {
        throw new CompileError(`clusters[${i}].name`, `duplicate cluster "${rc.name}"`);
      });
      continue;
    }
    clusters.set(rc.name, rc);
    for (const e of rc.endpoints) endpointKeys.add(e.key);
  }

  const ctx: VhostContext = {
    clusters,
    portClusters: indexPortClusters(clusters.values()),
    byRequestPort: true,
    warn,
    all,
    node: opts.node,
  };

  const mesh = section(() =>
    at('mesh', () => {
      if (typeof snapshot.mesh !== 'object' || snapshot.mesh === null)
        throw new Error('must be an object');
      const vhosts = mapAll(
        list(snapshot.mesh.virtualHosts, 'virtualHosts'),
        (i) => `virtualHosts[${i}]`,
        (vh) => ({ domains: domainsOf(vh), value: compileVirtualHost(vh, ctx) }),
        all,
      );
      return buildHostTable(vhosts, 'mesh', warn);
    }),
  );

  const gw = section(() =>
    compileGateways(list(snapshot.gateways, 'gateways'), {
      node: opts.node,
      httpsRedirectPort: opts.httpsRedirectPort,
      warn,
      // A gateway's listener port is not a destination port (port-clusters.ts).
      compileVirtualHost: (vh) => compileVirtualHost(vh, { ...ctx, byRequestPort: false }),
      allErrors: all,
    }),
  );
  if (errors.length > 0 || mesh === undefined || gw === undefined) throw new CompileErrors(errors);

  const authz = compileAuthorization(snapshot.authorization, {
    node: opts.node,
    gateways: gw.names,
  });
  const inboundMode = at('security', () => compileInboundMode(snapshot.security, opts.node));

  return {
    version: snapshot.version,
    inboundMode,
    gateway: gw.plain,
    gatewayTls: gw.tls,
    tlsServers: gw.tlsServers,
    sniHostCheck: compileSniHostCheck(gw.tlsServers),
    mesh,
    clusters,
    gateways: gw.names,
    endpointKeys,
    health: opts.health,
    warnings,
    authz,
    snapshot,
    node: opts.node,
  };
}

interface VhostContext {
  clusters: ReadonlyMap<string, RuntimeCluster>;
  /** DestinationRule portLevelSettings clusters (port-clusters.ts). */
  portClusters: PortClusters;
  /** Sidecar outbound: a destination without a port goes by the request's port. */
  byRequestPort: boolean;
  warn: (msg: string) => void;
  /** CompileOptions.allErrors */
  all: boolean;
  /** The proxy compiling: match blocks whose sourceLabels do not select it are left out. */
  node: ProxyNode;
}

function buildHostTable(
  entries: Array<{ domains: string[]; value: CompiledVirtualHost }>,
  which: string,
  warn: (msg: string) => void,
) {
  const { table, duplicates } = createHostTable(entries);
  for (const d of duplicates)
    warn(`${which}: domain "${d}" is claimed by more than one virtual host; the first wins`);
  return table;
}

function compileCluster(
  c: Cluster,
  health: HealthTracker,
  load: EndpointLoadTracker,
  now: number,
  states: ClusterStates,
): RuntimeCluster {
  if (typeof c !== 'object' || c === null) throw new Error('must be an object');
  if (typeof c.name !== 'string' || c.name === '')
    throw new CompileError('name', 'must be a non-empty string');
  const endpoints: EndpointState[] = list(c.endpoints, 'endpoints').map((e, i) =>
    at(`endpoints[${i}]`, () => {
      if (typeof e.address !== 'string' || e.address === '') {
        throw new CompileError('address', 'must be a non-empty string');
      }
      if (!Number.isInteger(e.port) || e.port <= 0 || e.port > 65535) {
        throw new CompileError('port', `${String(e.port)} is not a port number`);
      }
      const weight = e.weight ?? 1;
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
        throw new CompileError('weight', `${String(weight)} must be a number > 0`);
      }
      const key = endpointKey(e.address, e.port);
      return {
        id: typeof e.id === 'string' ? e.id : key,
        address: e.address,
        port: e.port,
        key,
        weight,
        healthy: e.healthy !== false,
        labels: e.labels ?? {},
        tlsIdentity: checkTlsIdentity(e.tlsIdentity),
        outlier: health.record(key),
        load: load.record(key, now),
      };
    }),
  );
  const hash = c.hash === undefined ? undefined : at('hash', () => checkConsistentHash(c.hash!));
  const warmupMs = c.warmupMs ?? 0;
  if (typeof warmupMs !== 'number' || !(warmupMs >= 0)) {
    throw new CompileError('warmupMs', `${String(warmupMs)} must be a number >= 0`);
  }
  const { algorithm, lb } = at('lb', () =>
    createClusterLoadBalancer(c.lb, endpoints, { hash, warmupMs }),
  );
  if (c.port !== undefined && (!Number.isInteger(c.port) || c.port <= 0 || c.port > 65535))
    throw new CompileError('port', `${String(c.port)} is not a port number`);
  return {
    name: c.name,
    service: typeof c.service === 'string' && c.service !== '' ? c.service : c.name,
    subset: c.subset,
    ...(c.port !== undefined ? { port: c.port } : {}),
    policy: c.lb,
    algorithm,
    endpoints,
    lb,
    hashPolicy: hash === undefined ? undefined : compileHashPolicy(hash),
    warmupMs,
    resilience: compileClusterPolicy(c, health.defaultPolicy, states),
  };
}

function checkTlsIdentity(id: unknown): string | undefined {
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || !id.startsWith('spiffe://'))
    throw new CompileError('tlsIdentity', 'must be a spiffe:// URI');
  return id;
}

/** This proxy's own PeerAuthentication mode (sidecars; a gateway has no mesh inbound). */
function compileInboundMode(security: Snapshot['security'], node: ProxyNode): EffectiveMode {
  if (security === undefined) return 'PERMISSIVE';
  const policies = list(security.peerAuthentications, 'peerAuthentications');
  return effectivePeerMode(policies, { namespace: node.namespace, labels: node.labels });
}

export function endpointKey(address: string, port: number): string {
  return address.includes(':') && !address.startsWith('[')
    ? `[${address}]:${port}`
    : `${address}:${port}`;
}

function domainsOf(vh: VirtualHost): string[] {
  return at('domains', () =>
    list(vh.domains, 'domains').map((d, i) => {
      if (typeof d !== 'string' || d === '')
        throw new CompileError(`[${i}]`, 'must be a non-empty string');
      return d.toLowerCase();
    }),
  );
}

function compileVirtualHost(vh: VirtualHost, ctx: VhostContext): CompiledVirtualHost {
  if (typeof vh !== 'object' || vh === null) throw new Error('must be an object');
  const routes = mapAll(
    list(vh.routes, 'routes'),
    (i) => `routes[${i}]`,
    (r) => compileRoute(r, ctx),
    ctx.all,
  );
  return { name: typeof vh.name === 'string' ? vh.name : '', routes };
}

function compileRoute(r: Route, ctx: VhostContext): CompiledRoute {
  if (typeof r !== 'object' || r === null) throw new Error('must be an object');
  const blocks = blocksForProxy(list(r.matches ?? [], 'matches'), ctx.node);
  const action = at('action', () => compileAction(r, ctx));
  const response = compileHeaderOps(
    [{ path: 'headers.response', ops: r.headers?.response }],
    'response',
    ctx.warn,
  );
  const filters = compileRouteFilters(r);
  return filters === undefined
    ? { id: String(r.id), name: r.name, blocks, action, response }
    : { id: String(r.id), name: r.name, blocks, action, response, filters };
}

/**
 * The route's compiled blocks that apply to this proxy (routing/source-match.ts). Every block
 * is compiled, so that a bad one is an error on every proxy. A route whose blocks all select
 * other proxies gets none and never matches (it is not a catch-all).
 */
function blocksForProxy(matches: readonly MatchBlock[], node: ProxyNode) {
  const compiled = compileMatchBlocks(matches);
  if (!matches.some((m) => m.sourceLabels !== undefined || m.sourceNamespace !== undefined))
    return compiled;
  const kept = [];
  for (let i = 0; i < compiled.length; i++) {
    if (sourceMismatch(matches[i]!, node) !== undefined) continue;
    kept.push(kept.length === i ? compiled[i]! : { ...compiled[i]!, sourceIndex: i });
  }
  return kept;
}

function compileAction(r: Route, ctx: VhostContext): CompiledAction {
  const a = r.action;
  if (typeof a !== 'object' || a === null) throw new Error('must be an object');
  switch (a.type) {
    case 'route':
      return compileForward(r, a, ctx);
    case 'redirect':
      return compileRedirect(a);
    case 'direct':
      return compileDirect(a);
    default:
      throw new CompileError(
        'type',
        `unknown action type "${String((a as { type: unknown }).type)}"`,
      );
  }
}

function compileForward(r: Route, a: RouteAction, ctx: VhostContext): CompiledAction {
  const given = list(a.destinations, 'destinations');
  if (given.length === 0)
    throw new CompileError('destinations', 'a route needs at least one destination');
  for (const [i, d] of given.entries()) {
    if (typeof d !== 'object' || d === null)
      throw new CompileError(`destinations[${i}]`, 'must be an object');
    if (typeof d.weight !== 'number' || !Number.isFinite(d.weight) || d.weight < 0) {
      throw new CompileError(
        `destinations[${i}].weight`,
        `${String(d.weight)} must be a number >= 0`,
      );
    }
    if (typeof d.cluster !== 'string' || d.cluster === '') {
      throw new CompileError(`destinations[${i}].cluster`, 'must be a non-empty string');
    }
  }
  // Istio: one destination takes 100% whatever its weight; with several, weight 0 drops one.
  const kept = given.length === 1 ? given : given.filter((d) => d.weight > 0);
  if (kept.length === 0) throw new CompileError('destinations', 'all weights are 0');
  const destinations = kept.map((d) => compileDestination(r, d, given.indexOf(d), a, ctx));
  const timeoutMs = a.timeoutMs ?? 0;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new CompileError('timeoutMs', `${String(timeoutMs)} must be a number >= 0`);
  }
  const retry = at('retries', () => compileRetryPolicy(a.retries));
  let rewriteUri: string | undefined;
  if (a.rewrite?.uri !== undefined) {
    rewriteUri = a.rewrite.uri;
    if (typeof rewriteUri !== 'string' || hasSpaceOrControl(rewriteUri)) {
      throw new CompileError(
        'rewrite.uri',
        'must be a string without spaces or control characters',
      );
    }
  }
  const regex = a.rewrite?.uriRegex;
  const rewriteRegex =
    regex === undefined
      ? undefined
      : at('rewrite.uriRegex', () => {
          if (typeof regex.match !== 'string' || typeof regex.rewrite !== 'string')
            throw new Error('match and rewrite must be strings');
          // It becomes part of the request line: a space would split it.
          if (hasSpaceOrControl(regex.rewrite))
            throw new CompileError('rewrite', 'must not contain spaces or control characters');
          return compileUriRegexRewrite(regex.match, regex.rewrite);
        });
  const mirrors = at('', () =>
    compileMirrors(mirrorsByPort(a.mirrors, ctx), ctx.clusters, (msg) =>
      ctx.warn(`route ${String(r.id)}: ${msg}`),
    ),
  );
  return {
    type: 'route',
    destinations,
    pick: createDestinationPicker(destinations),
    timeoutMs,
    retry,
    rewriteUri,
    // Set only when used, so that plain routes keep the shape they always had.
    ...(rewriteRegex !== undefined
      ? { rewriteRegex, rewriteRegexSource: { match: regex!.match, rewrite: regex!.rewrite } }
      : {}),
    ...(mirrors !== undefined ? { mirrors } : {}),
  };
}

function compileDestination(
  r: Route,
  d: WeightedDestination,
  index: number,
  a: RouteAction,
  ctx: VhostContext,
): CompiledDestination {
  const path = `destinations[${index}]`;
  const request = compileHeaderOps(
    [
      { path: 'headers.request', ops: r.headers?.request },
      { path: `${path}.headers.request`, ops: d.headers?.request },
    ],
    'request',
    ctx.warn,
  );
  const rewriteAuthority = a.rewrite?.authority;
  if (
    rewriteAuthority !== undefined &&
    (typeof rewriteAuthority !== 'string' || rewriteAuthority === '')
  ) {
    throw new CompileError('rewrite.authority', 'must be a non-empty string');
  }
  const response = compileHeaderOps(
    [
      { path: 'headers.response', ops: r.headers?.response },
      { path: `${path}.headers.response`, ops: d.headers?.response },
    ],
    'response',
    ctx.warn,
  );
  const port = typeof d.port === 'number' ? d.port : undefined;
  return {
    ...resolveDestinationClusters(
      d.cluster,
      port,
      ctx.clusters,
      ctx.portClusters,
      ctx.byRequestPort,
    ),
    host: typeof d.host === 'string' ? d.host : d.cluster,
    weight: d.weight,
    // rewrite.authority wins over a Host set through header ops.
    request:
      rewriteAuthority !== undefined && rewriteAuthority !== request.authority
        ? { ...request, authority: rewriteAuthority }
        : request,
    response,
  };
}

/** A mirror that names a port goes to that port's cluster, when the rule has one. */
function mirrorsByPort(mirrors: RouteAction['mirrors'], ctx: VhostContext): RouteAction['mirrors'] {
  if (mirrors === undefined || ctx.portClusters.size === 0 || !Array.isArray(mirrors))
    return mirrors;
  return mirrors.map((m) => {
    const own =
      typeof m?.port === 'number' ? ctx.portClusters.get(m.cluster)?.get(m.port) : undefined;
    return own === undefined ? m : { ...m, cluster: own.name };
  });
}

/** Cumulative weights; one destination costs nothing per request. */
export function createDestinationPicker(
  destinations: readonly CompiledDestination[],
): (random: () => number) => CompiledDestination {
  const only = destinations[0]!;
  if (destinations.length === 1) return () => only;
  const bounds = new Float64Array(destinations.length);
  let total = 0;
  destinations.forEach((d, i) => {
    total += d.weight;
    bounds[i] = total;
  });
  const last = destinations[destinations.length - 1]!;
  return (random) => {
    const r = random() * total;
    for (let i = 0; i < bounds.length; i++) if (r < bounds[i]!) return destinations[i]!;
    return last;
  };
}

function compileRedirect(a: RedirectAction): CompiledAction {
  const code = a.code ?? 301;
  if (!REDIRECT_CODES.has(code)) {
    throw new CompileError(
      'code',
      `${String(code)} is not a redirect code Istio generates (301, 302, 303, 307, 308)`,
    );
  }
  for (const f of ['uri', 'authority', 'scheme'] as const) {
    const v = a[f];
    if (v !== undefined && (typeof v !== 'string' || v === '' || hasSpaceOrControl(v))) {
      throw new CompileError(f, 'must be a non-empty string without spaces or control characters');
    }
  }
  if (a.port !== undefined && (!Number.isInteger(a.port) || a.port <= 0 || a.port > 65535)) {
    throw new CompileError('port', `${String(a.port)} is not a port number`);
  }
  const { prefixRewrite, derivePort } = a;
  if (
    prefixRewrite !== undefined &&
    (typeof prefixRewrite !== 'string' || hasSpaceOrControl(prefixRewrite))
  ) {
    throw new CompileError(
      'prefixRewrite',
      'must be a string without spaces or control characters',
    );
  }
  if (
    derivePort !== undefined &&
    derivePort !== 'FROM_PROTOCOL_DEFAULT' &&
    derivePort !== 'FROM_REQUEST_PORT'
  ) {
    throw new CompileError('derivePort', `unknown value ${JSON.stringify(derivePort)}`);
  }
  return {
    type: 'redirect',
    code,
    uri: a.uri,
    authority: a.authority,
    scheme: a.scheme?.toLowerCase(),
    port: a.port,
    ...(prefixRewrite !== undefined ? { prefixRewrite } : {}),
    ...(derivePort !== undefined ? { derivePort } : {}),
  };
}

function compileDirect(a: DirectResponseAction): CompiledAction {
  if (!Number.isInteger(a.status) || a.status < 200 || a.status > 599) {
    throw new CompileError('status', `${String(a.status)} is not a final HTTP status`);
  }
  if (a.body !== undefined && typeof a.body !== 'string')
    throw new CompileError('body', 'must be a string');
  return { type: 'direct', status: a.status, body: Buffer.from(a.body ?? '', 'utf8') };
}

/** Request-line and Location material: a space or control character would split the message. */
function hasSpaceOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

function list<T>(v: T[] | undefined, field: string): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new CompileError(field, 'must be an array');
  return v;
}
