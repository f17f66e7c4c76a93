// translate: resources + registered instances -> one immutable Snapshot. Pure and
// deterministic: the same input gives byte-identical JSON (golden tests rely on it), so the
// control plane can be replicated and any replica produces the same snapshot for a revision.

import {
  clusterName,
  hostAliases,
  parseDurationMs,
  serviceOf,
  toFqdn,
  type Cluster,
  type ConsistentHash,
  type CorsConfig,
  type Endpoint,
  type FaultPolicy,
  type GatewayConfig,
  type GatewayServer,
  type HeaderRules,
  type Instance,
  type LbPolicy,
  type MatchBlock,
  type MirrorPolicy,
  type Route,
  type Snapshot,
  type StringMatch,
  type VirtualHost,
  type WeightedDestination,
} from '@weft/model';
import { sameRefs, type ClusterMemoEntry, type TranslateMemo } from './memo.js';
import { serviceEntryEndpoints } from './service-entry.js';
import type {
  DestinationIn,
  DestinationRuleIn,
  GatewayIn,
  HeadersIn,
  HttpMatchIn,
  HttpRouteIn,
  LoadBalancerIn,
  Meta,
  PercentIn,
  StringMatchIn,
  TrafficPolicyIn,
  TranslateInput,
  VirtualServiceIn,
} from './input.js';
import { clusterPoliciesOf } from './cluster-policy.js';
import { portLevelPorts, portPolicy } from './port-level.js';
import { translateAuthorization } from './authorization.js';
import { endpointTlsIdentity, tlsModeOf, toPeerPolicies } from './security.js';

const MESH = 'mesh';
const LB_POLICIES: ReadonlySet<string> = new Set([
  'ROUND_ROBIN',
  'RANDOM',
  'LEAST_REQUEST',
  'PASSTHROUGH',
]);

/**
 * `memo` (optional) makes a re-translate incremental: unchanged services' clusters and default
 * routes come back from the previous run (see memo.ts). The output is the same without it.
 */
