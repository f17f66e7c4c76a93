// Istio's StringMatch, compiled once per snapshot into a plain predicate. Regexes are RE2
// (linear time, so a route cannot be used to stall the proxy) and must match the whole
// value, as Envoy's safe_regex does.

import type { StringMatch } from '@weft/model';
import { RE2JS } from 're2js';

export type ValueMatcher = (value: string | undefined) => boolean;

export interface StringMatchOptions {
  ignoreCase?: boolean;
}

/** Istio treats `regex: "*"` (not a valid RE2) like an empty matcher: presence. */
export function isPresenceRegex(m: StringMatch): boolean {
  return 'regex' in m && m.regex === '*';
}

export function compileStringMatch(m: StringMatch, opts: StringMatchOptions = {}): ValueMatcher {
  const kinds = ['exact', 'prefix', 'regex'].filter((k) => k in m);
  if (kinds.length !== 1) {
    throw new Error(
      `a string match needs exactly one of exact, prefix, regex (got ${kinds.length})`,
    );
  }
  if ('exact' in m) {
    const want = str(m.exact, 'exact');
    if (opts.ignoreCase) {
      const lower = want.toLowerCase();
      return (v) => v !== undefined && v.length === lower.length && v.toLowerCase() === lower;
    }
    return (v) => v === want;
  }
  if ('prefix' in m) {
    const want = str(m.prefix, 'prefix');
    if (want === '') return (v) => v !== undefined;
    if (opts.ignoreCase) {
      const lower = want.toLowerCase();
      return (v) =>
        v !== undefined &&
        v.length >= lower.length &&
        v.slice(0, lower.length).toLowerCase() === lower;
    }
    return (v) => v !== undefined && v.startsWith(want);
  }
  const source = str(m.regex, 'regex');
  if (source === '*') return (v) => v !== undefined;
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    throw new Error(`invalid RE2 regex ${JSON.stringify(source)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return (v) => v !== undefined && re.testExact(v);
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new Error(`${field} must be a string`);
  return v;
}
