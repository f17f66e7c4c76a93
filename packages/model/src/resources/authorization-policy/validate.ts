// Checks on an AuthorizationPolicy beyond its schema, after istio/istio
// pkg/config/validation (ValidateAuthorizationPolicy) and what Weft's proxies evaluate.
// Fields Weft cannot evaluate (JWT request principals, CUSTOM providers, some condition keys)
// are warnings whose message says how the proxy treats them: fail closed, never open.
import { isIP } from 'node:net';
import type { FieldPath, Report } from '../checks.js';
import type { AuthorizationPolicySpec, AuthorizationRule, PolicyTargetRef } from './schema.js';

/** Condition keys Weft evaluates; `request.headers[name]` is matched separately. */
export const AUTHZ_CONDITION_KEYS: ReadonlySet<string> = new Set([
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'destination.port',
]);

/** Istio condition keys Weft does not evaluate yet. */
const KNOWN_UNSUPPORTED_KEYS = new Set([
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'destination.ip',
  'connection.sni',
]);
const KNOWN_UNSUPPORTED_PREFIXES = ['request.auth.claims[', 'experimental.envoy.filters.'];

export const HEADER_KEY = /^request\.headers\[([^\]]+)\]$/;

/** How a rule that needs what Weft cannot evaluate behaves, worded for warnings. */
const FAIL_CLOSED =
  'in an ALLOW policy the rule never matches, in a DENY policy this condition counts as matched';

export function validateAuthorizationPolicy(
  spec: AuthorizationPolicySpec,
  report: Report,
  ctx: { namespace: string },
): AuthorizationPolicySpec {
  const at: FieldPath = ['spec'];
  const action = spec.action ?? 'ALLOW';
  const refs = spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
  if (spec.targetRef !== undefined && spec.targetRefs !== undefined)
    report.error([...at, 'targetRef'], 'set only one of targetRef and targetRefs');
  if (spec.selector !== undefined && refs.length > 0)
    report.error([...at, 'selector'], 'set at most one of selector and targetRef(s)');
  const refField = spec.targetRefs !== undefined ? 'targetRefs' : 'targetRef';
  refs.forEach((ref, i) => {
    const path: FieldPath =
      spec.targetRefs !== undefined ? [...at, refField, i] : [...at, refField];
    checkTargetRef(ref, path, ctx.namespace, report);
  });

  if (action === 'CUSTOM') {
    if (spec.provider?.name === undefined || spec.provider.name === '')
      report.error([...at, 'provider', 'name'], 'required with action CUSTOM');
    else
      report.warning(
        [...at, 'action'],
        'CUSTOM (external authorization) is not supported by Weft: requests this policy matches are denied (403), as Istio does when a provider cannot be used',
      );
  } else if (spec.provider !== undefined) {
    report.error([...at, 'provider'], 'only allowed with action CUSTOM');
  }
  if ((action === 'DENY' || action === 'AUDIT') && (spec.rules ?? []).length === 0)
    report.warning(
      [...at, 'rules'],
      `a ${action} policy without rules never matches; to deny everything use rules: [{}]`,
    );
  (spec.rules ?? []).forEach((rule, i) => checkRule(rule, [...at, 'rules', i], report));
  return spec;
}

function checkTargetRef(
  ref: PolicyTargetRef,
  path: FieldPath,
  namespace: string,
  report: Report,
): void {
  if (ref.namespace !== undefined && ref.namespace !== '' && ref.namespace !== namespace)
    report.error(
      [...path, 'namespace'],
      `must be the policy's own namespace "${namespace}" (cross-namespace targets are not allowed)`,
    );
  if (ref.name === '') report.error([...path, 'name'], 'must not be empty');
  const group = ref.group ?? '';
  const service = ref.kind === 'Service' && (group === '' || group === 'core');
  const gateway = ref.kind === 'Gateway';
  if (!service && !gateway)
    report.warning(
      [...path, 'kind'],
      `target ${group === '' ? '' : `${group}/`}${ref.kind} is not supported by Weft (only Service and Gateway); this reference selects nothing`,
    );
}

