// Authorization (Istio's AuthorizationPolicy), compiled once per snapshot for one proxy: the
// policies whose scope selects this workload become closures, and a request costs a walk over
// them with its attributes. Evaluation is Istio's: CUSTOM (unsupported, so a match denies),
// then DENY (any match denies), then ALLOW (none on the workload: allow; otherwise one must
// match); AUDIT only marks. Pure: the caller hands in the request's attributes.

import {
  AUTHZ_CONDITION_KEYS,
  HEADER_KEY,
  type AuthorizationConditionConfig,
  type AuthorizationOperationConfig,
  type AuthorizationPolicyConfig,
  type AuthorizationRuleConfig,
  type AuthorizationScope,
  type AuthorizationSourceConfig,
  type ProxyNode,
} from '@weft/model';
import { at, CompileError } from '../../routing/compile-error.js';
import { compileIpBlocks, compilePorts, compileValues, type StringPredicate } from './values.js';

export { normalizePath } from './normalize-path.js';
export { plainAddress } from './values.js';

/** What a policy can ask about a request. Strings are never undefined, only empty. */
export interface AuthzRequest {
  readonly method: string;
  /** Normalized path without the query (normalizePath). */
  readonly path: string;
  /** The Host / :authority as sent, port included. */
  readonly host: string;
  /** The port the request arrived on (sidecar inbound: the app's port, as Istio's). */
  readonly port: number;
  /** The peer's address (the connection's source), IPv4-mapped addresses unwrapped. */
  readonly sourceIp: string;
  /** The trusted client address (X-Forwarded-For with trusted hops; else the peer). */
  readonly remoteIp: string;
  /** Verified mTLS peer identity, `<trust domain>/ns/<ns>/sa/<sa>`; undefined on plaintext. */
  readonly principal: string | undefined;
  /** A request header, several values joined with `,`; undefined when absent. */
  header(name: string): string | undefined;
}

export interface AuthzDecision {
  readonly allowed: boolean;
  /** The policy that denied (`ns/name`), or undefined when no policy matched (ALLOW lists). */
  readonly policy: string | undefined;
  /** The first AUDIT policy that matched, if any. */
  readonly audit: string | undefined;
}

type Predicate = (r: AuthzRequest) => boolean;

interface CompiledPolicy {
  readonly name: string;
  readonly matches: Predicate;
}

export interface CompiledAuthz {
  /** Policy names that apply to this proxy, by action, for logs and explain. */
  readonly policies: readonly string[];
  readonly custom: readonly CompiledPolicy[];
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
  readonly audit: readonly CompiledPolicy[];
}

export interface AuthzScopeTarget {
  node: ProxyNode;
  /** `<ns>/<name>` of the Gateways this gateway proxy serves (targetRefs of kind Gateway). */
  gateways: readonly string[];
}

/** Undefined when no policy applies to this proxy: requests then pay nothing. */
export function compileAuthorization(
  policies: readonly AuthorizationPolicyConfig[] | undefined,
  target: AuthzScopeTarget,
): CompiledAuthz | undefined {
  if (policies === undefined) return undefined;
  if (!Array.isArray(policies)) throw new CompileError('authorization', 'must be a list');
  const out = {
    policies: [] as string[],
    custom: [] as CompiledPolicy[],
    deny: [] as CompiledPolicy[],
    allow: [] as CompiledPolicy[],
    audit: [] as CompiledPolicy[],
  };
  policies.forEach((p, i) =>
    at(`authorization[${i}]`, () => {
      if (typeof p !== 'object' || p === null) throw new Error('must be an object');
      // Dry-run policies are for trying a policy out: they must never change a decision.
      if (p.dryRun === true || !appliesTo(p.scope ?? {}, target)) return;
      const compiled = { name: p.name, matches: compilePolicy(p) };
      out.policies.push(p.name);
      switch (p.action) {
        case 'ALLOW':
          out.allow.push(compiled);
          break;
        case 'DENY':
          out.deny.push(compiled);
          break;
        case 'AUDIT':
          out.audit.push(compiled);
          break;
        case 'CUSTOM':
          out.custom.push(compiled);
          break;
        default:
          throw new CompileError('action', `unknown action ${JSON.stringify(p.action)}`);
      }
    }),
  );
  return out.policies.length === 0 ? undefined : out;
}

