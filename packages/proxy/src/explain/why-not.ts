// Why a route's match blocks did not accept a request, field by field. Each field is judged by
// compiling a one-field block with the routing/ compiler the proxy itself uses, so what this
// says about a field can never disagree with what the real matcher did with it; this module
// only adds the words.

import type { MatchBlock, ProxyNode, StringMatch } from '@weft/model';
import { compileMatchBlock } from '../routing/match-block.js';
import type { RequestView } from '../routing/request-view.js';
import { sourceMismatch } from '../routing/source-match.js';

type FieldMatch = StringMatch | { present: true };

/** One field of one block that rejected the request. */
export interface FieldFailure {
  /** Index of the block in the route's `match` list. */
  block: number;
  /** Istio's field under the block: `uri`, `headers.end-user`, `queryParams.v`, `port`. */
  field: string;
  /** What was expected against what the request had: `prefix "/order" does not match "/user/1"`. */
  reason: string;
}

/**
 * Every failing field of every block (not only the first, so that one look tells a person all
 * they would have to change). An empty result for a block means the block matches.
 */
export function whyBlocksFail(
  blocks: readonly MatchBlock[],
  view: RequestView,
  node?: Pick<ProxyNode, 'labels' | 'namespace'>,
): FieldFailure[] {
  const out: FieldFailure[] = [];
  blocks.forEach((b, i) => {
    // A block for other proxies is not in this proxy's table: that is the whole reason.
    const notHere = node === undefined ? undefined : sourceMismatch(b, node);
    if (notHere !== undefined) out.push({ block: i, ...notHere });
    else out.push(...whyBlockFails(b, i, view));
  });
  return out;
}

export function whyBlockFails(block: MatchBlock, index: number, view: RequestView): FieldFailure[] {
  const out: FieldFailure[] = [];
  const fail = (field: string, reason: string) => out.push({ block: index, field, reason });
  const rejects = (one: MatchBlock) => !compileMatchBlock(one).matches(view);

  if (block.uri !== undefined) {
    const one: MatchBlock = { uri: block.uri };
    if (block.ignoreUriCase === true) one.ignoreUriCase = true;
    if (rejects(one)) {
      const ci = block.ignoreUriCase === true && !('regex' in block.uri) ? ' (ignoring case)' : '';
      fail('uri', `${describe(block.uri)}${ci} does not match ${q(view.path)}`);
    }
  }
  for (const f of ['method', 'authority', 'scheme'] as const) {
    const m = block[f];
    if (m !== undefined && rejects({ [f]: m }))
      fail(f, `${describe(m)} does not match ${q(view[f])}`);
  }
  if (block.port !== undefined && rejects({ port: block.port }))
    fail('port', `${block.port} is not the request's port ${view.port}`);
  for (const [name, m] of Object.entries(block.headers ?? {})) {
    if (!rejects({ headers: { [name]: m } })) continue;
    const v = view.header(name.toLowerCase());
    fail(`headers.${name}`, v === undefined ? 'missing' : `${describe(m)} does not match ${q(v)}`);
  }
  for (const [name, m] of Object.entries(block.withoutHeaders ?? {})) {
    if (!rejects({ withoutHeaders: { [name]: m } })) continue;
    const v = view.header(name.toLowerCase());
    fail(
      `withoutHeaders.${name}`,
      isPresence(m)
        ? `present (${q(v ?? '')}) but must be absent`
        : `${q(v ?? '')} matches ${describe(m)} but must not`,
    );
  }
  for (const [name, m] of Object.entries(block.queryParams ?? {})) {
    if (!rejects({ queryParams: { [name]: m } })) continue;
    const v = view.queryParam(name);
    fail(
      `queryParams.${name}`,
      v === undefined ? 'missing' : `${describe(m)} does not match ${q(v)}`,
    );
  }
  return out;
}

export function describe(m: FieldMatch): string {
  if (isPresence(m)) return 'present';
  if ('exact' in m) return `exact ${q(m.exact)}`;
  if ('prefix' in m) return `prefix ${q(m.prefix)}`;
  return 'regex' in m ? `regex ${q(m.regex)}` : 'present';
}

/** One match block in one line, as `weft explain` lists a route's conditions. */
export function describeBlock(b: MatchBlock): string {
  const parts: string[] = [];
  if (b.uri) parts.push(`uri ${describe(b.uri)}${b.ignoreUriCase ? ' (ignoring case)' : ''}`);
  if (b.method) parts.push(`method ${describe(b.method)}`);
  if (b.authority) parts.push(`authority ${describe(b.authority)}`);
  if (b.scheme) parts.push(`scheme ${describe(b.scheme)}`);
  if (b.port !== undefined) parts.push(`port ${b.port}`);
  for (const [k, v] of Object.entries(b.headers ?? {})) parts.push(`headers.${k} ${describe(v)}`);
  for (const [k, v] of Object.entries(b.withoutHeaders ?? {}))
    parts.push(`withoutHeaders.${k} ${describe(v)}`);
  for (const [k, v] of Object.entries(b.queryParams ?? {}))
    parts.push(`queryParams.${k} ${describe(v)}`);
  const labels = Object.entries(b.sourceLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  if (labels.length > 0) parts.push(`sourceLabels {${labels.join(', ')}}`);
  if (b.sourceNamespace !== undefined) parts.push(`sourceNamespace ${q(b.sourceNamespace)}`);
  return parts.length === 0 ? 'any request' : parts.join(', ');
}

function isPresence(m: FieldMatch): boolean {
  // `{}` is Istio's empty matcher; the compiler reads it as presence too.
  if (!('exact' in m) && !('prefix' in m) && !('regex' in m)) return true;
  return 'regex' in m && m.regex === '*';
}

function q(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}...` : s);
}
