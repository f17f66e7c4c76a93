// Istio's `headers.{request,response}.{set,add,remove}` at route and destination level,
// flattened at compile time into "drop these names, append these pairs". The order follows
// istio-semantics 1.5: within a level remove, then set, then add; the destination level after
// the route level, so a destination `set` wins over the route's.

import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { HeaderOps } from '@weft/model';
import { at, CompileError } from '../routing/compile-error.js';
import type { CompiledHeaderOps } from './types.js';

export const NO_HEADER_OPS: CompiledHeaderOps = Object.freeze({
  drop: new Set<string>(),
  append: Object.freeze([]) as readonly string[],
  authority: undefined,
  empty: true,
});

const HOST_NAMES = new Set(['host', ':authority']);

/**
 * Merges levels (least specific first) into one compiled set of ops. `warn` hears about
 * entries that are ignored on purpose (pseudo-headers, removing Host).
 */
export function compileHeaderOps(
  levels: ReadonlyArray<{ path: string; ops: HeaderOps | undefined }>,
  side: 'request' | 'response',
  warn: (msg: string) => void,
): CompiledHeaderOps {
  const drop = new Set<string>();
  let list: Array<[string, string]> = [];
  let authority: string | undefined;
  let any = false;

  for (const { path, ops } of levels) {
    if (ops === undefined) continue;
    if (typeof ops !== 'object' || ops === null) throw new CompileError(path, 'must be an object');
    any = true;
    for (const [i, raw] of (ops.remove ?? []).entries()) {
      const name = at(`${path}.remove[${i}]`, () => headerName(raw));
      if (side === 'request' && HOST_NAMES.has(name)) {
        warn(`${path}.remove[${i}]: the Host header cannot be removed; ignored`);
        continue;
      }
      if (name.startsWith(':')) {
        warn(`${path}.remove[${i}]: pseudo-header ${name} ignored`);
        continue;
      }
      drop.add(name);
      list = list.filter(([n]) => n !== name);
    }
    for (const [raw, value] of Object.entries(ops.set ?? {})) {
      const name = at(`${path}.set`, () => headerName(raw));
      at(`${path}.set.${name}`, () => validateHeaderValue(name, value));
      if (side === 'request' && HOST_NAMES.has(name)) {
        // Istio turns `set: {host: ...}` into a Host rewrite.
        authority = value;
        continue;
      }
      if (name.startsWith(':')) {
        warn(`${path}.set.${name}: pseudo-header ignored`);
        continue;
      }
      drop.add(name);
      list = list.filter(([n]) => n !== name);
      list.push([name, value]);
    }
    for (const [raw, value] of Object.entries(ops.add ?? {})) {
      const name = at(`${path}.add`, () => headerName(raw));
      at(`${path}.add.${name}`, () => validateHeaderValue(name, value));
      if (name.startsWith(':') || (side === 'request' && name === 'host')) {
        warn(`${path}.add.${name}: ${name} cannot be added as a plain header; ignored`);
        continue;
      }
      list.push([name, value]);
    }
  }
  if (!any || (drop.size === 0 && list.length === 0 && authority === undefined))
    return NO_HEADER_OPS;
  return {
    drop,
    append: list.flat(),
    authority,
    empty: drop.size === 0 && list.length === 0,
  };
}

function headerName(raw: unknown): string {
  if (typeof raw !== 'string') throw new Error('a header name must be a string');
  const name = raw.toLowerCase();
  // Pseudo-headers are checked here and ignored by the caller, with a warning.
  if (/^:[a-z]+$/.test(name)) return name;
  validateHeaderName(name);
  return name;
}

/**
 * Applies ops to a flat `[name, value, ...]` header list with lower-case or original-case
 * names: the per-request path for replies the proxy makes itself and for tests.
 */
export function applyHeaderOps(headers: readonly string[], ops: CompiledHeaderOps): string[] {
  if (ops.empty) return headers.slice();
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (ops.drop.size > 0 && ops.drop.has(name.toLowerCase())) continue;
    out.push(name, headers[i + 1]!);
  }
  for (let i = 0; i < ops.append.length; i++) out.push(ops.append[i]!);
  return out;
}
