// explain: what a proxy would do with one request, and why. Pure: it takes a snapshot (or a
// table compiled from one) and a request, and returns a trace. The decisions come from the
// compiled table with the same calls the request handler makes (host table lookup, then
// findMatchingBlock route by route), so explain cannot pick another route than the proxy;
// the snapshot only supplies the words (match blocks, fault, mirrors, CORS).

import { retryPolicyFor } from '../compile/retry-policy.js';
import { clusterForPort } from '../compile/port-clusters.js';
import type { HostTable } from '../routing/host-table.js';
import { authorityPort, normalizeHost } from '../routing/host-table.js';
import { clusterName } from '@weft/model';
import type {
  GatewayConfig,
  ProxyNode,
  Route,
  RouteAction,
  Snapshot,
  VirtualHost,
} from '@weft/model';
import { compileSnapshot } from '../compile/compile-snapshot.js';
import { redirectLocation } from '../compile/rewrite.js';
import type {
  CompiledDestination,
  CompiledRoute,
  CompiledVirtualHost,
  ForwardAction,
  RouteTable,
} from '../compile/types.js';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { findMatchingBlock } from '../routing/match-block.js';
import { createRequestView, type RequestView } from '../routing/request-view.js';
import type {
  DestinationTrace,
  ExplainListener,
  ExplainOutcome,
  ExplainTrace,
  ForwardTrace,
  RouteTrace,
} from './types.js';
import { describeBlock, whyBlocksFail } from './why-not.js';

/** The labels `weft gateway` runs with unless told otherwise (Istio's ingress gateway). */
export const DEFAULT_GATEWAY_LABELS: Readonly<Record<string, string>> = {
  istio: 'ingressgateway',
};

export interface ExplainInput {
  method: string;
  /**
   * `http://host[:port]/path?query` or `/path?query`. A `host` header, when given, wins over
   * the URL's host, as with curl (`curl -H 'Host: my-service' http://127.0.0.1:8080/user`).
   */
  url: string;
  headers?: Readonly<Record<string, string>>;
}

export type ExplainView =
  /** The gateway serving Gateway `gateway` (its selector as labels), or one with `labels`. */
  | { kind: 'gateway'; gateway?: string; labels?: Readonly<Record<string, string>> }
  /**
   * The outbound listener of a sidecar next to `from` (`name` or `name.namespace`). Its labels,
   * which decide sourceLabels: `app: name`, those every instance of the service registered
   * (from the snapshot's endpoints), then `labels`, which pick one kind of instance.
   */
  | { kind: 'sidecar'; from?: string; labels?: Readonly<Record<string, string>> };

export interface ExplainOptions {
  view: ExplainView;
  /** For ejection state; explain never reads the clock itself. */
  now?: number;
}

/** Compiles `snapshot` as the proxy of `view` would, then explains the request against it. */
export function explainRequest(
  snapshot: Snapshot,
  input: ExplainInput,
  opts: ExplainOptions,
): ExplainTrace {
  const node = nodeFor(snapshot, opts.view);
  const table = compileSnapshot(snapshot, { node, health: createHealthTracker() });
  const gateway = opts.view.kind === 'gateway';
  const { view, rawAuthority } = requestViewOf(input, gateway);
  return explainTable(table, view, {
    listener: gateway ? 'gateway' : 'sidecar-outbound',
    now: opts.now ?? 0,
    rawAuthority,
    ...(opts.view.kind === 'sidecar' && opts.view.from !== undefined
      ? { from: opts.view.from }
      : {}),
  });
}

export interface ExplainTableOptions {
  listener: ExplainListener;
  now: number;
  /** The Host as sent (port included), for redirect locations; defaults to the view's. */
  rawAuthority?: string;
  from?: string;
}

