// Checks on a VirtualService beyond its schema, after istio/istio
// pkg/config/validation/validation.go (validateVirtualService, validateHTTPRoute, ...).
import { RE2JS } from 're2js';
import { parseDurationMs } from '../duration.js';
import {
  checkHost,
  checkResourceRef,
  checkStringMatch,
  setMembers,
  type FieldPath,
  type Report,
} from '../checks.js';
import type {
  CorsPolicy,
  Destination,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPRetry,
  HTTPRoute,
  RouteDestination,
  VirtualServiceSpec,
} from './schema.js';

/** Envoy retry_on policies Istio accepts, besides bare HTTP status codes. */
const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** Istio's validateHTTPMethod for corsPolicy.allowMethods. */
const CORS_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PATCH',
]);

/** Istio's ValidateHTTPHeaderName. */
const HEADER_NAME = /^[-_A-Za-z0-9]+$/;

export function validateVirtualService(
  spec: VirtualServiceSpec,
  report: Report,
): VirtualServiceSpec {
  const at: FieldPath = ['spec'];
  const hosts = spec.hosts ?? [];
  if (hosts.length === 0) {
    // Istio reads a VirtualService without hosts as a delegate, which only a root's
    // http[].delegate can reach.
    report.warning(
      [...at, 'hosts'],
      'no hosts: this is a delegate VirtualService; delegation is not supported by Weft yet; ignored',
    );
    if (spec.gateways?.length) {
      report.error(
        [...at, 'gateways'],
        'a delegate VirtualService (no hosts) must not set gateways',
      );
    }
    if (spec.tcp?.length)
      report.error([...at, 'tcp'], 'a delegate VirtualService (no hosts) supports http only');
    if (spec.tls?.length)
      report.error([...at, 'tls'], 'a delegate VirtualService (no hosts) supports http only');
  }
  hosts.forEach((h, i) => checkHost(h, [...at, 'hosts', i], report, { ip: true }));
  spec.gateways?.forEach((g, i) => checkResourceRef(g, [...at, 'gateways', i], report));
  spec.exportTo?.forEach((e, i) => {
    if (e === '') report.error([...at, 'exportTo', i], 'must not be empty');
  });

  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) {
    report.error(at, 'at least one of http, tcp or tls is required');
  }

  let catchAll: number | undefined;
  spec.http?.forEach((rule, i) => {
    const path = [...at, 'http', i];
    if (catchAll !== undefined) {
      report.warning(
        path,
        `unreachable: spec.http[${catchAll}] has no match and takes every request`,
      );
    }
    validateHttpRoute(rule, path, report);
    if (catchAll === undefined && !rule.match?.length) catchAll = i;
  });
  spec.tcp?.forEach((rule, i) => {
    validateDestinations(rule.route ?? [], [...at, 'tcp', i, 'route'], report);
  });
  spec.tls?.forEach((rule, i) => {
    const path = [...at, 'tls', i];
    if (!rule.match?.length)
      report.error([...path, 'match'], 'a tls route needs at least one match');
    rule.match?.forEach((m, j) => {
      if (!m.sniHosts?.length) report.error([...path, 'match', j, 'sniHosts'], 'required');
      m.sniHosts?.forEach((h, k) => checkHost(h, [...path, 'match', j, 'sniHosts', k], report));
    });
    validateDestinations(rule.route ?? [], [...path, 'route'], report);
  });
  return spec;
}

