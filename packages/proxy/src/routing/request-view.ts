// What route matching may look at. The server builds one per request from node:http's
// message; tests build them from plain values. Only the fields a route actually uses cost
// anything: the query string is parsed on the first queryParam() call, headers come from
// node's lazily built header object.

export interface RequestView {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Raw query string after `?`, without it; '' when there is none. */
  readonly query: string;
  /** Host without port, lower case. */
  readonly authority: string;
  readonly scheme: string;
  /** Destination port: the authority's port (sidecar outbound) or the listener's (gateway). */
  readonly port: number;
  header(name: string): string | undefined;
  queryParam(name: string): string | undefined;
}

/** First value of each query parameter, percent-decoded. `?a` gives a = ''. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (out.has(name)) continue;
    out.set(name, eq < 0 ? '' : decode(part.slice(eq + 1)));
  }
  return out;
}

function decode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    // Malformed escapes are matched as written rather than failing the request.
    return s;
  }
}

export interface RequestViewInit {
  method?: string;
  path?: string;
  query?: string;
  authority?: string;
  scheme?: string;
  port?: number;
  headers?: Record<string, string>;
}

/** A view over plain values, for tests and for callers without a node:http message. */
export function createRequestView(init: RequestViewInit): RequestView {
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(init.headers ?? {})) headers.set(k.toLowerCase(), v);
  let params: Map<string, string> | undefined;
  const query = init.query ?? '';
  return {
    method: init.method ?? 'GET',
    path: init.path ?? '/',
    query,
    authority: init.authority ?? 'example.com',
    scheme: init.scheme ?? 'http',
    port: init.port ?? 80,
    header: (name) => headers.get(name),
    queryParam(name) {
      params ??= parseQuery(query);
      return params.get(name);
    },
  };
}
