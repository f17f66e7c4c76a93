// A JSON view of a compiled RouteTable: what the golden files hold and what an `explain`
// command can print. Predicates cannot be shown, so it shows what they were compiled into.

import type { RouteFilters } from '../filters/index.js';
import type { HostTable } from '../routing/host-table.js';
import type {
  CompiledAction,
  CompiledHeaderOps,
  CompiledRetryPolicy,
  RuntimeCluster,
  CompiledVirtualHost,
  RouteTable,
} from './types.js';

export function summarizeRouteTable(t: RouteTable): unknown {
  return {
    version: t.version,
    gateways: t.gateways,
    gateway: summarizeHosts(t.gateway),
    // Only when there are TLS servers, so that tables without them read as before.
    ...(t.tlsServers.length > 0
      ? { gatewayTls: summarizeHosts(t.gatewayTls), tlsServers: t.tlsServers }
      : {}),
    mesh: summarizeHosts(t.mesh),
    clusters: [...t.clusters.values()].map((c) => ({
      name: c.name,
      service: c.service,
      ...(c.subset !== undefined ? { subset: c.subset } : {}),
      policy: c.policy,
      algorithm: c.algorithm,
      ...(c.hashPolicy !== undefined ? { hash: c.hashPolicy.description } : {}),
      ...(c.warmupMs ? { warmupMs: c.warmupMs } : {}),
      ...summarizeResilience(c),
      endpoints: c.endpoints.map((e) => ({
        id: e.id,
        key: e.key,
        weight: e.weight,
        healthy: e.healthy,
      })),
    })),
    warnings: t.warnings,
  };
}

function summarizeHosts(h: HostTable<CompiledVirtualHost>) {
  const vhosts = new Set<CompiledVirtualHost>();
  const domains: Record<string, string> = {};
  for (const [d, v] of h.exact) {
    domains[d] = v.name;
    vhosts.add(v);
  }
  for (const [suffix, v] of h.wildcards) {
    domains[`*${suffix}`] = v.name;
    vhosts.add(v);
  }
  if (h.any) {
    domains['*'] = h.any.name;
    vhosts.add(h.any);
  }
  return {
    domains,
    virtualHosts: [...vhosts].map((v) => ({
      name: v.name,
      routes: v.routes.map((r) => ({
        id: r.id,
        ...(r.name !== undefined ? { name: r.name } : {}),
        matches: r.blocks.map((b) => ({
          rewritePrefixLength: b.rewritePrefixLength,
          ...(b.uriPrefix !== undefined ? { uriPrefix: b.uriPrefix } : {}),
          ...(b.usesQuery ? { usesQuery: true } : {}),
        })),
        action: summarizeAction(r.action),
        ...(r.response.empty ? {} : { response: summarizeOps(r.response) }),
        ...(r.filters !== undefined ? { filters: summarizeFilters(r.filters) } : {}),
      })),
    })),
  };
}

function summarizeAction(a: CompiledAction) {
  switch (a.type) {
    case 'direct':
      return { type: a.type, status: a.status, body: a.body.toString('utf8') };
    case 'redirect':
      return { ...a };
    case 'route': {
      const total = a.destinations.reduce((s, d) => s + d.weight, 0);
      return {
        type: a.type,
        destinations: a.destinations.map((d) => ({
          cluster: d.clusterName,
          resolved: d.cluster !== undefined,
          host: d.host,
          share: Math.round((d.weight / total) * 10_000) / 10_000,
          ...(d.request.empty && d.request.authority === undefined
            ? {}
            : { request: summarizeOps(d.request) }),
          ...(d.response.empty ? {} : { response: summarizeOps(d.response) }),
        })),
        timeoutMs: a.timeoutMs,
        retry: summarizeRetry(a.retry),
        ...(a.rewriteUri !== undefined ? { rewriteUri: a.rewriteUri } : {}),
        ...(a.rewriteRegexSource !== undefined ? { rewriteRegex: a.rewriteRegexSource } : {}),
        ...(a.mirrors !== undefined
          ? {
              mirrors: a.mirrors.map((m) => ({
                cluster: m.clusterName,
                resolved: m.cluster !== undefined,
                percent: m.perMillion / 10_000,
              })),
            }
          : {}),
      };
    }
  }
}

function summarizeFilters(f: RouteFilters) {
  const { fault, cors } = f;
  return {
    ...(fault !== undefined
      ? {
          fault: {
            ...(fault.delayMs > 0
              ? { delayMs: fault.delayMs, delayPercent: fault.delayPerMillion / 10_000 }
              : {}),
            ...(fault.abortStatus > 0
              ? { abortStatus: fault.abortStatus, abortPercent: fault.abortPerMillion / 10_000 }
              : {}),
          },
        }
      : {}),
    ...(cors !== undefined
      ? {
          cors: {
            allowAll: cors.allowAll,
            origins: cors.origins.length,
            preflight: cors.preflight,
            response: cors.response,
            unmatchedPreflights: cors.forwardUnmatched ? 'FORWARD' : 'IGNORE',
          },
        }
      : {}),
  };
}

function summarizeOps(o: CompiledHeaderOps) {
  return {
    drop: [...o.drop],
    append: o.append,
    ...(o.authority !== undefined ? { authority: o.authority } : {}),
  };
}

function summarizeRetry(p: CompiledRetryPolicy) {
  return {
    retries: p.retries,
    perTryTimeoutMs: p.perTryTimeoutMs,
    conditions: p.conditions,
    statusCodes: p.statusCodes,
    grpcCodes: p.grpcCodes,
    ...(p.idempotent !== undefined ? { idempotentConditions: p.idempotent.conditions } : {}),
  };
}

/** Only what a DestinationRule set: clusters on the defaults read as before. */
function summarizeResilience(c: RuntimeCluster) {
  const r = c.resilience;
  if (r === undefined) return {};
  const l = r.breaker?.limits;
  const finite = (n: number | undefined) => (n === undefined || n === Infinity ? undefined : n);
  return {
    ...(r.outlier.consecutiveConnectFailures === 0 ? { outlier: r.outlier } : {}),
    ...(l !== undefined
      ? {
          limits: {
            maxConnections: finite(l.maxConnections),
            maxPendingRequests: finite(l.maxPendingRequests),
            maxRequests: finite(l.maxRequests),
            maxRetries: finite(l.maxRetries),
            retryBudget: l.retryBudget,
          },
        }
      : {}),
    ...(r.maxRequestsPerConnection > 0
      ? { maxRequestsPerConnection: r.maxRequestsPerConnection }
      : {}),
    ...(r.connectTimeoutMs !== undefined ? { connectTimeoutMs: r.connectTimeoutMs } : {}),
  };
}
