// Which part of a request a consistent-hash cluster hashes (Istio's consistentHash key), checked
// and prepared when the snapshot is compiled. Per request it reads one header, cookie, query
// parameter or the client address and hashes it; only clusters with a hash policy pay for it.
//
// A request without the key gets no hash and the load balancer picks a random slot, as Envoy
// does. The cookie key is the exception Istio defines: when the cookie is missing and a TTL is
// configured, the proxy makes up a value, hashes that, and sets the cookie on the response so
// that the client's next requests come back to the same endpoint (TTL 0: a session cookie).

import type { ConsistentHash } from '@weft/model';
import { CompileError } from '../routing/compile-error.js';
import type { RequestView } from '../routing/request-view.js';
import { hashString } from './hash.js';
import { DEFAULT_TABLE_SIZE, isPrime, MAX_TABLE_SIZE } from './maglev/index.js';
import { DEFAULT_MIN_RING_SIZE, MAX_RING_SIZE } from './ring-hash/index.js';

export interface RequestHash {
  hash: number;
  /** A Set-Cookie value for the response, when the proxy generated the cookie. */
  setCookie: string | undefined;
}

export interface CompiledHashPolicy {
  /** What is hashed, for explain output and messages. */
  readonly description: string;
  /**
   * The request's hash; undefined when it has no key. `remoteAddress` is the downstream
   * connection's peer: `useSourceIp` hashes it, never X-Forwarded-For (which the client writes).
   */
  hashRequest(
    view: RequestView,
    remoteAddress: string | undefined,
    random: () => number,
  ): RequestHash | undefined;
}

/** Checks a snapshot's consistentHash and returns it with defaults filled in. */
export function checkConsistentHash(h: ConsistentHash): ConsistentHash {
  if (typeof h !== 'object' || h === null) throw new CompileError('', 'must be an object');
  if (h.algorithm !== 'RING_HASH' && h.algorithm !== 'MAGLEV') {
    throw new CompileError('algorithm', `unknown algorithm "${String(h.algorithm)}"`);
  }
  const key = h.key as Record<string, unknown> | undefined;
  if (typeof key !== 'object' || key === null || Object.keys(key).length !== 1) {
    throw new CompileError(
      'key',
      'must have exactly one of header, cookie, sourceIp, queryParameter',
    );
  }
  if ('header' in key && !nonEmpty(key.header)) {
    throw new CompileError('key.header', 'must be a non-empty string');
  } else if ('queryParameter' in key && !nonEmpty(key.queryParameter)) {
    throw new CompileError('key.queryParameter', 'must be a non-empty string');
  } else if ('sourceIp' in key && key.sourceIp !== true) {
    throw new CompileError('key.sourceIp', 'must be true');
  } else if ('cookie' in key) {
    const c = key.cookie as { name?: unknown; path?: unknown; ttlMs?: unknown } | null;
    if (typeof c !== 'object' || c === null || !isCookieName(c.name)) {
      throw new CompileError('key.cookie.name', 'must be a cookie name (an HTTP token)');
    }
    if (c.path !== undefined && (typeof c.path !== 'string' || !isCookiePath(c.path))) {
      throw new CompileError('key.cookie.path', 'must be a path without ";" or control characters');
    }
    if (c.ttlMs !== undefined && !(typeof c.ttlMs === 'number' && c.ttlMs >= 0)) {
      throw new CompileError('key.cookie.ttlMs', 'must be a number >= 0');
    }
  } else if (!('header' in key || 'queryParameter' in key || 'sourceIp' in key)) {
    throw new CompileError('key', `unknown key "${Object.keys(key)[0]}"`);
  }
  if (h.algorithm === 'RING_HASH') {
    const size = h.minRingSize ?? DEFAULT_MIN_RING_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_RING_SIZE) {
      throw new CompileError(
        'minRingSize',
        `${String(size)} must be an integer 1-${MAX_RING_SIZE}`,
      );
    }
    return { key: h.key, algorithm: h.algorithm, minRingSize: size };
  }
  const size = h.tableSize ?? DEFAULT_TABLE_SIZE;
  if (!isPrime(size) || size > MAX_TABLE_SIZE) {
    throw new CompileError(
      'tableSize',
      `${String(size)} must be a prime number <= ${MAX_TABLE_SIZE}`,
    );
  }
  return { key: h.key, algorithm: h.algorithm, tableSize: size };
}

export function compileHashPolicy(h: ConsistentHash): CompiledHashPolicy {
  const key = h.key;
  if ('header' in key) {
    const name = key.header.toLowerCase();
    return {
      description: `header ${name}`,
      hashRequest: (view) => hashOfValue(view.header(name)),
    };
  }
  if ('queryParameter' in key) {
    const name = key.queryParameter;
    return {
      description: `query parameter ${name}`,
      hashRequest: (view) => hashOfValue(view.queryParam(name)),
    };
  }
  if ('sourceIp' in key) {
    return {
      description: 'source IP',
      hashRequest: (_view, remoteAddress) => hashOfValue(remoteAddress),
    };
  }
  const { name, path, ttlMs } = key.cookie;
  const attributes =
    (path !== undefined && path !== '' ? `; Path=${path}` : '') +
    (ttlMs !== undefined && ttlMs > 0 ? `; Max-Age=${Math.ceil(ttlMs / 1000)}` : '') +
    '; HttpOnly';
  return {
    description: `cookie ${name}`,
    hashRequest(view, _remoteAddress, random) {
      const value = cookieValue(view.header('cookie'), name);
      if (value !== undefined) return { hash: hashString(value), setCookie: undefined };
      // Istio: generated only when a TTL is set; without one, no affinity for this request.
      if (ttlMs === undefined) return undefined;
      const made = newCookieValue(random);
      return { hash: hashString(made), setCookie: `${name}=${made}${attributes}` };
    },
  };
}

function hashOfValue(v: string | undefined): RequestHash | undefined {
  return v === undefined ? undefined : { hash: hashString(v), setCookie: undefined };
}

/** The value of cookie `name` in a Cookie header (`a=1; b="2"`), quotes removed. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq > 0 && eq < end && header.slice(from, eq).trim() === name) {
      const v = header.slice(eq + 1, end).trim();
      return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
    }
    from = end + 1;
  }
  return undefined;
}

/** 64 random bits as 16 hex digits: a cookie value that needs no quoting. */
export function newCookieValue(random: () => number): string {
  const hex = (n: number) => Math.floor(n).toString(16).padStart(8, '0');
  return hex(random() * 0x1_0000_0000) + hex(random() * 0x1_0000_0000);
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

/** No `;` (it would end the attribute) and no control characters (they would split headers). */
function isCookiePath(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x3b) return false;
  }
  return true;
}

function isCookieName(v: unknown): boolean {
  return typeof v === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v);
}
