// Semantic checks shared by the kinds: what a schema cannot say (oneofs, RE2 syntax, host
// syntax, ranges that depend on other fields). Each check reports with the full field path.
import { RE2JS } from 're2js';
import type { Violation } from '../violation.js';
import { formatFieldPath, type PathSegment } from './field-path.js';
import type { IstioStringMatch } from './fields.js';

export type FieldPath = readonly PathSegment[];

/** Collects violations for one resource; paths are from the document root. */
export class Report {
  readonly violations: Violation[] = [];

  error(path: FieldPath, message: string): void {
    this.violations.push({ severity: 'error', field: formatFieldPath(path), message });
  }

  warning(path: FieldPath, message: string): void {
    this.violations.push({ severity: 'warning', field: formatFieldPath(path), message });
  }

  get hasErrors(): boolean {
    return this.violations.some((v) => v.severity === 'error');
  }
}

/** Istio's regexes are RE2 (Envoy safe_regex); JavaScript's RegExp accepts a different language. */
export function checkRegex(pattern: string, path: FieldPath, report: Report): void {
  try {
    RE2JS.compile(pattern);
  } catch (e) {
    report.error(
      path,
      `invalid RE2 regular expression: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

const MATCH_KINDS = ['exact', 'prefix', 'regex'] as const;

/**
 * StringMatch is a oneof. Inside header and query parameter maps an empty matcher (`{}`) or
 * `regex: "*"` means "present", so those callers pass `presence: true`.
 */
export function checkStringMatch(
  m: IstioStringMatch,
  path: FieldPath,
  report: Report,
  opts: { presence: boolean },
): void {
  const set = MATCH_KINDS.filter((k) => m[k] !== undefined);
  if (set.length > 1) {
    report.error(path, `set only one of exact, prefix, regex (found ${set.join(', ')})`);
  } else if (set.length === 0 && !opts.presence) {
    report.error(path, 'set one of exact, prefix, regex');
  }
  if (m.regex !== undefined && !(opts.presence && m.regex === '*')) {
    checkRegex(m.regex, [...path, 'regex'], report);
  }
}

/** The members of a oneof that are set, for "at most one" / "exactly one" checks. */
export function setMembers<T extends object>(
  obj: T,
  members: readonly (keyof T & string)[],
): string[] {
  return members.filter((k) => obj[k] !== undefined);
}

const DNS_LABEL_ANY_CASE = /^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isDns1123Label(s: string): boolean {
  return DNS1123_LABEL.test(s);
}

/** Kubernetes object names (metadata.name): lower case, at most 253 characters. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export function isIp(s: string): boolean {
  const v4 = IPV4.exec(s);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255);
  return s.includes(':') && /^[0-9A-Fa-f:.]+$/.test(s);
}

/**
 * Istio host names: `*`, a DNS name with an optional `*.` prefix (`*.example.com`), a short
 * name (`reviews`) or, where allowed, an IP address. Istio compares them case-insensitively.
 */
export function checkHost(
  host: string,
  path: FieldPath,
  report: Report,
  opts: { ip: boolean } = { ip: false },
): void {
  if (host === '') {
    report.error(path, 'host must not be empty');
    return;
  }
  if (host === '*') return;
  if (opts.ip && isIp(host)) return;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  const labels = name.split('.');
  if (name.length > 255 || !labels.every((l) => DNS_LABEL_ANY_CASE.test(l))) {
    report.error(
      path,
      `invalid host "${host}": expected a DNS name, optionally with a "*." prefix, or "*"`,
    );
  }
}

/** A reference to another resource: `name` or `namespace/name`. */
export function checkResourceRef(ref: string, path: FieldPath, report: Report): void {
  const parts = ref.split('/');
  const ok =
    parts.length <= 2 && parts.every((p) => p.split('.').every((l) => DNS_LABEL_ANY_CASE.test(l)));
  if (!ok) report.error(path, `invalid reference "${ref}": expected "name" or "namespace/name"`);
}