/** Explains a request against a compiled table: what the proxy holding `table` does. */
export function explainTable(
  table: RouteTable,
  view: RequestView,
  opts: ExplainTableOptions,
): ExplainTrace {
  const gateway = opts.listener === 'gateway';
  const trace: ExplainTrace = {
    version: table.version,
    listener: opts.listener,
    ...(gateway ? { gateways: [...table.gateways] } : {}),
    ...(opts.from !== undefined ? { from: opts.from } : {}),
    request: {
      method: view.method,
      authority: view.authority,
      path: view.path,
      query: view.query,
      scheme: view.scheme,
      port: view.port,
    },
    routes: [],
    outcome: { kind: 'local', message: '' },
  };
  // A gateway's HTTPS listener serves the hosts of its TLS servers, the plain one the rest.
  const hosts = gateway ? (view.scheme === 'https' ? table.gatewayTls : table.gateway) : table.mesh;
  // The same lookup the request handler makes; domainOf only names the entry that won.
  const vhost = hosts.lookup(view.authority);
  if (vhost === undefined) {
    trace.outcome = local(
      404,
      'NR',
      `no virtual host serves host ${JSON.stringify(view.authority)}${
        gateway && table.gateways.length === 0
          ? ' (this gateway serves no Gateway: check the Gateway selector and --gateway)'
          : ''
      }`,
    );
    return trace;
  }
  trace.virtualHost = { name: vhost.name, domain: domainOf(hosts, view.authority, vhost) };
  const sources = sourceRoutes(table.snapshot);

  let matched: CompiledRoute | undefined;
  for (let i = 0; i < vhost.routes.length; i++) {
    const route = vhost.routes[i]!;
    const block = findMatchingBlock(route.blocks, view);
    const source = sources.get(sourceKey(vhost.name, route.id)) ?? sources.get(route.id);
    const rt: RouteTrace = {
      index: i,
      id: route.id,
      ...(route.name !== undefined ? { name: route.name } : {}),
      ...vsOf(route.id),
      conditions:
        source === undefined
          ? []
          : source.matches.length === 0
            ? ['any request']
            : source.matches.map(describeBlock),
      matched: block >= 0,
      failures: [],
    };
    if (block >= 0) {
      rt.block = route.blocks[block]!.sourceIndex ?? block;
      trace.routes.push(rt);
      trace.matched = trace.routes.length - 1;
      matched = route;
      break;
    }
    rt.failures =
      source === undefined
        ? ['(no source snapshot to say why)']
        : whyBlocksFail(source.matches, view, table.node).map(
            (f) => `match[${f.block}].${f.field}: ${f.reason}`,
          );
    trace.routes.push(rt);
  }
  if (matched === undefined) {
    trace.outcome = local(404, 'NR', `no route of ${vhost.name} matched`);
    return trace;
  }

  const source = sources.get(sourceKey(vhost.name, matched.id)) ?? sources.get(matched.id);
  const action = matched.action;
  if (action.type === 'direct') {
    const body = action.body.toString('utf8');
    trace.action = { type: 'direct', status: action.status, ...(body !== '' ? { body } : {}) };
    trace.outcome = { kind: 'local', status: action.status, message: 'direct response' };
    return trace;
  }
  if (action.type === 'redirect') {
    const location = redirectLocation(action, {
      scheme: view.scheme,
      host: opts.rawAuthority ?? view.authority,
      path: view.path,
      query: view.query,
    });
    trace.action = { type: 'redirect', code: action.code, location };
    trace.outcome = { kind: 'local', status: action.code, message: `redirect to ${location}` };
    return trace;
  }
  const fwd = forwardTrace(action, source, opts.now, view.method, view.port);
  trace.action = fwd;
  trace.outcome = forwardOutcome(fwd);
  return trace;
}

function forwardTrace(
  a: ForwardAction,
  source: Route | undefined,
  now: number,
  method: string,
  port: number,
): ForwardTrace {
  // Weft's default retry conditions depend on the method: show the ones this request gets.
  const retry = retryPolicyFor(a.retry, method);
  const total = a.destinations.reduce((s, d) => s + d.weight, 0);
  const srcAction: RouteAction | undefined =
    source?.action.type === 'route' ? source.action : undefined;
  const out: ForwardTrace = {
    type: 'route',
    destinations: a.destinations.map((d) => destinationTrace(d, total, srcAction, now, port)),
    timeoutMs: a.timeoutMs,
    retries: {
      attempts: retry.retries,
      perTryTimeoutMs: retry.perTryTimeoutMs,
      retryOn: [...retry.conditions],
      isDefault: srcAction !== undefined && srcAction.retries === undefined,
    },
  };
  if (srcAction?.rewrite !== undefined) out.rewrite = { ...srcAction.rewrite };
  if (source?.headers !== undefined) out.headers = source.headers;
  if (source?.fault !== undefined) out.fault = source.fault;
  if (srcAction?.mirrors !== undefined && srcAction.mirrors.length > 0)
    out.mirrors = srcAction.mirrors;
  if (source?.cors !== undefined) out.cors = source.cors;
  return out;
}

