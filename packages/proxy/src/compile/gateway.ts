// The Gateways a gateway proxy serves -> the tables of its two listeners (istio-semantics 3).
// Plain HTTP servers feed the plain listener, SIMPLE TLS servers the HTTPS listener; a
// VirtualService bound to a Gateway serves, on each listener, only the hosts that listener's
// servers accept. Everything is resolved here, once per snapshot: a request does one host
// table lookup and never looks at a server pattern. Pure: certificate files are only named
// here (tlsServers); the gateway runner reads them.

import type { GatewayConfig, GatewayServer, ProxyNode, VirtualHost } from '@weft/model';
import { at, CompileError, CompileErrors, compileErrorsOf } from '../routing/compile-error.js';
import { createHostTable, normalizeHost, type HostTable } from '../routing/host-table.js';
import { compileMatchBlocks } from '../routing/match-block.js';
import { compileHeaderOps } from './header-ops.js';
import type { CompiledVirtualHost, GatewayTlsServer } from './types.js';

export interface GatewayCompileOptions {
  node: ProxyNode;
  /** Port in the Location of httpsRedirect replies; 443 (or none) leaves it out. */
  httpsRedirectPort?: number | undefined;
  warn: (msg: string) => void;
  /** compile-snapshot's virtual host compiler (routes, filters, clusters). */
  compileVirtualHost: (vh: VirtualHost) => CompiledVirtualHost;
  /** Compile every gateway and virtual host, throwing all errors together (admission). */
  allErrors?: boolean;
}

export interface CompiledGateways {
  /** Names of the Gateways whose selector matched this proxy. */
  names: string[];
  /** The plain HTTP listener: non-TLS servers, httpsRedirect hosts answering 301. */
  plain: HostTable<CompiledVirtualHost>;
  /** The HTTPS listener: SIMPLE TLS servers. */
  tls: HostTable<CompiledVirtualHost>;
  /** What the HTTPS listener needs to terminate TLS, in snapshot order (the first is the default). */
  tlsServers: GatewayTlsServer[];
}

type ServerRole =
  | { kind: 'plain'; hosts: string[]; redirect: CompiledVirtualHost | undefined }
  | { kind: 'tls'; hosts: string[] }
  | { kind: 'skip' };

/** One hostname on the plain listener: the virtual host that serves it, and whether it redirects. */
interface PlainClaim {
  vhost: CompiledVirtualHost | undefined;
  redirect: CompiledVirtualHost | undefined;
}