const ALLOWED: AuthzDecision = { allowed: true, policy: undefined, audit: undefined };

export function evaluateAuthorization(authz: CompiledAuthz, r: AuthzRequest): AuthzDecision {
  const audit = authz.audit.length === 0 ? undefined : firstMatch(authz.audit, r);
  const custom = firstMatch(authz.custom, r) ?? firstMatch(authz.deny, r);
  if (custom !== undefined) return { allowed: false, policy: custom, audit };
  if (authz.allow.length === 0 || firstMatch(authz.allow, r) !== undefined)
    return audit === undefined ? ALLOWED : { allowed: true, policy: undefined, audit };
  return { allowed: false, policy: undefined, audit };
}

function firstMatch(list: readonly CompiledPolicy[], r: AuthzRequest): string | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.matches(r)) return list[i]!.name;
  return undefined;
}

function appliesTo(scope: AuthorizationScope, t: AuthzScopeTarget): boolean {
  const node = t.node;
  if (scope.namespace !== undefined && scope.namespace !== node.namespace) return false;
  if (scope.services !== undefined || scope.gateways !== undefined) {
    if (node.role === 'gateway') return (scope.gateways ?? []).some((g) => t.gateways.includes(g));
    return node.service !== undefined && (scope.services ?? []).includes(node.service);
  }
  const selector = scope.selector;
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector)) if (node.labels[k] !== v) return false;
  return true;
}

const NEVER: Predicate = () => false;
const ALWAYS: Predicate = () => true;

function compilePolicy(p: AuthorizationPolicyConfig): Predicate {
  const rules = p.rules ?? [];
  // What Weft cannot evaluate must never widen access: an ALLOW rule that needs it does not
  // match; in DENY, AUDIT and CUSTOM policies the condition counts as met.
  const unknown = p.action === 'ALLOW' ? NEVER : ALWAYS;
  const compiled = rules.map((rule, i) => at(`rules[${i}]`, () => compileRule(rule, unknown)));
  if (compiled.length === 0) return NEVER;
  if (compiled.length === 1) return compiled[0]!;
  return (r) => {
    for (let i = 0; i < compiled.length; i++) if (compiled[i]!(r)) return true;
    return false;
  };
}

function compileRule(rule: AuthorizationRuleConfig, unknown: Predicate): Predicate {
  const parts: Predicate[] = [];
  if (rule.from !== undefined && rule.from.length > 0)
    parts.push(anyOf(rule.from.map((s, i) => at(`from[${i}]`, () => compileSource(s, unknown)))));
  if (rule.to !== undefined && rule.to.length > 0)
    parts.push(anyOf(rule.to.map((o, i) => at(`to[${i}]`, () => compileOperation(o)))));
  (rule.when ?? []).forEach((c, i) =>
    parts.push(at(`when[${i}]`, () => compileCondition(c, unknown))),
  );
  return allOf(parts);
}

function anyOf(list: Predicate[]): Predicate {
  if (list.length === 1) return list[0]!;
  return (r) => {
    for (let i = 0; i < list.length; i++) if (list[i]!(r)) return true;
    return false;
  };
}

function allOf(list: Predicate[]): Predicate {
  if (list.length === 0) return ALWAYS;
  if (list.length === 1) return list[0]!;
  return (r) => {
    for (let i = 0; i < list.length; i++) if (!list[i]!(r)) return false;
    return true;
  };
}

/** `values` must match (if given) and `notValues` must not: Istio's field and not-field. */
function field<T>(
  read: (r: AuthzRequest) => T,
  yes: ((v: T) => boolean) | undefined,
  no: ((v: T) => boolean) | undefined,
  out: Predicate[],
): void {
  if (yes !== undefined) out.push((r) => yes(read(r)));
  if (no !== undefined) out.push((r) => !no(read(r)));
}

function strings(
  list: readonly string[] | undefined,
  opts?: { ignoreCase?: boolean; paths?: boolean },
): StringPredicate | undefined {
  if (list === undefined || list.length === 0) return undefined;
  return compileValues(checkList(list), opts);
}

function blocks(list: readonly string[] | undefined): StringPredicate | undefined {
  return list === undefined || list.length === 0 ? undefined : compileIpBlocks(checkList(list));
}