function destinationTrace(
  d: CompiledDestination,
  total: number,
  src: RouteAction | undefined,
  now: number,
  port: number,
): DestinationTrace {
  // The request's port may pick a portLevelSettings cluster, as in the request handler.
  const c = clusterForPort(d, port);
  // The snapshot names the portless cluster; a port cluster stands beside it.
  const portless = c?.port === undefined ? d.clusterName : clusterName(c.service, c.subset);
  const given = src?.destinations.find(
    (x) => x.cluster === d.clusterName || x.cluster === portless,
  );
  const endpoints = (c?.endpoints ?? []).map((e) => ({
    id: e.id,
    address: e.key,
    weight: e.weight,
    healthy: e.healthy,
    ejected: now < e.outlier.ejectedUntil,
  }));
  const healthy = endpoints.filter((e) => e.healthy);
  const rotation = healthy.filter((e) => !e.ejected);
  const out: DestinationTrace = {
    host: d.host,
    cluster: c?.name ?? d.clusterName,
    weight: d.weight,
    percent: total > 0 ? Math.round((d.weight / total) * 1000) / 10 : 100,
    clusterFound: c !== undefined,
    endpoints,
    // Every endpoint ejected: the balancer uses them all anyway (panic mode, lb/eligibility).
    eligible: rotation.length > 0 ? rotation.length : healthy.length,
  };
  const subset = given?.subset ?? c?.subset;
  if (subset !== undefined) out.subset = subset;
  if (given?.port !== undefined) out.port = given.port;
  if (c !== undefined) out.lb = { policy: c.policy, algorithm: c.algorithm };
  if (given?.headers !== undefined) out.headers = given.headers;
  return out;
}

function forwardOutcome(f: ForwardTrace): ExplainOutcome {
  const share = (ds: DestinationTrace[]) =>
    Math.round(ds.reduce((s, d) => s + d.percent, 0) * 10) / 10;
  const missing = f.destinations.filter((d) => !d.clusterFound);
  const empty = f.destinations.filter((d) => d.clusterFound && d.eligible === 0);
  const abort = f.fault?.abort;
  const notes: string[] = [];
  if (abort !== undefined)
    notes.push(`fault injection aborts ${abort.percent}% with ${abort.httpStatus}`);
  if (f.fault?.delay !== undefined)
    notes.push(
      `fault injection delays ${f.fault.delay.percent}% by ${f.fault.delay.fixedDelayMs} ms`,
    );
  const tail = notes.length > 0 ? `; ${notes.join('; ')}` : '';
  const ok = f.destinations.filter((d) => d.clusterFound && d.eligible > 0);
  if (ok.length === 0) {
    const why: string[] = [];
    if (missing.length > 0)
      why.push(
        `cluster ${missing.map((d) => d.cluster).join(', ')} is not in the configuration (a subset no DestinationRule defines, or a host with no known instance)`,
      );
    if (empty.length > 0)
      why.push(`no healthy endpoint in ${empty.map((d) => d.cluster).join(', ')}`);
    return local(503, missing.length > 0 ? 'NC' : 'UH', `${why.join('; ')}${tail}`);
  }
  const parts: string[] = [];
  if (missing.length > 0)
    parts.push(
      `${share(missing)}% of requests pick ${missing.map((d) => d.cluster).join(', ')}, which is not in the configuration (503 NC)`,
    );
  if (empty.length > 0)
    parts.push(
      `${share(empty)}% of requests pick ${empty.map((d) => d.cluster).join(', ')}, which has no healthy endpoint (503 UH)`,
    );
  const to = ok.map((d) => `${d.cluster} (${d.eligible} endpoint${d.eligible === 1 ? '' : 's'})`);
  return {
    kind: 'forward',
    message: `forwarded to ${to.join(' or ')}${parts.length > 0 ? `; ${parts.join('; ')}` : ''}${tail}`,
  };
}

function local(status: number, flag: string, message: string): ExplainOutcome {
  return { kind: 'local', status, flag, message };
}

/** The domain entry of `hosts` that selects `host` (the lookup itself is the table's). */
function domainOf(
  hosts: HostTable<CompiledVirtualHost>,
  host: string,
  found: CompiledVirtualHost,
): string {
  if (hosts.exact.get(host) === found) return host;
  for (let i = host.indexOf('.', 1); i > 0; i = host.indexOf('.', i + 1)) {
    if (hosts.wildcards.get(host.slice(i)) === found) return `*${host.slice(i)}`;
  }
  return '*';
}

