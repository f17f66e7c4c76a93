// DestinationRule portLevelSettings: the traffic policy that applies to one destination port.
// Istio (istio/istio MergeSubsetTrafficPolicy) resolves a port's policy in this order:
//   1. the top-level policy, or, when it has portLevelSettings for the port, that entry alone;
//   2. the subset's policy, or, when it has portLevelSettings for the port, that entry alone;
//   3. the result of 2 overrides 1 per component (loadBalancer, connectionPool,
//      outlierDetection, tls), except that a port-level entry of the subset replaces all four,
//      so a component it leaves out takes the default, not the top-level value.
// A port-level entry never inherits from the level it belongs to either: the proto says
// "default values will be applied to fields omitted in port-level traffic policies".
// retryBudget is not a port-level field; it comes from the trafficPolicy (subset over top).

import type { DestinationRuleIn, PortTrafficPolicyIn, TrafficPolicyIn } from './input.js';

/** Every port some portLevelSettings of the rule names (top level or a subset), ascending. */
export function portLevelPorts(dr: DestinationRuleIn | undefined): number[] {
  const ports = new Set<number>();
  const add = (tp: TrafficPolicyIn | undefined) => {
    for (const pl of tp?.portLevelSettings ?? [])
      if (pl.port?.number !== undefined) ports.add(pl.port.number);
  };
  add(dr?.spec.trafficPolicy);
  for (const s of dr?.spec.subsets ?? []) add(s.trafficPolicy);
  return [...ports].sort((a, b) => a - b);
}

/** The first entry for `port` (validation rejects a second one). */
function entryFor(tp: TrafficPolicyIn | undefined, port: number): PortTrafficPolicyIn | undefined {
  return tp?.portLevelSettings?.find((pl) => pl.port?.number === port);
}

/** The four components a port-level entry carries, those that are set. */
function componentsOf(p: PortTrafficPolicyIn): TrafficPolicyIn {
  const out: TrafficPolicyIn = {};
  if (p.loadBalancer !== undefined) out.loadBalancer = p.loadBalancer;
  if (p.connectionPool !== undefined) out.connectionPool = p.connectionPool;
  if (p.outlierDetection !== undefined) out.outlierDetection = p.outlierDetection;
  if (p.tls !== undefined) out.tls = p.tls;
  return out;
}

/**
 * The one policy that applies to traffic for `port` of the service (no `subset`) or of one
 * of its subsets. The result has no portLevelSettings; pass it alone to lbOf and the others.
 */
export function portPolicy(
  top: TrafficPolicyIn | undefined,
  subset: TrafficPolicyIn | undefined,
  port: number,
): TrafficPolicyIn {
  const topEntry = entryFor(top, port);
  const base = topEntry ? componentsOf(topEntry) : componentsOf(top ?? {});
  const subsetEntry = entryFor(subset, port);
  const merged = subsetEntry
    ? componentsOf(subsetEntry)
    : { ...base, ...componentsOf(subset ?? {}) };
  const retryBudget = subset?.retryBudget ?? top?.retryBudget;
  return retryBudget === undefined ? merged : { ...merged, retryBudget };
}
