// HTTPMatchRequest semantics (istio-semantics 1.2): inside a block every field must match
// (AND); a route matches when any block does (OR). Each block is compiled into a list of
// field checks, so per request the work is a few property reads and string compares.

import type { MatchBlock, StringMatch } from '@weft/model';
import { at, CompileError } from './compile-error.js';
import type { RequestView } from './request-view.js';
import { compileStringMatch, isPresenceRegex, type ValueMatcher } from './string-match.js';

export type RequestPredicate = (req: RequestView) => boolean;

export interface CompiledMatchBlock {
  readonly matches: RequestPredicate;
  /**
   * How `rewrite.uri` applies after this block matched (Envoy prefix_rewrite): the length of
   * the matched uri prefix to replace, or -1 when the whole path is replaced (exact, regex).
   * No uri match is the implicit prefix `/`.
   */
  readonly rewritePrefixLength: number;
  /** The block's uri prefix, for redirects with a prefix rewrite. */
  readonly uriPrefix?: string;
  /** True when a check reads query parameters (the server may skip parsing otherwise). */
  readonly usesQuery: boolean;
  /**
   * The block's index in the route's `matches` when blocks before it were left out of this
   * proxy's table (sourceLabels); undefined when it is the same as in the compiled list.
   */
  readonly sourceIndex?: number;
}

type FieldMatch = StringMatch | { present: true };

// Istio ignores these keys in `headers`: they are pseudo-headers with their own fields.
const IGNORED_HEADER_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

const always: RequestPredicate = () => true;

export function compileMatchBlock(block: MatchBlock): CompiledMatchBlock {
  const checks: RequestPredicate[] = [];
  let rewritePrefixLength = 1;
  let uriPrefix: string | undefined = '/';
  let usesQuery = false;

  if (block.uri !== undefined) {
    const uri = block.uri;
    const ignoreCase = block.ignoreUriCase === true && !('regex' in uri);
    const m = at('uri', () => compileStringMatch(uri, { ignoreCase }));
    checks.push((r) => m(r.path));
    if ('prefix' in uri) {
      rewritePrefixLength = uri.prefix.length;
      uriPrefix = uri.prefix;
    } else {
      rewritePrefixLength = -1;
      uriPrefix = undefined;
    }
  }
  if (block.method !== undefined) {
    const m = at('method', () => compileStringMatch(block.method!));
    checks.push((r) => m(r.method));
  }
  if (block.authority !== undefined) {
    const m = at('authority', () => compileStringMatch(block.authority!));
    checks.push((r) => m(r.authority));
  }
  if (block.scheme !== undefined) {
    const m = at('scheme', () => compileStringMatch(block.scheme!));
    checks.push((r) => m(r.scheme));
  }
  if (block.port !== undefined) {
    const port = block.port;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new CompileError('port', `${String(port)} is not a port number`);
    }
    checks.push((r) => r.port === port);
  }
  for (const [name, fm] of entries(block.headers, 'headers')) {
    if (IGNORED_HEADER_KEYS.has(name)) continue;
    const m = at(`headers.${name}`, () => compileField(fm));
    checks.push((r) => m(r.header(name)));
  }
  for (const [name, fm] of entries(block.withoutHeaders, 'withoutHeaders')) {
    if (IGNORED_HEADER_KEYS.has(name)) continue;
    const present = isPresence(fm);
    const m = at(`withoutHeaders.${name}`, () => compileField(fm));
    // A missing header counts as "" for a value matcher, so `exact: ""` excludes requests
    // without the header, while `exact: "x"` admits them.
    checks.push(present ? (r) => !m(r.header(name)) : (r) => !m(r.header(name) ?? ''));
  }
  for (const [name, fm] of entries(block.queryParams, 'queryParams')) {
    usesQuery = true;
    const m = at(`queryParams.${name}`, () => compileField(fm));
    checks.push((r) => m(r.queryParam(name)));
  }

  return {
    matches: combine(checks),
    rewritePrefixLength,
    ...(uriPrefix !== undefined ? { uriPrefix } : {}),
    usesQuery,
  };
}

/** The blocks of one route; no block at all is a catch-all (one empty block). */
export function compileMatchBlocks(blocks: readonly MatchBlock[]): CompiledMatchBlock[] {
  if (blocks.length === 0) return [compileMatchBlock({})];
  return blocks.map((b, i) => at(`matches[${i}]`, () => compileMatchBlock(b)));
}

/** Index of the first block that matches, or -1. */
export function findMatchingBlock(blocks: readonly CompiledMatchBlock[], req: RequestView): number {
  for (let i = 0; i < blocks.length; i++) if (blocks[i]!.matches(req)) return i;
  return -1;
}

function compileField(fm: FieldMatch): ValueMatcher {
  if (isPresence(fm)) return (v) => v !== undefined;
  return compileStringMatch(fm as StringMatch);
}

function isPresence(fm: FieldMatch): boolean {
  // Istio's empty matcher (`myheader: {}`) is presence; the snapshot should say
  // `{ present: true }`, but the meaning of `{}` is not in doubt.
  if (!('present' in fm) && !('exact' in fm) && !('prefix' in fm) && !('regex' in fm)) return true;
  if ('present' in fm) {
    if (fm.present !== true) throw new Error('present must be true');
    return true;
  }
  return isPresenceRegex(fm);
}

function combine(checks: RequestPredicate[]): RequestPredicate {
  // Specialised for the common sizes so the usual route (one uri check) costs one call.
  const [a, b, c] = checks;
  switch (checks.length) {
    case 0:
      return always;
    case 1:
      return a!;
    case 2:
      return (r) => a!(r) && b!(r);
    case 3:
      return (r) => a!(r) && b!(r) && c!(r);
    default:
      return (r) => {
        for (let i = 0; i < checks.length; i++) if (!checks[i]!(r)) return false;
        return true;
      };
  }
}

function entries(
  rec: Record<string, FieldMatch> | undefined,
  field: string,
): Array<[string, FieldMatch]> {
  if (rec === undefined) return [];
  if (typeof rec !== 'object' || rec === null) throw new Error(`${field} must be an object`);
  return Object.entries(rec).map(([k, v]) => {
    if (typeof v !== 'object' || v === null) throw new Error(`${field}.${k} must be an object`);
    return [field === 'queryParams' ? k : k.toLowerCase(), v];
  });
}