function vsOf(id: string): Pick<RouteTrace, 'virtualService'> {
  const m = /^([^/#]+)\/([^/#]+)#(\d+)$/.exec(id);
  if (!m) return {};
  return { virtualService: { namespace: m[1]!, name: m[2]!, http: Number(m[3]) } };
}

function sourceKey(vhost: string, routeId: string): string {
  return `${vhost}\u0000${routeId}`;
}

const sourceCache = new WeakMap<Snapshot, Map<string, Route>>();

/** Snapshot routes by virtual host and id (and by id alone, for merged gateway hosts). */
function sourceRoutes(snapshot: Snapshot | undefined): Map<string, Route> {
  if (snapshot === undefined) return new Map();
  const cached = sourceCache.get(snapshot);
  if (cached !== undefined) return cached;
  const out = new Map<string, Route>();
  const add = (vhs: readonly VirtualHost[] | undefined) => {
    for (const vh of vhs ?? []) {
      for (const r of vh.routes ?? []) {
        out.set(sourceKey(vh.name, r.id), r);
        if (!out.has(r.id)) out.set(r.id, r);
      }
    }
  };
  add(snapshot.mesh?.virtualHosts);
  for (const g of snapshot.gateways ?? []) add(g.virtualHosts);
  sourceCache.set(snapshot, out);
  return out;
}

/** The proxy identity explain compiles the snapshot as. */
export function nodeFor(snapshot: Snapshot, view: ExplainView): ProxyNode {
  if (view.kind === 'sidecar') {
    if (view.from === undefined) {
      return {
        id: 'weft-explain',
        role: 'sidecar',
        namespace: 'default',
        labels: { ...view.labels },
      };
    }
    const [name, namespace = 'default'] = view.from.split('.') as [string, string?];
    return {
      id: 'weft-explain',
      role: 'sidecar',
      namespace,
      labels: { app: name, ...sharedInstanceLabels(snapshot, name, namespace), ...view.labels },
      service: view.from,
    };
  }
  let labels: Record<string, string> = { ...(view.labels ?? DEFAULT_GATEWAY_LABELS) };
  if (view.gateway !== undefined) {
    const gw = findGateway(snapshot.gateways, view.gateway);
    if (gw === undefined) {
      const known = snapshot.gateways.map((g) => g.name);
      throw new Error(
        `no Gateway ${JSON.stringify(view.gateway)} in the configuration${
          known.length > 0 ? ` (there are: ${known.join(', ')})` : ' (there is none)'
        }`,
      );
    }
    labels = { ...gw.selector };
  }
  return { id: 'weft-explain', role: 'gateway', namespace: 'default', labels };
}

/** Labels that every registered instance of the service has (a sidecar has them all). */
function sharedInstanceLabels(
  snapshot: Snapshot,
  name: string,
  namespace: string,
): Record<string, string> {
  const fqdn = `${name}.${namespace}.svc.cluster.local`;
  const cluster = (snapshot.clusters ?? []).find((c) => c.service === fqdn && !c.subset);
  const eps = cluster?.endpoints ?? [];
  if (eps.length === 0) return {};
  const out: Record<string, string> = { ...eps[0]!.labels };
  for (const e of eps.slice(1)) {
    for (const [k, v] of Object.entries(out)) if (e.labels?.[k] !== v) delete out[k];
  }
  return out;
}

function findGateway(gws: readonly GatewayConfig[], name: string): GatewayConfig | undefined {
  const full = name.includes('/') ? name : `default/${name}`;
  return (
    gws.find((g) => g.name === full) ?? gws.find((g) => g.name.split('/')[1] === name) ?? undefined
  );
}

/** A RequestView for an explain request, split the way the proxy splits a request target. */
export function requestViewOf(
  input: ExplainInput,
  gateway: boolean,
): { view: RequestView; rawAuthority: string } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  let scheme = 'http';
  let urlAuthority: string | undefined;
  let target = input.url;
  const sep = input.url.indexOf('://');
  if (!input.url.startsWith('/') && sep > 0) {
    scheme = input.url.slice(0, sep).toLowerCase();
    let end = sep + 3;
    while (end < input.url.length && !'/?#'.includes(input.url[end]!)) end++;
    urlAuthority = input.url.slice(sep + 3, end);
    const at = urlAuthority.lastIndexOf('@');
    if (at >= 0) urlAuthority = urlAuthority.slice(at + 1);
    const rest = input.url.slice(end);
    target = rest === '' || rest.startsWith('#') ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
  } else if (!input.url.startsWith('/')) {
    throw new Error(
      `${JSON.stringify(input.url)} is neither a URL (http://host/path) nor a path (/path)`,
    );
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const rawAuthority = headers.host ?? urlAuthority;
  if (rawAuthority === undefined)
    throw new Error(`a path needs a host: give a full URL or -H 'Host: NAME'`);
  headers.host = rawAuthority;
  const q = target.indexOf('?');
  const defaultPort = scheme === 'https' ? 443 : 80;
  // On a gateway a match `port` is the listener's port: the one the URL connects to.
  const port = gateway
    ? authorityPort(urlAuthority ?? rawAuthority, defaultPort)
    : authorityPort(rawAuthority, defaultPort);
  const view = createRequestView({
    method: input.method.toUpperCase(),
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    authority: normalizeHost(rawAuthority),
    scheme,
    port,
    headers,
  });
  return { view, rawAuthority };
}
