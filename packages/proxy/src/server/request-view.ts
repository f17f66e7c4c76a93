// The RequestView over a node:http request. Parsing is limited to splitting the request
// target once; headers are read only when a route asks for one.

import type { IncomingMessage } from 'node:http';
import { authorityPort, normalizeHost } from '../routing/host-table.js';
import { parseQuery, type RequestView } from '../routing/request-view.js';

export class NodeRequestView implements RequestView {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Path and query as they arrived (origin-form), to forward when nothing rewrites them. */
  readonly pathAndQuery: string;
  /** Host header or absolute-form authority, port included, userinfo removed. */
  readonly rawAuthority: string;
  readonly authority: string;
  readonly scheme: string;
  /** False when the request target cannot be understood (answered with 400). */
  readonly valid: boolean;
  private params: Map<string, string> | undefined;

  constructor(
    readonly req: IncomingMessage,
    private readonly portFromListener: boolean,
    defaultScheme: string,
  ) {
    this.method = req.method ?? 'GET';
    const url = req.url ?? '/';
    let scheme = defaultScheme;
    let authority: string | undefined;
    let target = url;
    let valid = true;
    if (url.charCodeAt(0) !== 47 /* / */) {
      // Absolute-form (RFC 9112 3.2.2): the app uses us as its HTTP proxy. The authority in
      // the target wins over Host.
      const sep = url.indexOf('://');
      if (sep > 0) {
        scheme = url.slice(0, sep).toLowerCase();
        const rest = sep + 3;
        let end = rest;
        while (end < url.length) {
          const c = url.charCodeAt(end);
          if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
          end++;
        }
        authority = url.slice(rest, end);
        const at = authority.lastIndexOf('@');
        if (at >= 0) authority = authority.slice(at + 1);
        target =
          end === url.length
            ? '/'
            : url.charCodeAt(end) === 47
              ? url.slice(end)
              : `/${url.slice(end)}`;
      } else if (url !== '*') {
        valid = false;
      }
    }
    const q = target.indexOf('?');
    this.path = q < 0 ? target : target.slice(0, q);
    this.query = q < 0 ? '' : target.slice(q + 1);
    this.pathAndQuery = target;
    this.rawAuthority = authority ?? findHost(req.rawHeaders) ?? '';
    this.authority = normalizeHost(this.rawAuthority);
    this.scheme = scheme;
    this.valid = valid;
  }

  get port(): number {
    if (this.portFromListener) return this.req.socket.localPort ?? 0;
    return authorityPort(this.rawAuthority, this.scheme === 'https' ? 443 : 80);
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  }

  queryParam(name: string): string | undefined {
    this.params ??= parseQuery(this.query);
    return this.params.get(name);
  }
}

/** Host from rawHeaders without making node build the whole header object. */
function findHost(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') return raw[i + 1];
  }
  return undefined;
}
