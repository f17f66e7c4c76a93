// Checks on a DestinationRule beyond its schema, after istio/istio
// pkg/config/validation/validation.go (validateDestinationRule, validateTrafficPolicy, ...).
import { checkHost, isDns1123Label, setMembers, type FieldPath, type Report } from '../checks.js';
import type { DestinationRuleSpec, LoadBalancerSettings, TrafficPolicy } from './schema.js';

export function validateDestinationRule(
  spec: DestinationRuleSpec,
  report: Report,
): DestinationRuleSpec {
  const at: FieldPath = ['spec'];
  checkHost(spec.host, [...at, 'host'], report);
  const trafficPolicy =
    spec.trafficPolicy &&
    validateTrafficPolicy(spec.trafficPolicy, [...at, 'trafficPolicy'], report);

  const seen = new Map<string, number>();
  const subsets = spec.subsets?.map((s, i) => {
    const path = [...at, 'subsets', i];
    if (!isDns1123Label(s.name)) {
      report.error([...path, 'name'], `invalid subset name "${s.name}": expected a DNS-1123 label`);
    }
    const first = seen.get(s.name);
    if (first !== undefined) {
      report.error(
        [...path, 'name'],
        `duplicate subset name "${s.name}" (also spec.subsets[${first}])`,
      );
    } else {
      seen.set(s.name, i);
    }
    const tp =
      s.trafficPolicy && validateTrafficPolicy(s.trafficPolicy, [...path, 'trafficPolicy'], report);
    return tp ? { ...s, trafficPolicy: tp } : s;
  });

  return {
    ...spec,
    ...(trafficPolicy ? { trafficPolicy } : {}),
    ...(subsets ? { subsets } : {}),
  };
}

function validateTrafficPolicy(tp: TrafficPolicy, path: FieldPath, report: Report): TrafficPolicy {
  const loadBalancer =
    tp.loadBalancer && validateLoadBalancer(tp.loadBalancer, [...path, 'loadBalancer'], report);
  const portLevelSettings = tp.portLevelSettings?.map((pl, i) => {
    const p = [...path, 'portLevelSettings', i];
    if (pl.port?.number === undefined) report.error([...p, 'port'], 'required');
    const lb =
      pl.loadBalancer && validateLoadBalancer(pl.loadBalancer, [...p, 'loadBalancer'], report);
    return lb ? { ...pl, loadBalancer: lb } : pl;
  });
  return {
    ...tp,
    ...(loadBalancer ? { loadBalancer } : {}),
    ...(portLevelSettings ? { portLevelSettings } : {}),
  };
}

function validateLoadBalancer(
  lb: LoadBalancerSettings,
  path: FieldPath,
  report: Report,
): LoadBalancerSettings {
  if (lb.simple !== undefined && lb.consistentHash) {
    report.error([...path, 'consistentHash'], 'cannot be combined with simple');
  }
  const ch = lb.consistentHash;
  if (ch) {
    const p = [...path, 'consistentHash'];
    const keys = setMembers(ch, [
      'httpHeaderName',
      'httpCookie',
      'useSourceIp',
      'httpQueryParameterName',
    ]);
    if (keys.length !== 1) {
      report.error(
        p,
        'set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName',
      );
    }
    if (ch.ringHash && ch.maglev)
      report.error([...p, 'maglev'], 'cannot be combined with ringHash');
  }
  if (lb.simple === 'LEAST_CONN') {
    report.warning(
      [...path, 'simple'],
      'LEAST_CONN is deprecated; Istio treats it as LEAST_REQUEST',
    );
    // Normalised here so that nothing downstream needs to know the alias.
    return { ...lb, simple: 'LEAST_REQUEST' };
  }
  return lb;
}
