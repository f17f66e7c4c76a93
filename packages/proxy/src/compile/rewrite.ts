// Path rewrite and redirect targets (istio-semantics 1.4). Pure string work on values the
// server already has; nothing here parses a URL.

import type { RedirectRouteAction } from './types.js';

/**
 * Envoy's prefix_rewrite: replaces the matched uri prefix, or the whole path after an exact
 * or regex match (`prefixLength` -1). The query string is not part of `path` and is kept by
 * the caller.
 */
export function rewritePath(path: string, prefixLength: number, rewriteUri: string): string {
  return prefixLength < 0 ? rewriteUri : rewriteUri + path.slice(prefixLength);
}

export interface RedirectSource {
  scheme: string;
  /** The request's Host (or absolute-form authority), port included. */
  host: string;
  path: string;
  query: string;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** The Location of a redirect: request parts, overridden by what the redirect sets. */
export function redirectLocation(r: RedirectRouteAction, req: RedirectSource): string {
  const scheme = r.scheme ?? req.scheme;
  let host = r.authority ?? req.host;
  if (r.port !== undefined) {
    host = DEFAULT_PORTS[scheme] === r.port ? hostOnly(host) : `${hostOnly(host)}:${r.port}`;
  } else if (r.scheme !== undefined && r.scheme !== req.scheme && r.authority === undefined) {
    // http -> https on :80 must not produce https://host:80; a non-default port is kept.
    const p = portOf(host);
    if (p === undefined || p === DEFAULT_PORTS[req.scheme]) host = hostOnly(host);
  }
  let pathAndQuery: string;
  if (r.uri === undefined) pathAndQuery = req.query === '' ? req.path : `${req.path}?${req.query}`;
  else if (r.uri.includes('?') || req.query === '') pathAndQuery = r.uri;
  else pathAndQuery = `${r.uri}?${req.query}`;
  return `${scheme}://${host}${pathAndQuery}`;
}

function hostOnly(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end > 0 ? authority.slice(0, end + 1) : authority;
  }
  const colon = authority.indexOf(':');
  return colon < 0 || authority.indexOf(':', colon + 1) >= 0
    ? authority
    : authority.slice(0, colon);
}

function portOf(authority: string): number | undefined {
  const base = hostOnly(authority);
  if (base.length === authority.length) return undefined;
  const p = Number(authority.slice(base.length + 1));
  return Number.isInteger(p) ? p : undefined;
}