export function compileGateways(
  gateways: readonly GatewayConfig[],
  opts: GatewayCompileOptions,
): CompiledGateways {
  const names: string[] = [];
  const tlsServers: GatewayTlsServer[] = [];
  // Keyed by hostname (a domain or a server host pattern), in the order Istio builds its
  // virtual hosts: the first virtual host to claim a hostname keeps it.
  const plain = new Map<string, PlainClaim>();
  const tls = new Map<string, CompiledVirtualHost>();
  // Reported after the loop, in the words the host table uses for the mesh.
  const duplicates: Array<[listener: string, host: string]> = [];

  const all = opts.allErrors === true;
  // With allErrors: every gateway's and virtual host's errors, thrown together at the end.
  const errors: CompileError[] = [];
  const keep = (err: unknown) => {
    if (!all) throw err;
    errors.push(...compileErrorsOf(err));
  };
  for (const [gi, gw] of list(gateways, 'gateways').entries()) {
    try {
      compileGateway(gi, gw);
    } catch (err) {
      keep(err);
    }
  }
  if (errors.length > 0) throw new CompileErrors(errors);

  function compileGateway(gi: number, gw: GatewayConfig): void {
    at(`gateways[${gi}]`, () => {
      if (typeof gw !== 'object' || gw === null) throw new Error('must be an object');
      if (!selects(gw, opts.node)) return;
      names.push(gw.name);
      let redirectVhost: CompiledVirtualHost | undefined;
      const roles = list(gw.servers, 'servers').map((s, si) =>
        at(`servers[${si}]`, (): ServerRole => {
          const role = classifyServer(gw, s, si, opts.warn);
          if (role === 'skip') return { kind: 'skip' };
          const hosts = serverHosts(s);
          if (role === 'tls') {
            const t = s.tls!;
            tlsServers.push({
              name: `${gw.name} servers[${si}]${s.port.name ? ` (${s.port.name})` : ''}`,
              field: `gateways[${gi}].servers[${si}].tls`,
              hosts,
              serverCertificate: t.serverCertificate!,
              privateKey: t.privateKey!,
              caCertificates: t.caCertificates || undefined,
            });
            return { kind: 'tls', hosts };
          }
          if (role === 'redirect')
            redirectVhost ??= createHttpsRedirect(gw.name, opts.httpsRedirectPort);
          return {
            kind: 'plain',
            hosts,
            redirect: role === 'redirect' ? redirectVhost : undefined,
          };
        }),
      );

      const vhostErrors: CompileError[] = [];
      for (const [vi, vh] of list(gw.virtualHosts, 'virtualHosts').entries()) {
        try {
          compileGatewayVhost(vi, vh);
        } catch (err) {
          if (!all) throw err;
          vhostErrors.push(...compileErrorsOf(err));
        }
      }
      if (vhostErrors.length > 0) throw new CompileErrors(vhostErrors);

      function compileGatewayVhost(vi: number, vh: VirtualHost): void {
        at(`virtualHosts[${vi}]`, () => {
          if (typeof vh !== 'object' || vh === null) throw new Error('must be an object');
          const domains = domainsOf(vh);
          let compiled: CompiledVirtualHost | undefined;
          for (const role of roles) {
            if (role.kind === 'skip') continue;
            for (const host of intersectHosts(domains, role.hosts)) {
              compiled ??= opts.compileVirtualHost(vh);
              if (role.kind === 'tls') {
                const held = tls.get(host);
                if (held === undefined) tls.set(host, compiled);
                else if (held !== compiled) duplicates.push(['gateway (HTTPS)', host]);
                continue;
              }
              const claim = plain.get(host);
              if (claim === undefined) {
                plain.set(host, { vhost: compiled, redirect: role.redirect });
                continue;
              }
              // Istio: a host of an httpsRedirect server redirects, whichever server also has it.
              claim.redirect ??= role.redirect;
              if (claim.vhost === undefined) claim.vhost = compiled;
              else if (claim.vhost !== compiled) duplicates.push(['gateway', host]);
            }
          }
          if (compiled === undefined) {
            opts.warn(
              `gateway ${gw.name}: virtual host ${vh.name} has no host the gateway's servers accept`,
            );
          }
        });
      }

      // A redirecting server's own hosts redirect even where no VirtualService serves them
      // (Istio adds a virtual host for each).
      for (const role of roles) {
        if (role.kind !== 'plain' || role.redirect === undefined) continue;
        for (const host of role.hosts) {
          const claim = plain.get(host);
          if (claim === undefined) plain.set(host, { vhost: undefined, redirect: role.redirect });
          else claim.redirect ??= role.redirect;
        }
      }
    });
  }

  for (const [listener, host] of duplicates)
    opts.warn(
      `${listener}: domain "${host}" is claimed by more than one virtual host; the first wins`,
    );
  const plainEntries = [...plain].map(([host, claim]) => ({
    domains: [host],
    value: (claim.redirect ?? claim.vhost)!,
  }));
  const tlsEntries = [...tls].map(([host, value]) => ({ domains: [host], value }));
  return {
    names,
    // Hostnames are unique keys of the maps above, so there are no duplicates to report.
    plain: at('gateways', () => createHostTable(plainEntries).table),
    tls: at('gateways', () => createHostTable(tlsEntries).table),
    tlsServers,
  };
}

/**
 * What this proxy does with a server: HTTP servers are served in plain text (redirecting with
 * httpsRedirect), HTTPS servers with SIMPLE TLS and certificate files are terminated; anything
 * else is skipped with a warning (the control plane warned when the Gateway was applied).
 */
