// `x-weft-explain: 1`: a client may ask the proxy why it routed a request as it did, and gets
// the answer in an `x-weft-explain` response header. Only clients the handler trusts may ask
// (loopback by default: the trace names endpoints and config). Requests without the header
// pay nothing: the forwarding path notices it in the one pass over rawHeaders it makes anyway
// (upstream/headers.ts); only replies the proxy makes itself scan for it here.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteTable } from '../compile/types.js';
import { explainTable } from '../explain/explain.js';
import { compactExplain } from '../explain/format.js';
import type { RequestView } from '../routing/request-view.js';
import { EXPLAIN_HEADER } from '../upstream/headers.js';

/** Who may ask for an explanation, by remote address. */
export type ExplainPolicy = (remoteAddress: string | undefined) => boolean;

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The one-line trace for `view` on `table`, for a trusted client; undefined otherwise. */
export function explainLine(
  policy: ExplainPolicy,
  req: IncomingMessage,
  table: RouteTable,
  view: RequestView,
  gateway: boolean,
  now: number,
  rawAuthority: string,
): string | undefined {
  if (!policy(req.socket.remoteAddress)) return undefined;
  const trace = explainTable(table, view, {
    listener: gateway ? 'gateway' : 'sidecar-outbound',
    now,
    rawAuthority,
  });
  return compactExplain(trace);
}

/**
 * For replies the proxy makes before the request headers are built (no route, no cluster,
 * direct responses, redirects): off the forwarding path, so a scan of rawHeaders is fine.
 */
export function setExplainHeader(
  policy: ExplainPolicy,
  req: IncomingMessage,
  res: ServerResponse,
  table: RouteTable,
  view: RequestView,
  gateway: boolean,
  now: number,
  rawAuthority: string,
): void {
  if (res.headersSent || !asksForExplain(req.rawHeaders)) return;
  const line = explainLine(policy, req, table, view, gateway, now, rawAuthority);
  if (line !== undefined) res.setHeader(EXPLAIN_HEADER, line);
}

export function asksForExplain(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === EXPLAIN_HEADER.length && name.toLowerCase() === EXPLAIN_HEADER)
      return raw[i + 1] !== '0';
  }
  return false;
}
