// Istio's string matching for authorization values, compiled once per snapshot: exact `abc`,
// prefix `abc*`, suffix `*abc`, presence `*` (any non-empty value), and for paths the URI
// templates `{*}` (one segment) and `{**}` (the rest of the path).

import { BlockList, isIPv6 } from 'node:net';
import { parseIpBlock } from '@weft/model';

export type StringPredicate = (value: string) => boolean;

export function compileValue(
  pattern: string,
  opts: { ignoreCase?: boolean } = {},
): StringPredicate {
  const fold = opts.ignoreCase === true;
  const p = fold ? pattern.toLowerCase() : pattern;
  if (p === '*') return (v) => v !== '';
  if (p.length > 1 && p.endsWith('*')) {
    const prefix = p.slice(0, -1);
    return fold ? (v) => v.toLowerCase().startsWith(prefix) : (v) => v.startsWith(prefix);
  }
  if (p.length > 1 && p.startsWith('*')) {
    const suffix = p.slice(1);
    return fold ? (v) => v.toLowerCase().endsWith(suffix) : (v) => v.endsWith(suffix);
  }
  return fold ? (v) => v.toLowerCase() === p : (v) => v === p;
}

/** Any of the patterns matches; a set of exact values costs one lookup. */
export function compileValues(
  patterns: readonly string[],
  opts: { ignoreCase?: boolean; paths?: boolean } = {},
): StringPredicate {
  const exact = new Set<string>();
  const others: StringPredicate[] = [];
  const fold = opts.ignoreCase === true;
  for (const p of patterns) {
    if (opts.paths === true && p.includes('{')) others.push(compilePathTemplate(p));
    else if (p === '*' || p.startsWith('*') || p.endsWith('*')) others.push(compileValue(p, opts));
    else exact.add(fold ? p.toLowerCase() : p);
  }
  if (others.length === 0) return fold ? (v) => exact.has(v.toLowerCase()) : (v) => exact.has(v);
  return (v) => {
    if (exact.size > 0 && exact.has(fold ? v.toLowerCase() : v)) return true;
    for (let i = 0; i < others.length; i++) if (others[i]!(v)) return true;
    return false;
  };
}

/** `/api/{*}/items/{**}`: `{*}` is one non-empty segment, `{**}` whatever follows. */
function compilePathTemplate(template: string): StringPredicate {
  const source = template
    .split('/')
    .map((seg) =>
      seg === '{*}' ? '[^/]+' : seg === '{**}' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  const re = new RegExp(`^${source}$`);
  return (v) => re.test(v);
}

/** A peer address as Node reports it, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) unwrapped. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Any of the blocks (single addresses or CIDRs) contains the address. */
export function compileIpBlocks(blocks: readonly string[]): StringPredicate {
  const list = new BlockList();
  for (const b of blocks) {
    const parsed = parseIpBlock(b);
    // Validation rejected bad blocks at apply; one in a snapshot made elsewhere matches nothing.
    if (parsed === undefined) continue;
    const family = isIPv6(parsed.address) ? 'ipv6' : 'ipv4';
    list.addSubnet(parsed.address, parsed.prefix, family);
  }
  return (address) => {
    if (address === '') return false;
    try {
      return list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
    } catch {
      // Not an address at all (a forged X-Forwarded-For entry): it is in no block.
      return false;
    }
  };
}

/** Destination ports, compared as numbers. */
export function compilePorts(ports: readonly string[]): (port: number) => boolean {
  const set = new Set(ports.map(Number).filter((n) => Number.isInteger(n)));
  return (port) => set.has(port);
}
