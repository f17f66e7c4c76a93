// Path rewrite and redirect targets (istio-semantics 1.4). Pure string work on values the
// server already has; nothing here parses a URL.

import { RE2JS } from 're2js';
import type { RedirectRouteAction } from './types.js';

/**
 * Envoy's prefix_rewrite: replaces the matched uri prefix, or the whole path after an exact
 * or regex match (`prefixLength` -1). The query string is not part of `path` and is kept by
 * the caller.
 */
export function rewritePath(path: string, prefixLength: number, rewriteUri: string): string {
  return prefixLength < 0 ? rewriteUri : rewriteUri + path.slice(prefixLength);
}

/**
 * Envoy's regex_rewrite (Istio's uriRegexRewrite): every match of `match` in the path is
 * replaced by `rewrite`, where `\1`..`\9` are capture groups, `\0` the whole match and `\\` a
 * backslash (RE2's rewrite syntax). The template is parsed here, once; the query string is not
 * part of `path` and is kept by the caller.
 */
export function compileUriRegexRewrite(match: string, rewrite: string): (path: string) => string {
  let re: RE2JS;
  try {
    re = RE2JS.compile(match);
  } catch (err) {
    throw new Error(`invalid RE2 regex ${JSON.stringify(match)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const groups = re.groupCount();
  // Literal text and group numbers, alternating as they come.
  const parts: Array<string | number> = [];
  let text = '';
  for (let i = 0; i < rewrite.length; i++) {
    const c = rewrite[i]!;
    if (c !== '\\') {
      text += c;
      continue;
    }
    const next = rewrite[++i];
    if (next === '\\') {
      text += '\\';
    } else if (next !== undefined && next >= '0' && next <= '9') {
      const g = Number(next);
      if (g > groups) throw new Error(`rewrite refers to group \\${g}; the regex has ${groups}`);
      if (text !== '') parts.push(text);
      text = '';
      parts.push(g);
    } else {
      throw new Error('in rewrite, a backslash must be followed by a digit or a backslash');
    }
  }
  if (text !== '') parts.push(text);
  if (parts.every((p) => typeof p === 'string')) {
    const fixed = parts.join('');
    return (path) => re.matcher(path).replaceAll(() => fixed);
  }
  // re2js hands a replacer the match and its groups as String.prototype.replace does.
  const replacer = (...args: unknown[]): string => {
    let out = '';
    for (const p of parts)
      out += typeof p === 'string' ? p : ((args[p] as string | undefined) ?? '');
    return out;
  };
  return (path) => re.matcher(path).replaceAll(replacer);
}

export interface RedirectSource {
  scheme: string;
  /** The request's Host (or absolute-form authority), port included. */
  host: string;
  path: string;
  query: string;
  /** For prefixRewrite: the matched uri prefix's length, -1 after an exact or regex match. */
  prefixLength?: number;
  /** For derivePort FROM_REQUEST_PORT: the port the request came to. */
  port?: number | undefined;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** The Location of a redirect: request parts, overridden by what the redirect sets. */
export function redirectLocation(r: RedirectRouteAction, req: RedirectSource): string {
  const scheme = r.scheme ?? req.scheme;
  let host = r.authority ?? req.host;
  // derivePort: the scheme's default port (so none in the Location) or the request's port.
  let port = r.port;
  if (r.derivePort === 'FROM_PROTOCOL_DEFAULT') port = DEFAULT_PORTS[scheme];
  else if (r.derivePort === 'FROM_REQUEST_PORT') port = req.port;
  if (port !== undefined) {
    host = DEFAULT_PORTS[scheme] === port ? hostOnly(host) : `${hostOnly(host)}:${port}`;
  } else if (r.scheme !== undefined && r.scheme !== req.scheme && r.authority === undefined) {
    // http -> https on :80 must not produce https://host:80; a non-default port is kept.
    const p = portOf(host);
    if (p === undefined || p === DEFAULT_PORTS[req.scheme]) host = hostOnly(host);
  }
  let pathAndQuery: string;
  if (r.prefixRewrite !== undefined) {
    const path = rewritePath(req.path, req.prefixLength ?? 1, r.prefixRewrite);
    pathAndQuery = req.query === '' ? path : `${path}?${req.query}`;
  } else if (r.uri === undefined)
    pathAndQuery = req.query === '' ? req.path : `${req.path}?${req.query}`;
  else if (r.uri.includes('?') || req.query === '') pathAndQuery = r.uri;
  else pathAndQuery = `${r.uri}?${req.query}`;
  return `${scheme}://${host}${pathAndQuery}`;
}

/** The host of an authority without its port (`[::1]:80` -> `[::1]`; a bare IPv6 address stays whole). */
export function hostOnly(authority: string): string {
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
