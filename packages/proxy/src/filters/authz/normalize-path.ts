// Path normalization before authorization, as Envoy's `normalize_path` (Istio's default BASE
// normalization, RFC 3986 section 6): percent-encoded unreserved characters are decoded, other
// escapes are upper-cased, and `.`/`..` segments are removed. Without it `/admin` in a DENY
// rule would not catch `/./admin` or `/%61dmin`. Slashes are not merged and `%2F` stays
// encoded (Istio's BASE leaves both alone).

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** The normalized path (no query); returns the input itself when nothing changes. */
export function normalizePath(path: string): string {
  let p = path;
  if (p.includes('%')) p = decodeUnreserved(p);
  if (p.includes('.')) p = removeDotSegments(p);
  return p === path ? path : p;
}

function decodeUnreserved(p: string): string {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : m.toUpperCase();
  });
}

/** RFC 3986 5.2.4, on an absolute path. */
function removeDotSegments(p: string): string {
  const segments = p.split('/');
  // A path that is only dots once split has nothing to remove.
  if (!segments.some((s) => s === '.' || s === '..')) return p;
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  return `/${out.join('/')}`;
}
