// Turns a zod schema into Weft's validation contract: every field Istio has but Weft does not
// implement, and every field Istio does not have at all, becomes a warning naming the field;
// everything else wrong is an error with its full path. All messages are `z.strictObject`s, so
// zod reports extra keys as `unrecognized_keys` at the right path; those keys are warned about,
// removed from a copy of the input, and the copy is parsed again.
import type { z } from 'zod';
import type { Violation } from '../violation.js';
import { formatFieldPath, parseFieldPath, type PathSegment } from './field-path.js';
import { Report, type FieldPath } from './checks.js';
import type { SpecContext, SpecResult } from './types.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Protobuf JSON reads `null` as "not set"; YAML writes an empty value (`tls:`) as null. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = dropNulls(x);
  return out;
}

function nodeAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isObj(cur) && typeof seg === 'string') cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function toSegments(path: readonly PropertyKey[]): PathSegment[] {
  return path.map((p) => (typeof p === 'number' ? p : String(p)));
}

function snakeToCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const PARSE_PARAMS = {
  reportInput: true,
  error: (issue: z.core.$ZodRawIssue) =>
    issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined,
} as const;

type Pattern = readonly string[];

const compiled = new WeakMap<readonly string[], Pattern[]>();

function compilePatterns(fields: readonly string[]): Pattern[] {
  let patterns = compiled.get(fields);
  if (!patterns) {
    patterns = fields.map((f) =>
      f
        .replaceAll('[]', '.[]')
        .split('.')
        .filter((s) => s !== ''),
    );
    compiled.set(fields, patterns);
  }
  return patterns;
}

function segMatches(p: string | undefined, s: PathSegment): boolean {
  return typeof s === 'number' ? p === '[]' : p === s;
}

/** Whether `path` is a supported field (or inside one), or leads to one. */
function coverage(
  path: readonly PathSegment[],
  patterns: readonly Pattern[],
): 'covered' | 'partial' | 'none' {
  let partial = false;
  for (const p of patterns) {
    let i = 0;
    while (i < path.length && i < p.length && segMatches(p[i], path[i] as PathSegment)) i++;
    if (i === path.length || i === p.length) {
      if (i === p.length) return 'covered';
      partial = true;
    }
  }
  return partial ? 'partial' : 'none';
}

function warnUnsupported(
  node: unknown,
  path: PathSegment[],
  patterns: readonly Pattern[],
  report: Report,
): void {
  const visit = (key: PathSegment, child: unknown) => {
    const p = [...path, key];
    const c = coverage(p, patterns);
    if (c === 'covered') return;
    if (c === 'none' && typeof key === 'string') {
      report.warning(p, 'not supported by Weft yet; ignored');
      return;
    }
    warnUnsupported(child, p, patterns, report);
  };
  if (Array.isArray(node)) node.forEach((x, i) => visit(i, x));
  else if (isObj(node)) for (const [k, x] of Object.entries(node)) visit(k, x);
}

export interface SpecChecks<Spec> {
  schema: z.ZodType<Spec>;
  supportedFields: readonly string[];
  /** Semantic checks on a spec that passed the schema; may return a normalised copy. */
  validate(spec: Spec, report: Report, ctx: SpecContext): Spec;
}

const ROOT_KEY = 'spec';
const ROOT: FieldPath = [ROOT_KEY];

export function checkSpec<Spec>(
  input: unknown,
  checks: SpecChecks<Spec>,
  ctx: SpecContext,
): SpecResult<Spec> {
  const report = new Report();
  if (input === undefined || input === null) {
    report.error(ROOT, 'required');
    return { violations: report.violations };
  }
  const data = dropNulls(structuredClone(input));
  // Keys renamed from snake_case, keyed by their new path, so warnings name what the user wrote.
  const renamed = new Map<string, string>();
  let result = checks.schema.safeParse(data, PARSE_PARAMS);
  for (let round = 0; !result.success && round < 100; round++) {
    const extra = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
    if (extra.length === 0) break;
    for (const issue of extra) {
      const obj = nodeAt(data, issue.path);
      if (!isObj(obj)) continue;
      const at = toSegments(issue.path);
      for (const key of issue.keys) {
        // Protobuf JSON parsers accept the proto field name too (`prefix_rewrite`).
        const camel = snakeToCamel(key);
        if (camel !== key && !(camel in obj)) {
          obj[camel] = obj[key];
          delete obj[key];
          renamed.set(formatFieldPath([...at, camel]), key);
          continue;
        }
        const written = renamed.get(formatFieldPath([...at, key])) ?? key;
        report.warning([...ROOT, ...at, written], `unknown field "${written}"; ignored`);
        delete obj[key];
      }
    }
    result = checks.schema.safeParse(data, PARSE_PARAMS);
  }

  warnUnsupported(data, [...ROOT], compilePatterns(checks.supportedFields), report);

  let spec: Spec | undefined;
  if (result.success) {
    spec = result.data;
  } else {
    for (const issue of result.error.issues) {
      report.error([...ROOT, ...toSegments(issue.path)], issue.message);
    }
    spec = withoutBadFields(data, result.error.issues, checks.schema);
  }
  // Semantic checks also run on a spec whose bad fields were dropped, so that one pass reports
  // as much as possible; such a spec is never returned.
  if (spec !== undefined) spec = checks.validate(spec, report, ctx);
  const violations = renamed.size ? asWritten(report.violations, renamed) : report.violations;
  return result.success && !report.hasErrors ? { spec, violations } : { violations };
}

/** Puts back the snake_case names the user wrote, so that each message names what is in the file. */
function asWritten(violations: Violation[], renamed: ReadonlyMap<string, string>): Violation[] {
  return violations.map((v) => {
    const segs = parseFieldPath(v.field);
    if (!segs || segs[0] !== ROOT_KEY) return v;
    const out: PathSegment[] = [];
    // `renamed` is keyed by paths below spec, with the new names.
    segs.slice(1).forEach((s, i) => {
      const original = renamed.get(formatFieldPath([...segs.slice(1, i + 1), s]));
      out.push(original ?? s);
    });
    return { ...v, field: formatFieldPath([ROOT_KEY, ...out]) };
  });
}

function withoutBadFields<Spec>(
  data: unknown,
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType<Spec>,
): Spec | undefined {
  const copy = structuredClone(data);
  for (const issue of issues) {
    const key = issue.path[issue.path.length - 1];
    const parent = nodeAt(copy, issue.path.slice(0, -1));
    // Removing a list element would shift the indices of the paths already reported.
    if (typeof key !== 'string' || !isObj(parent)) return undefined;
    delete parent[key];
  }
  const again = schema.safeParse(copy);
  return again.success ? again.data : undefined;
}
