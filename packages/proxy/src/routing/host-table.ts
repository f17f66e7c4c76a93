// Virtual host selection by Host header, Envoy's order: exact domain, then the longest
// suffix wildcard (`*.foo.com` matches `a.foo.com` and `a.b.foo.com`, not `foo.com`), then `*`.
// A lookup is one Map.get in the common case; wildcards cost one Map.get per dot.

export interface HostTable<T> {
  /** `host` as returned by normalizeHost(). */
  lookup(host: string): T | undefined;
  readonly exact: ReadonlyMap<string, T>;
  /** Keyed by suffix including the leading dot: `.foo.com`. */
  readonly wildcards: ReadonlyMap<string, T>;
  readonly any: T | undefined;
}

export interface HostTableEntry<T> {
  domains: readonly string[];
  value: T;
}

/**
 * Builds the table; the first entry to claim a domain keeps it (Istio on sidecars: the
 * oldest VirtualService for a host wins). Returns the domains that lost, for logs.
 */
export function createHostTable<T>(entries: Iterable<HostTableEntry<T>>): {
  table: HostTable<T>;
  duplicates: string[];
} {
  const exact = new Map<string, T>();
  const wildcards = new Map<string, T>();
  let any: T | undefined;
  let hasAny = false;
  const duplicates: string[] = [];
  for (const { domains, value } of entries) {
    for (const raw of domains) {
      if (typeof raw !== 'string' || raw === '')
        throw new Error('a domain must be a non-empty string');
      const d = raw.toLowerCase();
      if (d === '*') {
        if (hasAny) duplicates.push(d);
        else {
          any = value;
          hasAny = true;
        }
      } else if (d.startsWith('*.')) {
        const suffix = d.slice(1);
        if (suffix.length < 2 || suffix.includes('*'))
          throw new Error(`bad wildcard domain "${raw}"`);
        if (wildcards.has(suffix)) duplicates.push(d);
        else wildcards.set(suffix, value);
      } else {
        if (d.includes('*')) throw new Error(`bad domain "${raw}": only a leading "*." is allowed`);
        const h = normalizeHost(d);
        if (exact.has(h)) duplicates.push(h);
        else exact.set(h, value);
      }
    }
  }
  const hasWildcards = wildcards.size > 0;
  const table: HostTable<T> = {
    exact,
    wildcards,
    any,
    lookup(host) {
      const hit = exact.get(host);
      if (hit !== undefined) return hit;
      if (hasWildcards) {
        // Left to right over the dots gives the longest suffix first.
        for (let i = host.indexOf('.', 1); i > 0; i = host.indexOf('.', i + 1)) {
          const w = wildcards.get(host.slice(i));
          if (w !== undefined) return w;
        }
      }
      return any;
    },
  };
  return { table, duplicates };
}

/**
 * Host header (or request-target authority) -> the key for lookup(): lower case, port
 * removed, IPv6 brackets removed (`[::1]:8080` -> `::1`), a trailing root dot removed.
 */
export function normalizeHost(authority: string): string {
  let h = authority;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    if (end > 0) h = h.slice(1, end);
  } else {
    const colon = h.indexOf(':');
    // More than one colon is a bare IPv6 literal, which has no port to strip.
    if (colon >= 0 && h.indexOf(':', colon + 1) < 0) h = h.slice(0, colon);
  }
  if (h.length > 1 && h.charCodeAt(h.length - 1) === 46 /* . */) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** The port of an authority, or `fallback` when it names none. */
export function authorityPort(authority: string, fallback: number): number {
  let colon: number;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const end = authority.indexOf(']');
    colon = end > 0 && authority.charCodeAt(end + 1) === 58 /* : */ ? end + 1 : -1;
  } else {
    colon = authority.indexOf(':');
    if (colon >= 0 && authority.indexOf(':', colon + 1) >= 0) colon = -1;
  }
  if (colon < 0) return fallback;
  const port = Number(authority.slice(colon + 1));
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : fallback;
}