function validateHttpRoute(rule: HTTPRoute, path: FieldPath, report: Report): void {
  const actions = setMembers(rule, ['route', 'redirect', 'directResponse', 'delegate']).filter(
    (k) => k !== 'route' || (rule.route?.length ?? 0) > 0,
  );
  if (actions.length === 0) {
    report.error(path, 'one of route, redirect, directResponse or delegate is required');
  }
  for (const extra of actions.slice(1)) {
    report.error([...path, extra], `cannot be combined with ${actions[0]}`);
  }
  if (rule.rewrite && rule.redirect) {
    report.error([...path, 'rewrite'], 'cannot be combined with redirect');
  }
  // As Istio's validation (validateHTTPRoute): a fault only applies to forwarded requests.
  if (rule.fault && (rule.redirect || rule.directResponse)) {
    report.error(
      [...path, 'fault'],
      `cannot be combined with ${rule.redirect ? 'redirect' : 'directResponse'}`,
    );
  }

  rule.match?.forEach((m, i) => validateMatch(m, [...path, 'match', i], report));
  if (rule.route) validateDestinations(rule.route, [...path, 'route'], report);

  const { redirect, directResponse, rewrite } = rule;
  if (redirect) {
    const p = [...path, 'redirect'];
    if (
      redirect.redirectCode !== undefined &&
      (redirect.redirectCode < 300 || redirect.redirectCode > 399)
    ) {
      report.error([...p, 'redirectCode'], 'must be a 3xx status code');
    }
    if (redirect.port !== undefined && redirect.derivePort !== undefined) {
      report.error([...p, 'derivePort'], 'cannot be combined with port');
    }
    if (redirect.prefixRewrite !== undefined) {
      if (redirect.uri !== undefined) {
        report.error([...p, 'prefixRewrite'], 'cannot be combined with uri');
      }
      // It replaces the matched prefix: an exact or regex uri match has none. A block without
      // a uri match is the implicit prefix `/`.
      rule.match?.forEach((m, i) => {
        if (m.uri !== undefined && m.uri.prefix === undefined) {
          report.error(
            [...p, 'prefixRewrite'],
            `needs a uri prefix match, but match[${i}].uri is not a prefix match`,
          );
        }
      });
    }
  }
  if (directResponse) {
    const p = [...path, 'directResponse'];
    if (directResponse.status < 200 || directResponse.status > 599) {
      report.error([...p, 'status'], 'must be between 200 and 599');
    }
    const body = directResponse.body;
    if (body && body.string !== undefined && body.bytes !== undefined) {
      report.error([...p, 'body', 'bytes'], 'cannot be combined with string');
    }
  }
  if (rewrite) {
    const p = [...path, 'rewrite'];
    if (rewrite.uri !== undefined && rewrite.uriRegexRewrite) {
      report.error([...p, 'uriRegexRewrite'], 'cannot be combined with uri');
    }
    if (rewrite.uriRegexRewrite)
      checkRegexRewrite(rewrite.uriRegexRewrite, [...p, 'uriRegexRewrite'], report);
  }
  if (rule.retries) validateRetries(rule.retries, [...path, 'retries'], report);
  if (rule.fault) validateFault(rule.fault, [...path, 'fault'], report);
  validateMirrors(rule, path, report);
  if (rule.corsPolicy) validateCors(rule.corsPolicy, [...path, 'corsPolicy'], report);
}

/**
 * Envoy's regex_rewrite: RE2 substitution where `\1`..`\9` name capture groups (`\0` the whole
 * match) and `\\` is a backslash. RE2 refuses any other escape and a group the pattern lacks.
 */
function checkRegexRewrite(
  r: { match: string; rewrite: string },
  path: FieldPath,
  report: Report,
): void {
  let groups: number;
  try {
    groups = RE2JS.compile(r.match).groupCount();
  } catch (e) {
    report.error(
      [...path, 'match'],
      `invalid RE2 regular expression: ${e instanceof Error ? e.message : String(e)}`,
    );
    return;
  }
  const s = r.rewrite;
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') continue;
    const next = s[i + 1];
    if (next === '\\') {
      i++;
    } else if (next !== undefined && next >= '0' && next <= '9') {
      if (Number(next) > groups) {
        report.error(
          [...path, 'rewrite'],
          `refers to group \\${next}, but match has ${groups} capture group${groups === 1 ? '' : 's'}`,
        );
      }
      i++;
    } else {
      report.error(
        [...path, 'rewrite'],
        'a backslash must be followed by a digit (a capture group) or another backslash',
      );
      return;
    }
  }
}

function validateMirrors(rule: HTTPRoute, path: FieldPath, report: Report): void {
  if (rule.mirror) validateDestination(rule.mirror, [...path, 'mirror'], report);
  if (rule.mirror && rule.mirrors?.length) {
    report.error([...path, 'mirrors'], 'cannot be combined with mirror');
  }
  rule.mirrors?.forEach((m, i) =>
    validateDestination(m.destination, [...path, 'mirrors', i, 'destination'], report),
  );
  if (rule.mirrorPercent !== undefined && rule.mirrorPercent > 100) {
    report.error([...path, 'mirrorPercent'], 'percentage must be 0-100');
  }
  if (!rule.mirror) {
    for (const key of ['mirrorPercentage', 'mirrorPercent'] as const) {
      if (rule[key] !== undefined) report.warning([...path, key], 'has no effect without mirror');
    }
  }
}

function validateCors(c: CorsPolicy, path: FieldPath, report: Report): void {
  c.allowOrigins?.forEach((o, i) => {
    const p = [...path, 'allowOrigins', i];
    checkStringMatch(o, p, report, { presence: false });
    for (const k of ['exact', 'prefix', 'regex'] as const) {
      if (o[k] === '') report.error([...p, k], 'must not be empty');
    }
  });
  c.allowMethods?.forEach((m, i) => {
    if (!CORS_METHODS.has(m)) {
      report.error([...path, 'allowMethods', i], `"${m}" is not a supported HTTP method`);
    }
  });
  for (const key of ['allowHeaders', 'exposeHeaders'] as const) {
    c[key]?.forEach((h, i) => {
      if (!HEADER_NAME.test(h)) {
        report.error([...path, key, i], `"${h}" is not a valid header name`);
      }
    });
  }
  if (c.maxAge !== undefined) {
    const ms = parseDurationMs(c.maxAge);
    if (ms !== undefined && ms % 1000 !== 0) {
      report.error(
        [...path, 'maxAge'],
        'is accurate only to seconds; use a whole number of seconds',
      );
    }
  }
}