function checkList(list: readonly string[]): readonly string[] {
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string'))
    throw new CompileError('', 'must be a list of strings');
  return list;
}

/** `cluster.local/ns/foo/sa/bar` -> `foo`; '' when the principal has no namespace. */
export function namespaceOf(principal: string | undefined): string {
  if (principal === undefined) return '';
  const i = principal.indexOf('/ns/');
  if (i < 0) return '';
  const rest = principal.slice(i + 4);
  const end = rest.indexOf('/');
  return end < 0 ? rest : rest.slice(0, end);
}

const principalOf = (r: AuthzRequest) => r.principal ?? '';
const namespaceOfRequest = (r: AuthzRequest) => namespaceOf(r.principal);

function compileSource(s: AuthorizationSourceConfig, unknown: Predicate): Predicate {
  const out: Predicate[] = [];
  field(principalOf, strings(s.principals), strings(s.notPrincipals), out);
  field(namespaceOfRequest, strings(s.namespaces), strings(s.notNamespaces), out);
  const sa = (list: readonly string[] | undefined) =>
    list === undefined || list.length === 0
      ? undefined
      : compileValues(checkList(list).map((v) => `*/ns/${v.replace('/', '/sa/')}`));
  field(principalOf, sa(s.serviceAccounts), sa(s.notServiceAccounts), out);
  field((r) => r.sourceIp, blocks(s.ipBlocks), blocks(s.notIpBlocks), out);
  field((r) => r.remoteIp, blocks(s.remoteIpBlocks), blocks(s.notRemoteIpBlocks), out);
  if ((s.requestPrincipals?.length ?? 0) > 0 || (s.notRequestPrincipals?.length ?? 0) > 0)
    out.push(unknown);
  return allOf(out);
}

function compileOperation(o: AuthorizationOperationConfig): Predicate {
  const out: Predicate[] = [];
  field(
    (r) => r.host,
    strings(o.hosts, { ignoreCase: true }),
    strings(o.notHosts, { ignoreCase: true }),
    out,
  );
  field((r) => r.method, strings(o.methods), strings(o.notMethods), out);
  field(
    (r) => r.path,
    strings(o.paths, { paths: true }),
    strings(o.notPaths, { paths: true }),
    out,
  );
  const ports = (l: readonly string[] | undefined) =>
    l === undefined || l.length === 0 ? undefined : compilePorts(checkList(l));
  field((r) => r.port, ports(o.ports), ports(o.notPorts), out);
  return allOf(out);
}

function compileCondition(c: AuthorizationConditionConfig, unknown: Predicate): Predicate {
  if (typeof c !== 'object' || c === null || typeof c.key !== 'string')
    throw new CompileError('key', 'must be a string');
  const out: Predicate[] = [];
  const key = c.key;
  const header = HEADER_KEY.exec(key);
  if (header !== null) {
    const name = header[1]!.toLowerCase();
    const yes = strings(c.values);
    const no = strings(c.notValues);
    // An absent header matches no value, so it fails `values` and passes `notValues`.
    if (yes !== undefined)
      out.push((r) => {
        const v = r.header(name);
        return v !== undefined && yes(v);
      });
    if (no !== undefined)
      out.push((r) => {
        const v = r.header(name);
        return v === undefined || !no(v);
      });
    return allOf(out);
  }
  if (!AUTHZ_CONDITION_KEYS.has(key)) return unknown;
  switch (key) {
    case 'source.ip':
      field((r) => r.sourceIp, blocks(c.values), blocks(c.notValues), out);
      break;
    case 'remote.ip':
      field((r) => r.remoteIp, blocks(c.values), blocks(c.notValues), out);
      break;
    case 'source.namespace':
      field(namespaceOfRequest, strings(c.values), strings(c.notValues), out);
      break;
    case 'source.principal':
      field(principalOf, strings(c.values), strings(c.notValues), out);
      break;
    case 'destination.port': {
      const ports = (l: readonly string[] | undefined) =>
        l === undefined || l.length === 0 ? undefined : compilePorts(checkList(l));
      field((r) => r.port, ports(c.values), ports(c.notValues), out);
      break;
    }
  }
  return allOf(out);
}
