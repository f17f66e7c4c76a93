// AuthorizationPolicy resources -> the snapshot's `authorization` list. The scope (which
// workloads a policy applies to) is resolved here from the namespace, selector and targetRefs;
// rules pass through in Istio's shape, with empty lists dropped so that "absent" has one
// spelling. Proxies compile the list into an evaluator for themselves.

import {
  ROOT_NAMESPACE,
  type AuthorizationPolicyConfig,
  type AuthorizationRuleConfig,
  type AuthorizationScope,
} from '@weft/model';
import type { AuthorizationPolicyIn } from './input.js';

export function translateAuthorization(
  policies: readonly AuthorizationPolicyIn[],
): AuthorizationPolicyConfig[] {
  return [...policies]
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    )
    .map((p) => ({
      name: `${p.metadata.namespace}/${p.metadata.name}`,
      action: p.spec.action ?? 'ALLOW',
      scope: scopeOf(p),
      rules: (p.spec.rules ?? []).map(ruleOf),
      ...(p.metadata.dryRun === true ? { dryRun: true } : {}),
    }));
}

function scopeOf(p: AuthorizationPolicyIn): AuthorizationScope {
  const ns = p.metadata.namespace;
  const refs = p.spec.targetRefs ?? (p.spec.targetRef ? [p.spec.targetRef] : []);
  if (refs.length > 0) {
    const services = refs
      .filter((r) => r.kind === 'Service' && (r.group ?? '') in CORE_GROUPS)
      .map((r) => r.name);
    const gateways = refs.filter((r) => r.kind === 'Gateway').map((r) => `${ns}/${r.name}`);
    // A policy whose targets Weft cannot resolve selects nothing, never everything.
    return { namespace: ns, services, gateways };
  }
  const selector = p.spec.selector?.matchLabels;
  return {
    ...(ns === ROOT_NAMESPACE ? {} : { namespace: ns }),
    ...(selector !== undefined && Object.keys(selector).length > 0
      ? { selector: { ...selector } }
      : {}),
  };
}

const CORE_GROUPS: Record<string, true> = { '': true, core: true };

function ruleOf(r: NonNullable<AuthorizationPolicyIn['spec']['rules']>[number]) {
  const out: AuthorizationRuleConfig = {};
  if (r.from !== undefined && r.from.length > 0)
    out.from = r.from.map((f) => compact(f.source ?? {}));
  if (r.to !== undefined && r.to.length > 0) out.to = r.to.map((t) => compact(t.operation ?? {}));
  if (r.when !== undefined && r.when.length > 0)
    out.when = r.when.map((c) => ({
      key: c.key,
      ...compact({ values: c.values, notValues: c.notValues }),
    }));
  return out;
}

/** Drops absent and empty lists, keeping keys in a fixed (sorted) order for golden files. */
function compact<T extends Record<string, string[] | undefined>>(o: T): T {
  const out: Record<string, string[]> = {};
  for (const k of Object.keys(o).sort()) {
    const v = o[k];
    if (v !== undefined && v.length > 0) out[k] = [...v];
  }
  return out as T;
}

/** Istio's `istio.io/dry-run: "true"` annotation (AuthorizationPolicy): evaluate, never enforce. */
export function dryRunOf(annotations: Record<string, string> | undefined): { dryRun?: true } {
  return annotations?.['istio.io/dry-run'] === 'true' ? { dryRun: true } : {};
}