function checkRule(rule: AuthorizationRule, at: FieldPath, report: Report): void {
  (rule.from ?? []).forEach((from, i) => {
    const path: FieldPath = [...at, 'from', i, 'source'];
    const src = from.source;
    if (src === undefined || Object.values(src).every((v) => v === undefined || v.length === 0)) {
      report.error(path, 'must not be empty: set at least one field, or leave out the from entry');
      return;
    }
    for (const [field, values] of Object.entries(src) as [string, string[] | undefined][]) {
      if (values === undefined) continue;
      checkValues(values, [...path, field], report);
      if (field.endsWith('pBlocks') || field.endsWith('IpBlocks'))
        values.forEach((v, j) => checkIpBlock(v, [...path, field, j], report));
      if (field === 'requestPrincipals' || field === 'notRequestPrincipals')
        report.warning(
          [...path, field],
          `request principals come from JWTs, which Weft does not verify yet; ${FAIL_CLOSED}`,
        );
      if (field === 'serviceAccounts' || field === 'notServiceAccounts')
        values.forEach((v, j) => {
          if (!/^[^/]+\/[^/]+$/.test(v))
            report.error([...path, field, j], `expected "namespace/serviceaccount", got "${v}"`);
        });
    }
  });
  (rule.to ?? []).forEach((to, i) => {
    const path: FieldPath = [...at, 'to', i, 'operation'];
    const op = to.operation;
    if (op === undefined || Object.values(op).every((v) => v === undefined || v.length === 0)) {
      report.error(path, 'must not be empty: set at least one field, or leave out the to entry');
      return;
    }
    for (const [field, values] of Object.entries(op) as [string, string[] | undefined][]) {
      if (values === undefined) continue;
      checkValues(values, [...path, field], report);
      if (field === 'ports' || field === 'notPorts')
        values.forEach((v, j) => checkPort(v, [...path, field, j], report));
      if (field === 'paths' || field === 'notPaths')
        values.forEach((v, j) => checkPathTemplate(v, [...path, field, j], report));
    }
  });
  (rule.when ?? []).forEach((cond, i) => {
    const path: FieldPath = [...at, 'when', i];
    if (cond.key === '') report.error([...path, 'key'], 'must not be empty');
    const values = [...(cond.values ?? []), ...(cond.notValues ?? [])];
    if (values.length === 0) report.error(path, 'set at least one of values and notValues');
    checkValues(cond.values ?? [], [...path, 'values'], report);
    checkValues(cond.notValues ?? [], [...path, 'notValues'], report);
    const key = cond.key;
    if (HEADER_KEY.test(key) || AUTHZ_CONDITION_KEYS.has(key)) {
      const each = (fn: (v: string, p: FieldPath) => void) => {
        (cond.values ?? []).forEach((v, j) => fn(v, [...path, 'values', j]));
        (cond.notValues ?? []).forEach((v, j) => fn(v, [...path, 'notValues', j]));
      };
      if (key === 'source.ip' || key === 'remote.ip') each((v, p) => checkIpBlock(v, p, report));
      if (key === 'destination.port') each((v, p) => checkPort(v, p, report));
    } else if (
      KNOWN_UNSUPPORTED_KEYS.has(key) ||
      KNOWN_UNSUPPORTED_PREFIXES.some((p) => key.startsWith(p))
    ) {
      report.warning([...path, 'key'], `"${key}" is not supported by Weft yet; ${FAIL_CLOSED}`);
    } else if (key !== '') {
      report.error(
        [...path, 'key'],
        `unknown attribute "${key}"; expected request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, destination.port (or another Istio attribute)`,
      );
    }
  });
}

function checkValues(values: readonly string[], path: FieldPath, report: Report): void {
  values.forEach((v, i) => {
    if (v === '') report.error([...path, i], 'empty value not allowed');
    else if (v.length > 2 && v.slice(1, -1).includes('*') && !v.includes('{'))
      report.warning(
        [...path, i],
        `"*" only works at the start (suffix match) or end (prefix match) of a value; "${v}" is compared as it is written`,
      );
  });
}

/** A single address or a CIDR block, IPv4 or IPv6. */
export function parseIpBlock(v: string): { address: string; prefix: number } | undefined {
  const slash = v.indexOf('/');
  const address = slash < 0 ? v : v.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max };
  const bits = v.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return { address, prefix: Number(bits) };
}

function checkIpBlock(v: string, path: FieldPath, report: Report): void {
  if (v !== '' && parseIpBlock(v) === undefined)
    report.error(path, `invalid IP address or CIDR block "${v}"`);
}

function checkPort(v: string, path: FieldPath, report: Report): void {
  if (v === '') return;
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 65535)) report.error(path, `invalid port "${v}": expected 1-65535`);
}

/** Istio's URI templates in paths: `{*}` one segment, `{**}` the rest (once, last). */
function checkPathTemplate(v: string, path: FieldPath, report: Report): void {
  if (!v.includes('{')) return;
  const segments = v.split('/').slice(1);
  const ops = segments.filter((s) => s.includes('{'));
  if (!v.startsWith('/') || ops.some((s) => s !== '{*}' && s !== '{**}')) {
    report.error(
      path,
      `invalid path template "${v}": "{*}" and "{**}" must each be a whole path segment`,
    );
    return;
  }
  const star2 = segments.indexOf('{**}');
  if (segments.filter((s) => s === '{**}').length > 1)
    report.error(path, 'only one {**} operator is allowed in a path');
  else if (star2 >= 0 && segments.slice(star2 + 1).some((s) => s === '{*}'))
    report.error(path, 'the {**} operator must be the last operator in the path');
}
