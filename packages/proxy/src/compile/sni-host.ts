// The HTTPS listener's check that a request's Host belongs to the TLS server its connection's
// SNI selected. Istio gives each HTTPS server of a Gateway its own filter chain (chosen by SNI)
// with a route table of that server's hosts only, so a request whose Host another server
// serves, sent on a connection opened for this one (HTTP/2 connection reuse, a wildcard
// certificate, curl --resolve with another Host), finds no virtual host: 404 NR. Envoy has no
// 421 Misdirected Request for it (envoyproxy/envoy#6767, istio/istio#13589); Gateway API
// listeners ask for 421, Istio's Gateway resource gives 404, and Weft follows Istio's.
// Compiled once per snapshot; per request, two host-table lookups on the HTTPS listener.

import { createHostTable, normalizeHost, type HostTable } from '../routing/host-table.js';
import type { GatewayTlsServer } from './types.js';

export interface SniHostCheck {
  /** SNI name -> the TLS server it selects (first server claiming a name wins, as certificates do). */
  readonly bySni: HostTable<SniServer>;
}

interface SniServer {
  readonly name: string;
  readonly hosts: HostTable<true>;
}

/** Undefined when there is nothing to check: with one TLS server, the listener's table is it. */
export function compileSniHostCheck(
  servers: readonly GatewayTlsServer[],
): SniHostCheck | undefined {
  if (servers.length < 2) return undefined;
  const entries = servers.map((s) => ({
    domains: s.hosts,
    value: {
      name: s.name,
      hosts: createHostTable([{ domains: s.hosts, value: true as const }]).table,
    },
  }));
  return { bySni: createHostTable(entries).table };
}

/**
 * Why the request may not be served on this connection, or undefined when it may. A client
 * without SNI, or with a name no server claims, got the first server's certificate; Weft then
 * routes by Host alone (Istio would have no filter chain for it unless a server accepts `*`).
 */
export function misdirected(
  check: SniHostCheck,
  sni: string | false | null | undefined,
  host: string,
): string | undefined {
  if (typeof sni !== 'string' || sni === '') return undefined;
  const server = check.bySni.lookup(normalizeHost(sni));
  if (server === undefined || server.hosts.lookup(host) !== undefined) return undefined;
  return `host ${JSON.stringify(host)} is not served by the TLS server that this connection's SNI ${JSON.stringify(sni)} selected (${server.name}); open a new connection for it`;
}