export function translate(input: TranslateInput, memo?: TranslateMemo): Snapshot {
  const vss = [...input.virtualServices].sort(byAge);
  const drs = indexDestinationRules(input.destinationRules);
  const entries = [...(input.serviceEntries ?? [])].sort(byAge);
  const external = serviceEntryEndpoints(entries, input.dnsAddresses ?? {});
  const byService = input.instanceGroups ?? groupByService(input.instances);
  const peerPolicies = toPeerPolicies(input.peerAuthentications ?? []);
  const clusters = buildClusters(byService, external, drs, memo, {
    identityOf: (i, drMode) => endpointTlsIdentity(i, drMode, peerPolicies, input.trustDomain),
    key: JSON.stringify([input.trustDomain, peerPolicies]),
  });

  const meshVs = vss.filter((vs) => boundGateways(vs).includes(MESH));
  const meshHosts = claimDomains(meshVs.map(toVirtualHost));
  // A service no VirtualService names still gets a route: all of its endpoints (Istio's default).
  const claimed = new Set(meshHosts.flatMap((v) => v.domains));
  // A default route depends only on its FQDN and the domains VirtualServices claim: while the
  // claims stay the same, each one comes back from the memo by FQDN, with no per-service work.
  const claims = [...claimed].sort().join(',');
  const reusable = memo !== undefined && memo.defaultHostsClaims === claims;
  const defaultHosts = new Map<string, VirtualHost>();
  for (const fqdn of [...new Set([...byService.keys(), ...external.keys()])].sort()) {
    const known = reusable ? memo.defaultHosts.get(fqdn) : undefined;
    if (known) {
      meshHosts.push(known);
      defaultHosts.set(fqdn, known);
      continue;
    }
    if (claimed.has(fqdn)) continue;
    const domains = hostAliases(fqdn).filter((d) => !claimed.has(d));
    const vh: VirtualHost = {
      name: `default|${fqdn}`,
      domains,
      routes: [
        {
          id: 'default',
          matches: [],
          action: {
            type: 'route',
            destinations: [{ cluster: clusterName(fqdn), weight: 1, host: fqdn }],
          },
        },
      ],
    };
    meshHosts.push(vh);
    defaultHosts.set(fqdn, vh);
  }
  if (memo) {
    memo.defaultHosts = defaultHosts;
    memo.defaultHostsClaims = claims;
  }

  const gateways: GatewayConfig[] = [...input.gateways]
    .sort((a, b) => key(a.metadata).localeCompare(key(b.metadata)))
    .map((gw) => {
      const name = key(gw.metadata);
      const bound = vss.filter((vs) =>
        boundGateways(vs).some((g) => qualify(g, vs.metadata.namespace) === name),
      );
      return {
        name,
        selector: { ...(gw.spec.selector ?? {}) },
        servers: (gw.spec.servers ?? []).map((s) => ({
          port: {
            number: s.port.number,
            protocol: (s.port.protocol ?? 'HTTP').toUpperCase(),
            ...(s.port.name !== undefined ? { name: s.port.name } : {}),
          },
          // `ns/host` restricts which namespaces may bind; Weft binds by gateway name only.
          hosts: s.hosts.map((h) =>
            (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase(),
          ),
          ...serverTls(s.tls),
        })),
        virtualHosts: mergeGatewayHosts(bound.map(toVirtualHost)),
      };
    });

  const authorization = translateAuthorization(input.authorizationPolicies ?? []);
  return {
    version: input.version,
    gateways,
    mesh: { virtualHosts: meshHosts },
    clusters,
    ...(authorization.length > 0 ? { authorization } : {}),
    ...(peerPolicies.length > 0 ? { security: { peerAuthentications: peerPolicies } } : {}),
  };
}

type GatewayServerIn = NonNullable<GatewayIn['spec']['servers']>[number];

/**
 * The TLS settings proxies act on: httpsRedirect, and SIMPLE termination with its files.
 * Other modes are left out, so a proxy sees an HTTPS server it cannot terminate and skips it
 * (apply already warned about the mode).
 */
function serverTls(tls: GatewayServerIn['tls']): Pick<GatewayServer, 'tls'> {
  if (tls === undefined) return {};
  const out: NonNullable<GatewayServer['tls']> = {};
  if (tls.httpsRedirect === true) out.httpsRedirect = true;
  if (tls.mode === 'SIMPLE') {
    out.mode = 'SIMPLE';
    if (tls.serverCertificate) out.serverCertificate = tls.serverCertificate;
    if (tls.privateKey) out.privateKey = tls.privateKey;
    if (tls.caCertificates) out.caCertificates = tls.caCertificates;
  }
  return Object.keys(out).length > 0 ? { tls: out } : {};
}

function byAge(a: { metadata: Meta }, b: { metadata: Meta }): number {
  const ra = a.metadata.createRevision ?? 0;
  const rb = b.metadata.createRevision ?? 0;
  return ra !== rb ? ra - rb : key(a.metadata).localeCompare(key(b.metadata));
}

function key(m: { name: string; namespace: string }): string {
  return `${m.namespace}/${m.name}`;
}

function qualify(gateway: string, namespace: string): string {
  return gateway.includes('/') ? gateway : `${namespace}/${gateway}`;
}

function boundGateways(vs: VirtualServiceIn): string[] {
  const g = vs.spec.gateways;
  return g && g.length > 0 ? g : [MESH];
}

/** On sidecars the oldest VirtualService for a host wins; later ones lose that domain. */
function claimDomains(hosts: VirtualHost[]): VirtualHost[] {
  const taken = new Set<string>();
  const out: VirtualHost[] = [];
  for (const vh of hosts) {
    const domains = vh.domains.filter((d) => !taken.has(d));
    for (const d of domains) taken.add(d);
    if (domains.length > 0) out.push({ ...vh, domains });
  }
  return out;
}

/** On gateways Istio merges VirtualServices for the same host: rules keep their VS order. */
function mergeGatewayHosts(hosts: VirtualHost[]): VirtualHost[] {
  const out: VirtualHost[] = [];
  const owner = new Map<string, VirtualHost>();
  for (const vh of hosts) {
    const first = vh.domains.map((d) => owner.get(d)).find((o) => o !== undefined);
    if (first && vh.domains.every((d) => first.domains.includes(d))) {
      first.routes.push(...vh.routes);
      continue;
    }
    const domains = vh.domains.filter((d) => !owner.has(d));
    if (domains.length === 0) continue;
    const copy = { ...vh, domains, routes: [...vh.routes] };
    for (const d of domains) owner.set(d, copy);
    out.push(copy);
  }
  return out;
}

function toVirtualHost(vs: VirtualServiceIn): VirtualHost {
  const ns = vs.metadata.namespace;
  const domains = new Set<string>();
  for (const h of vs.spec.hosts ?? []) {
    // A host with a dot that is not a cluster name (e.g. `my-service.example.com`) is matched
    // as written; short names get every alias a client in the mesh may use.
    for (const d of hostAliases(toFqdn(h, ns))) domains.add(d);
  }
  const routes: Route[] = [];
  const http = vs.spec.http ?? [];
  for (let i = 0; i < http.length; i++) {
    const r = http[i];
    if (!r) continue;
    routes.push(toRoute(r, `${key(vs.metadata)}#${i}`, ns));
    // Istio stops emitting routes after a catch-all: nothing after it can match.
    if (!r.match || r.match.length === 0) break;
  }
  return { name: key(vs.metadata), domains: [...domains], routes };
}

function toRoute(r: HttpRouteIn, id: string, ns: string): Route {
  const route: Route = {
    id,
    matches: (r.match ?? []).map(toMatchBlock),
    action: toAction(r, ns),
  };
  if (r.name !== undefined) route.name = r.name;
  const headers = toHeaders(r.headers);
  if (headers) route.headers = headers;
  const fault = toFault(r.fault);
  if (fault) route.fault = fault;
  const cors = toCors(r.corsPolicy);
  if (cors) route.cors = cors;
  return route;
}

function toAction(r: HttpRouteIn, ns: string): Route['action'] {
  if (r.redirect) {
    const rd = r.redirect;
    return {
      type: 'redirect',
      code: rd.redirectCode ?? 301,
      ...(rd.uri !== undefined ? { uri: rd.uri } : {}),
      ...(rd.authority !== undefined ? { authority: rd.authority } : {}),
      ...(rd.scheme !== undefined ? { scheme: rd.scheme } : {}),
      ...(rd.port !== undefined ? { port: rd.port } : {}),
      ...(rd.prefixRewrite !== undefined ? { prefixRewrite: rd.prefixRewrite } : {}),
      ...(rd.derivePort !== undefined ? { derivePort: rd.derivePort } : {}),
    };
  }
  if (r.directResponse) {
    const body = r.directResponse.body;
    const text =
      body?.string ??
      (body?.bytes !== undefined ? Buffer.from(body.bytes, 'base64').toString() : undefined);
    return {
      type: 'direct',
      status: r.directResponse.status,
      ...(text !== undefined ? { body: text } : {}),
    };
  }
  const all = r.route ?? [];
  // Weights are relative; with several destinations, zero-weight ones get no traffic at all.
  const dests = all.length === 1 ? all : all.filter((d) => (d.weight ?? 0) > 0);
  const destinations: WeightedDestination[] = dests.map((d) => {
    const host = toFqdn(d.destination.host, ns);
    const port = d.destination.port?.number;
    const out: WeightedDestination = {
      cluster: clusterName(host, d.destination.subset),
      weight: all.length === 1 ? 1 : (d.weight ?? 0),
      host,
    };
    if (d.destination.subset !== undefined) out.subset = d.destination.subset;
    if (port !== undefined) out.port = port;
    const h = toHeaders(d.headers);
    if (h) out.headers = h;
    return out;
  });
  const action: Route['action'] = { type: 'route', destinations };
  const timeoutMs = r.timeout !== undefined ? parseDurationMs(r.timeout) : undefined;
  // Istio: a timeout of 0s means "no timeout", the same as leaving it out.
  if (timeoutMs !== undefined && timeoutMs > 0) action.timeoutMs = timeoutMs;
  if (r.retries) {
    // No retryOn: the proxy applies Weft's default conditions, which depend on the method.
    const parts = (r.retries.retryOn ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const codes = parts.filter((p) => /^\d{3}$/.test(p)).map(Number);
    const retryOn = parts.filter((p) => !/^\d{3}$/.test(p));
    if (codes.length > 0 && !retryOn.includes('retriable-status-codes'))
      retryOn.push('retriable-status-codes');
    const per =
      r.retries.perTryTimeout !== undefined ? parseDurationMs(r.retries.perTryTimeout) : undefined;
    const backoff =
      r.retries.backoff !== undefined ? parseDurationMs(r.retries.backoff) : undefined;
    action.retries = {
      attempts: r.retries.attempts ?? 0,
      retryOn,
      retriableStatusCodes: codes,
      ...(per !== undefined && per > 0 ? { perTryTimeoutMs: per } : {}),
      ...(backoff !== undefined && backoff > 0 ? { backoffBaseMs: backoff } : {}),
    };
  }
  const rw = r.rewrite;
  if (rw && (rw.uri !== undefined || rw.authority !== undefined || rw.uriRegexRewrite)) {
    action.rewrite = {
      ...(rw.uri !== undefined ? { uri: rw.uri } : {}),
      ...(rw.authority !== undefined ? { authority: rw.authority } : {}),
      ...(rw.uriRegexRewrite
        ? { uriRegex: { match: rw.uriRegexRewrite.match, rewrite: rw.uriRegexRewrite.rewrite } }
        : {}),
    };
  }
  const mirrors = toMirrors(r, ns);
  if (mirrors.length > 0) action.mirrors = mirrors;
  return action;
}

/**
 * Istio's Percent for faults and mirrors: `percentage.value` wins, then the deprecated integer,
 * then `absent`. istiod turns both into parts per million of `value`, so 0.1 is 0.1 %.
 */
function percentOf(p: PercentIn | undefined, deprecated: number | undefined, absent: number) {
  if (p !== undefined) return p.value ?? 0;
  return deprecated ?? absent;
}

/**
 * Fault injection. An absent percentage is 0 % (istio-semantics 1.8: istiod leaves Envoy's
 * FractionalPercent at 0), so such a fault is kept but never fires; validation warns about it.
 */
function toFault(f: HttpRouteIn['fault']): FaultPolicy | undefined {
  if (!f) return undefined;
  const out: FaultPolicy = {};
  const delayMs =
    f.delay?.fixedDelay !== undefined ? parseDurationMs(f.delay.fixedDelay) : undefined;
  if (f.delay && delayMs !== undefined && delayMs > 0) {
    out.delay = {
      fixedDelayMs: delayMs,
      percent: percentOf(f.delay.percentage, f.delay.percent, 0),
    };
  }
  if (f.abort?.httpStatus !== undefined) {
    out.abort = {
      httpStatus: f.abort.httpStatus,
      percent: percentOf(f.abort.percentage, undefined, 0),
    };
  }
  return out.delay || out.abort ? out : undefined;
}

/**
 * `mirror` (+ `mirrorPercentage`, 100 % when absent) and `mirrors[]`. A mirror at 0 % is left
 * out, as istiod leaves it out of the Envoy route.
 */
function toMirrors(r: HttpRouteIn, ns: string): MirrorPolicy[] {
  const out: MirrorPolicy[] = [];
  const add = (d: DestinationIn, percent: number) => {
    if (!(percent > 0)) return;
    const host = toFqdn(d.host, ns);
    const m: MirrorPolicy = { cluster: clusterName(host, d.subset), host, percent };
    if (d.subset !== undefined) m.subset = d.subset;
    if (d.port?.number !== undefined) m.port = d.port.number;
    out.push(m);
  };
  if (r.mirror) add(r.mirror, percentOf(r.mirrorPercentage, r.mirrorPercent, 100));
  for (const m of r.mirrors ?? []) add(m.destination, percentOf(m.percentage, undefined, 100));
  return out;
}

function toCors(c: HttpRouteIn['corsPolicy']): CorsConfig | undefined {
  if (!c) return undefined;
  // As istiod: allowOrigins wins; the deprecated allowOrigin list is exact strings.
  const allowOrigins: StringMatch[] = c.allowOrigins
    ? c.allowOrigins.flatMap((m) => {
        const s = toPlain(m);
        return s ? [s] : [];
      })
    : (c.allowOrigin ?? []).map((o) => ({ exact: o }));
  const out: CorsConfig = {
    allowOrigins,
    allowMethods: [...(c.allowMethods ?? [])],
    allowHeaders: [...(c.allowHeaders ?? [])],
    exposeHeaders: [...(c.exposeHeaders ?? [])],
  };
  const maxAgeMs = c.maxAge !== undefined ? parseDurationMs(c.maxAge) : undefined;
  // Envoy's max_age is whole seconds (istiod sends the duration's seconds).
  if (maxAgeMs !== undefined) out.maxAgeSeconds = Math.floor(maxAgeMs / 1000);
  if (c.allowCredentials !== undefined) out.allowCredentials = c.allowCredentials;
  if (c.unmatchedPreflights === 'IGNORE' || c.unmatchedPreflights === 'FORWARD')
    out.unmatchedPreflights = c.unmatchedPreflights;
  return out;
}

function toStringMatch(m: StringMatchIn): StringMatch | { present: true } {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  // Istio treats an empty matcher and the regex `*` as "the header is present".
  if (m.regex !== undefined && m.regex !== '*') return { regex: m.regex };
  return { present: true };
}

function toMatchMap(
  m: Record<string, StringMatchIn> | undefined,
): Record<string, StringMatch | { present: true }> | undefined {
  if (!m) return undefined;
  const out: Record<string, StringMatch | { present: true }> = {};
  for (const k of Object.keys(m).sort()) {
    const v = m[k];
    if (v) out[k.toLowerCase()] = toStringMatch(v);
  }
  return out;
}

function toPlain(m: StringMatchIn | undefined): StringMatch | undefined {
  if (!m) return undefined;
  const s = toStringMatch(m);
  return 'present' in s ? { prefix: '' } : s;
}

function toMatchBlock(m: HttpMatchIn): MatchBlock {
  const b: MatchBlock = {};
  if (m.name !== undefined) b.name = m.name;
  const uri = toPlain(m.uri);
  if (uri) b.uri = uri;
  if (m.ignoreUriCase) b.ignoreUriCase = true;
  const method = toPlain(m.method);
  if (method) b.method = method;
  const authority = toPlain(m.authority);
  if (authority) b.authority = authority;
  const scheme = toPlain(m.scheme);
  if (scheme) b.scheme = scheme;
  const headers = toMatchMap(m.headers);
  if (headers) b.headers = headers;
  const without = toMatchMap(m.withoutHeaders);
  if (without) b.withoutHeaders = without;
  const query = toMatchMap(m.queryParams);
  if (query) b.queryParams = query;
  if (m.port !== undefined) b.port = m.port;
  // Which proxies get the block; each proxy settles these for itself when it compiles.
  if (m.sourceLabels !== undefined && Object.keys(m.sourceLabels).length > 0)
    b.sourceLabels = { ...m.sourceLabels };
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== '')
    b.sourceNamespace = m.sourceNamespace;
  return b;
}

function toHeaders(h: HeadersIn | undefined): HeaderRules | undefined {
  if (!h || (!h.request && !h.response)) return undefined;
  const out: HeaderRules = {};
  if (h.request) out.request = { ...h.request };
  if (h.response) out.response = { ...h.response };
  return out;
}

function indexDestinationRules(drs: DestinationRuleIn[]): Map<string, DestinationRuleIn> {
  // One DestinationRule per host; with several, the oldest wins (Istio merges only in rare cases).
  const out = new Map<string, DestinationRuleIn>();
  const sorted = [...drs].sort(
    (a, b) => (a.metadata.createRevision ?? 0) - (b.metadata.createRevision ?? 0),
  );
  for (const dr of sorted) {
    const host = toFqdn(dr.spec.host, dr.metadata.namespace);
    if (!out.has(host)) out.set(host, dr);
  }
  return out;
}

type ClusterLb = Pick<Cluster, 'lb' | 'hash' | 'warmupMs'>;

/** The balancers the proxy applies slow start to. */
const WARMUP_POLICIES: ReadonlySet<LbPolicy> = new Set([
  'ROUND_ROBIN',
  'LEAST_REQUEST',
  'PEAK_EWMA',
]);

/**
 * A cluster's balancing from the DestinationRule: the subset's `loadBalancer`, if it has one,
 * replaces the top-level one whole (Istio merges traffic policies per component).
 */
function lbOf(...policies: (TrafficPolicyIn | undefined)[]): ClusterLb {
  const lb = policies.find((p) => p?.loadBalancer !== undefined)?.loadBalancer;
  const out: ClusterLb = { lb: simpleOf(lb?.simple) };
  const hash = hashOf(lb?.consistentHash);
  if (hash !== undefined) out.hash = hash;
  // Slow start only where the proxy applies it (validation warned about the rest).
  const warmup = lb?.warmup?.duration ?? lb?.warmupDurationSecs;
  const warmupMs = warmup === undefined ? undefined : parseDurationMs(warmup);
  if (warmupMs && hash === undefined && WARMUP_POLICIES.has(out.lb)) out.warmupMs = warmupMs;
  return out;
}

/**
 * Weft's default is PEAK_EWMA whenever the user did not choose (no DestinationRule, no
 * `simple`, or UNSPECIFIED), where Istio uses LEAST_REQUEST: docs/architecture.md says why.
 */
function simpleOf(simple: string | undefined): LbPolicy {
  if (simple === 'LEAST_CONN') return 'LEAST_REQUEST';
  if (simple && LB_POLICIES.has(simple)) return simple as LbPolicy;
  return 'PEAK_EWMA';
}

function hashOf(ch: LoadBalancerIn['consistentHash']): ConsistentHash | undefined {
  if (ch === undefined) return undefined;
  let key: ConsistentHash['key'];
  if (ch.httpHeaderName) key = { header: ch.httpHeaderName.toLowerCase() };
  else if (ch.httpQueryParameterName) key = { queryParameter: ch.httpQueryParameterName };
  else if (ch.useSourceIp === true) key = { sourceIp: true };
  else if (ch.httpCookie) {
    const { name, path, ttl } = ch.httpCookie;
    const ttlMs = ttl === undefined ? undefined : parseDurationMs(ttl);
    key = {
      cookie: { name, ...(path ? { path } : {}), ...(ttlMs !== undefined ? { ttlMs } : {}) },
    };
  } else return undefined;
  // uint64 0 is protobuf's unset: the proxy's defaults (ring 1024, table 65537) apply.
  if (ch.maglev !== undefined) {
    const tableSize = Number(ch.maglev.tableSize ?? 0);
    return { key, algorithm: 'MAGLEV', ...(tableSize > 0 ? { tableSize } : {}) };
  }
  const minRingSize = Number(ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? 0);
  return { key, algorithm: 'RING_HASH', ...(minRingSize > 0 ? { minRingSize } : {}) };
}

/** Instances by service FQDN, in input order (the memo compares these lists by identity). */
function groupByService(instances: readonly Instance[]): ReadonlyMap<string, readonly Instance[]> {
  const byService = new Map<string, Instance[]>();
  // namespace -> service -> FQDN: one toFqdn per service, not per instance.
  const names = new Map<string, Map<string, string>>();
  for (const i of instances) {
    let inNs = names.get(i.namespace);
    if (!inNs) names.set(i.namespace, (inNs = new Map()));
    let fqdn = inNs.get(i.service);
    if (fqdn === undefined) inNs.set(i.service, (fqdn = toFqdn(i.service, i.namespace)));
    const list = byService.get(fqdn);
    if (list) list.push(i);
    else byService.set(fqdn, [i]);
  }
  return byService;
}

function toEndpoint(i: Instance): Endpoint {
  return {
    id: i.id,
    address: i.address,
    port: i.port,
    labels: { ...i.labels },
    healthy: i.healthy,
    weight: i.weight,
  };
}

function buildClusters(
  byService: ReadonlyMap<string, readonly Instance[]>,
  external: Map<string, Endpoint[]>,
  drs: Map<string, DestinationRuleIn>,
  memo: TranslateMemo | undefined,
  tls: ClusterTls,
): Cluster[] {
  const hosts = new Set([...byService.keys(), ...external.keys()]);
  // A DestinationRule may name a host before any instance registers: its clusters exist, empty.
  for (const host of drs.keys()) if (serviceOf(host)) hosts.add(host);

  const out: Cluster[] = [];
  const entries = new Map<string, ClusterMemoEntry>();
  let reused = 0;
  for (const fqdn of [...hosts].sort()) {
    const members = byService.get(fqdn) ?? [];
    const ext = external.get(fqdn);
    const dr = drs.get(fqdn);
    const extJson = ext ? JSON.stringify(ext) : '';
    const prev = memo?.clusters.get(fqdn);
    if (
      prev &&
      prev.drSpec === dr?.spec &&
      prev.drRevision === dr?.metadata.createRevision &&
      prev.external === extJson &&
      prev.security === tls.key &&
      (prev.instances === members || sameRefs(prev.instances, members))
    ) {
      out.push(...prev.clusters);
      entries.set(fqdn, prev);
      reused++;
      continue;
    }
    // Sorted here, per service and only when rebuilt: sorting the whole registry on every
    // revision would cost more than everything else an incremental translate does.
    const sorted = [...members].sort((x, y) => x.id.localeCompare(y.id));
    // ServiceEntry endpoints join a registered service's, after them.
    // Which instance each mesh endpoint is, for its mTLS identity (ServiceEntry endpoints have
    // none: never auto-mTLS).
    const origin = new Map<Endpoint, Instance>();
    const mesh = sorted.map((i) => {
      const e = toEndpoint(i);
      origin.set(e, i);
      return e;
    });
    const list = [...mesh, ...(ext ?? [])];
    const secured = (e: Endpoint, drMode: string | undefined): Endpoint => {
      const i = origin.get(e);
      const id = i === undefined ? undefined : tls.identityOf(i, drMode);
      return id === undefined ? e : { ...e, tlsIdentity: id };
    };
    const built = serviceClusters(fqdn, list, dr, secured);
    out.push(...built);
    entries.set(fqdn, {
      instances: members,
      drSpec: dr?.spec,
      drRevision: dr?.metadata.createRevision,
      external: extJson,
      security: tls.key,
      clusters: built,
    });
  }
  if (memo) {
    memo.clusters = entries;
    memo.stats = { reused, rebuilt: entries.size - reused };
  }
  return out;
}

/** A service's cluster and one per DestinationRule subset. */
/** How endpoints get their mTLS identity (translate/security.ts); `key` changes when that does. */
interface ClusterTls {
  identityOf: (i: Instance, drMode: string | undefined) => string | undefined;
  key: string;
}

function serviceClusters(
  fqdn: string,
  list: Endpoint[],
  dr: DestinationRuleIn | undefined,
  secured: (e: Endpoint, drMode: string | undefined) => Endpoint,
) {
  const top = dr?.spec.trafficPolicy;
  // portLevelSettings: one more cluster per port they name, for the service and each subset,
  // with the policy Istio resolves for that port (port-level.ts).
  const ports = portLevelPorts(dr);
  const clustersOf = (
    subset: string | undefined,
    own: TrafficPolicyIn | undefined,
    members: Endpoint[],
  ): Cluster[] => {
    const one = (port: number | undefined, ...policies: (TrafficPolicyIn | undefined)[]) => ({
      name: clusterName(fqdn, subset, port),
      service: fqdn,
      ...(subset !== undefined ? { subset } : {}),
      ...(port !== undefined ? { port } : {}),
      ...lbOf(...policies),
      ...clusterPoliciesOf(...policies),
      endpoints: members.map((e) => secured(e, tlsModeOf(...policies))),
    });
    return [one(undefined, own, top), ...ports.map((p) => one(p, portPolicy(top, own, p)))];
  };
  const out = clustersOf(undefined, undefined, list);
  for (const subset of dr?.spec.subsets ?? []) {
    const labels = subset.labels ?? {};
    const members = list.filter((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v));
    out.push(...clustersOf(subset.name, subset.trafficPolicy, members));
  }
  return out;
}