function validateMatch(m: HTTPMatchRequest, path: FieldPath, report: Report): void {
  for (const key of ['uri', 'scheme', 'method', 'authority'] as const) {
    const sm = m[key];
    if (sm) checkStringMatch(sm, [...path, key], report, { presence: false });
  }
  for (const key of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [name, sm] of Object.entries(m[key] ?? {})) {
      if (name === '') report.error([...path, key], 'names must not be empty');
      checkStringMatch(sm, [...path, key, name], report, { presence: true });
    }
  }
  if (m.ignoreUriCase && m.uri?.regex !== undefined) {
    report.warning(
      [...path, 'ignoreUriCase'],
      'has no effect on a regex uri match; use (?i) in the regex',
    );
  }
}

function validateDestination(d: Destination, path: FieldPath, report: Report): void {
  checkHost(d.host, [...path, 'host'], report);
}

function validateDestinations(
  routes: readonly RouteDestination[],
  path: FieldPath,
  report: Report,
): void {
  let total = 0;
  routes.forEach((r, i) => {
    validateDestination(r.destination, [...path, i, 'destination'], report);
    const w = r.weight ?? 0;
    if (w < 0) report.error([...path, i, 'weight'], 'must not be negative');
    else total += w;
  });
  // Weights are relative; one destination takes everything whatever its weight.
  if (routes.length > 1 && total === 0) {
    report.error(
      path,
      'with more than one destination, at least one weight must be greater than 0',
    );
  }
}

function validateRetries(r: HTTPRetry, path: FieldPath, report: Report): void {
  if (r.attempts !== undefined && r.attempts < 0) {
    report.error([...path, 'attempts'], 'must not be negative');
  }
  if (r.perTryTimeout !== undefined && (parseDurationMs(r.perTryTimeout) ?? 0) < 1) {
    report.error([...path, 'perTryTimeout'], 'must be at least 1ms');
  }
  if (r.backoff !== undefined && (parseDurationMs(r.backoff) ?? 0) < 1) {
    report.error([...path, 'backoff'], 'must be at least 1ms');
  }
  // Istio: a policy with attempts 0 (retries off) that sets anything else is a mistake.
  if (r.attempts === 0) {
    for (const f of ['perTryTimeout', 'retryOn', 'backoff'] as const) {
      if (r[f] !== undefined)
        report.error(
          [...path, f],
          'set while attempts is 0 (retries disabled); remove it or set attempts',
        );
    }
  }
  if (r.retryOn !== undefined) {
    for (const policy of r.retryOn.split(',').map((s) => s.trim())) {
      if (policy === '' || RETRY_ON.has(policy)) continue;
      const code = /^\d+$/.test(policy) ? Number(policy) : Number.NaN;
      if (!(code >= 100 && code <= 599)) {
        report.error([...path, 'retryOn'], `unknown retry policy "${policy}"`);
      }
    }
  }
}

function validateFault(f: HTTPFaultInjection, path: FieldPath, report: Report): void {
  if (f.delay) {
    const p = [...path, 'delay'];
    const set = setMembers(f.delay, ['fixedDelay', 'exponentialDelay']);
    if (set.length !== 1) report.error(p, 'set exactly one of fixedDelay, exponentialDelay');
    if (f.delay.fixedDelay !== undefined && (parseDurationMs(f.delay.fixedDelay) ?? 0) < 1) {
      report.error([...p, 'fixedDelay'], 'must be at least 1ms');
    }
    if (f.delay.percent !== undefined && (f.delay.percent < 0 || f.delay.percent > 100)) {
      report.error([...p, 'percent'], 'percentage must be 0-100');
    }
    if (f.delay.percentage === undefined && f.delay.percent === undefined) {
      report.warning(p, 'no percentage: Istio delays no request (an absent percentage is 0%)');
    }
  }
  if (f.abort) {
    const p = [...path, 'abort'];
    const set = setMembers(f.abort, ['httpStatus', 'grpcStatus', 'http2Error']);
    if (set.length !== 1) report.error(p, 'set exactly one of httpStatus, grpcStatus, http2Error');
    const s = f.abort.httpStatus;
    if (s !== undefined && (s < 200 || s > 599)) {
      report.error([...p, 'httpStatus'], 'must be between 200 and 599');
    }
    if (f.abort.percentage === undefined) {
      report.warning(p, 'no percentage: Istio aborts no request (an absent percentage is 0%)');
    }
  }
  if (!f.delay && !f.abort) report.error(path, 'set delay, abort or both');
}