function classifyServer(
  gw: GatewayConfig,
  s: GatewayServer,
  si: number,
  warn: (msg: string) => void,
): 'plain' | 'redirect' | 'tls' | 'skip' {
  if (typeof s !== 'object' || s === null) throw new Error('must be an object');
  if (typeof s.port !== 'object' || s.port === null) throw new CompileError('port', 'required');
  const protocol = typeof s.port.protocol === 'string' ? s.port.protocol.toUpperCase() : 'HTTP';
  const label = `gateway ${gw.name} servers[${si}]${s.port.name ? ` (${s.port.name})` : ''}`;
  const tls = s.tls;
  if (tls !== undefined && (typeof tls !== 'object' || tls === null))
    throw new CompileError('tls', 'must be an object');
  const mode: unknown = tls?.mode;
  if (protocol === 'HTTP') {
    if (mode !== undefined) {
      warn(`${label}: a plain HTTP server with tls.mode ${String(mode)} is not served`);
      return 'skip';
    }
    return tls?.httpsRedirect === true ? 'redirect' : 'plain';
  }
  if (protocol !== 'HTTPS') {
    warn(`${label}: protocol ${protocol} is not served; Weft serves HTTP and HTTPS servers`);
    return 'skip';
  }
  if (mode !== 'SIMPLE') {
    warn(
      `${label}: ${mode === undefined ? 'no TLS mode' : `TLS mode ${String(mode)}`} that Weft terminates (SIMPLE); not served`,
    );
    return 'skip';
  }
  for (const f of ['serverCertificate', 'privateKey', 'caCertificates'] as const) {
    const v = tls?.[f];
    if (v !== undefined && typeof v !== 'string')
      throw new CompileError(`tls.${f}`, 'must be a file path');
  }
  if (!tls?.serverCertificate || !tls.privateKey) {
    warn(
      `${label}: SIMPLE TLS needs serverCertificate and privateKey files (credentialName is not supported); not served`,
    );
    return 'skip';
  }
  return 'tls';
}

function createHttpsRedirect(gateway: string, port: number | undefined): CompiledVirtualHost {
  const noOps = compileHeaderOps([], 'response', () => undefined);
  return {
    name: `${gateway}|https-redirect`,
    routes: [
      {
        id: 'https-redirect',
        name: undefined,
        blocks: compileMatchBlocks([]),
        // Envoy's require_tls: 301, same host and path, scheme https; the port is the
        // gateway's HTTPS listener (none in the Location when it is 443 or unknown).
        action: {
          type: 'redirect',
          code: 301,
          uri: undefined,
          authority: undefined,
          scheme: 'https',
          port: port ?? 443,
        },
        response: noOps,
      },
    ],
  };
}

function selects(gw: GatewayConfig, node: ProxyNode): boolean {
  const selector = gw.selector ?? {};
  for (const [k, v] of Object.entries(selector)) if (node.labels[k] !== v) return false;
  return true;
}

function serverHosts(s: GatewayServer): string[] {
  const out = new Set<string>();
  for (const h of list(s.hosts, 'hosts')) {
    if (typeof h !== 'string' || h === '')
      throw new CompileError('hosts', 'hosts must be non-empty strings');
    // `namespace/host` is Gateway syntax; the snapshot should have stripped it.
    const slash = h.indexOf('/');
    out.add((slash >= 0 ? h.slice(slash + 1) : h).toLowerCase());
  }
  return [...out];
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

/** `*`, `*.suffix` or an exact host: does `pattern` cover `host` (which may be a wildcard)? */
export function hostCovers(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    if (host === '*') return false;
    if (host.startsWith('*.')) return host.slice(1).endsWith(suffix);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return pattern === normalizeHost(host) || pattern === host;
}

/**
 * The domains a gateway serves for a virtual host: each domain the servers' hosts cover, and
 * where a domain is wider than a server host (VS `*`, server `shop.example.com`), the server
 * host: Istio's intersection.
 */
export function intersectHosts(domains: readonly string[], patterns: readonly string[]): string[] {
  const out = new Set<string>();
  for (const d of domains) {
    for (const p of patterns) {
      if (hostCovers(p, d)) out.add(d);
      else if (hostCovers(d, p)) out.add(p);
    }
  }
  return [...out];
}

function list<T>(v: readonly T[] | undefined, field: string): readonly T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new CompileError(field, 'must be an array');
  return v;
}
