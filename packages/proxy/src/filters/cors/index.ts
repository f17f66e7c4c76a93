// Istio's CorsPolicy (istio-semantics 1.10), as Envoy's CORS filter applies it. A preflight
// (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered
// by the proxy; one from another origin is forwarded (FORWARD, the default) or answered
// without CORS headers (IGNORE). An actual request from an allowed origin has the CORS
// response headers added to whatever answers it. compileCors runs once per snapshot;
// checkCors once per request that carries an Origin.

import type { CorsConfig } from '@weft/model';
import type { CompiledHeaderOps } from '../../compile/types.js';
import { at, CompileError } from '../../routing/compile-error.js';
import { compileStringMatch, type ValueMatcher } from '../../routing/string-match.js';

export interface CompiledCors {
  /** An origin matcher accepts `*` (Envoy's rule): every origin is allowed. */
  readonly allowAll: boolean;
  readonly origins: readonly ValueMatcher[];
  /** A preflight answer's headers after access-control-allow-origin, as `[name, value, ...]`. */
  readonly preflight: readonly string[];
  /** What an actual request's response gets besides access-control-allow-origin. */
  readonly response: readonly string[];
  /** unmatchedPreflights FORWARD (Istio's default) rather than IGNORE. */
  readonly forwardUnmatched: boolean;
}

/** What to do with one request; see checkCors. */
export const CorsVerdict = {
  /** Not a CORS request, or not from an allowed origin: nothing to do. */
  None: 0,
  /** An allowed preflight: answer it with preflightHeaders(). */
  Preflight: 1,
  /** A preflight from another origin under IGNORE: answer it without CORS headers. */
  UnmatchedPreflight: 2,
  /** An actual request from an allowed origin: add the CORS response headers. */
  Actual: 3,
} as const;
export type CorsVerdict = (typeof CorsVerdict)[keyof typeof CorsVerdict];

const ALLOW_ORIGIN = 'access-control-allow-origin';
const ALLOW_CREDENTIALS = 'access-control-allow-credentials';
const EXPOSE_HEADERS = 'access-control-expose-headers';

/** Response headers the CORS filter owns: an upstream's or a route's own values give way. */
const RESPONSE_NAMES: ReadonlySet<string> = new Set([
  ALLOW_ORIGIN,
  ALLOW_CREDENTIALS,
  EXPOSE_HEADERS,
]);

export function compileCors(c: CorsConfig): CompiledCors {
  if (typeof c !== 'object' || c === null) throw new CompileError('', 'must be an object');
  const origins = list(c.allowOrigins, 'allowOrigins').map((m, i) =>
    at(`allowOrigins[${i}]`, () => compileStringMatch(m)),
  );
  const methods = strings(c.allowMethods, 'allowMethods');
  const headers = strings(c.allowHeaders, 'allowHeaders');
  const expose = strings(c.exposeHeaders, 'exposeHeaders');
  const maxAge = c.maxAgeSeconds;
  if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0))
    throw new CompileError('maxAgeSeconds', `${String(maxAge)} must be an integer >= 0`);
  const unmatched = c.unmatchedPreflights ?? 'FORWARD';
  if (unmatched !== 'FORWARD' && unmatched !== 'IGNORE')
    throw new CompileError('unmatchedPreflights', `unknown value ${JSON.stringify(unmatched)}`);

  const credentials = c.allowCredentials === true ? [ALLOW_CREDENTIALS, 'true'] : [];
  const preflight = [...credentials];
  // Istio joins the lists with "," (translateCORSPolicy); Envoy leaves out empty ones.
  if (methods.length > 0) preflight.push('access-control-allow-methods', methods.join(','));
  if (headers.length > 0) preflight.push('access-control-allow-headers', headers.join(','));
  if (maxAge !== undefined) preflight.push('access-control-max-age', String(maxAge));
  // The answer depends on Origin, so caches must key on it.
  preflight.push('vary', 'Origin');
  const response = [...credentials];
  if (expose.length > 0) response.push(EXPOSE_HEADERS, expose.join(','));
  response.push('vary', 'Origin');

  return {
    // Envoy's isOriginAllowed: a matcher that accepts "*" lets every origin in.
    allowAll: origins.some((m) => m('*')),
    origins,
    preflight,
    response,
    forwardUnmatched: unmatched === 'FORWARD',
  };
}

export function isOriginAllowed(c: CompiledCors, origin: string): boolean {
  if (c.allowAll) return true;
  for (let i = 0; i < c.origins.length; i++) if (c.origins[i]!(origin)) return true;
  return false;
}

/**
 * `origin` and `requestMethod` are the request's Origin and Access-Control-Request-Method
 * headers. Only a request with an Origin is a CORS request at all.
 */
export function checkCors(
  c: CompiledCors,
  method: string,
  origin: string | undefined,
  requestMethod: string | undefined,
): CorsVerdict {
  if (origin === undefined || origin === '') return CorsVerdict.None;
  const allowed = isOriginAllowed(c, origin);
  if (method === 'OPTIONS' && requestMethod !== undefined && requestMethod !== '') {
    if (allowed) return CorsVerdict.Preflight;
    return c.forwardUnmatched ? CorsVerdict.None : CorsVerdict.UnmatchedPreflight;
  }
  return allowed ? CorsVerdict.Actual : CorsVerdict.None;
}

/** The headers of the answer to an allowed preflight. */
export function preflightHeaders(c: CompiledCors, origin: string): string[] {
  return [ALLOW_ORIGIN, origin, ...c.preflight];
}

/**
 * The CORS headers of a reply the proxy makes itself after the CORS stage (no cluster, no
 * healthy endpoint, timeout...): Envoy's CORS filter sits before the router, so the router's
 * local replies pass through it and a browser can read why the request failed. Fault aborts
 * come from the filter before it and get none (Istio orders fault, then CORS).
 */
export function corsReplyHeaders(c: CompiledCors, origin: string): readonly string[] {
  return [ALLOW_ORIGIN, origin, ...c.response];
}

/**
 * Response ops for an actual request from an allowed origin: `base` (the route's and the
 * destination's) with the CORS headers set on top, as Envoy's CORS filter encodes after the
 * router. Allocates once per such request; requests without a matching Origin never get here.
 */
export function corsResponseOps(
  c: CompiledCors,
  base: CompiledHeaderOps,
  origin: string,
): CompiledHeaderOps {
  let drop: ReadonlySet<string> = RESPONSE_NAMES;
  if (base.drop.size > 0) drop = new Set([...base.drop, ...RESPONSE_NAMES]);
  const append: string[] = [];
  for (let i = 0; i < base.append.length; i += 2) {
    const name = base.append[i]!;
    if (!RESPONSE_NAMES.has(name)) append.push(name, base.append[i + 1]!);
  }
  append.push(ALLOW_ORIGIN, origin);
  for (let i = 0; i < c.response.length; i++) append.push(c.response[i]!);
  return { drop, append, authority: base.authority, empty: false };
}

function list<T>(v: T[] | undefined, field: string): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new CompileError(field, 'must be an array');
  return v;
}

function strings(v: string[] | undefined, field: string): string[] {
  const out = list(v, field);
  for (const [i, s] of out.entries()) {
    // These go into header values: a control character would split the response.
    if (typeof s !== 'string' || hasControl(s))
      throw new CompileError(`${field}[${i}]`, 'must be a string without control characters');
  }
  return out;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
