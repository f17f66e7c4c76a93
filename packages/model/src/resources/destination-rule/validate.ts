// Checks on a DestinationRule beyond its schema, after istio/istio
// pkg/config/validation/validation.go (validateDestinationRule, validateTrafficPolicy, ...).
import { checkHost, isDns1123Label, setMembers, type FieldPath, type Report } from '../checks.js';
import { parseDurationMs } from '../duration.js';
import { formatFieldPath } from '../field-path.js';
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
  warnTlsMode(tp.tls?.mode, path, report);
  const loadBalancer =
    tp.loadBalancer && validateLoadBalancer(tp.loadBalancer, [...path, 'loadBalancer'], report);
  validateResilience(tp, path, report);
  const ports = new Map<number, number>();
  const portLevelSettings = tp.portLevelSettings?.map((pl, i) => {
    const p = [...path, 'portLevelSettings', i];
    const port = pl.port?.number;
    // A port number the schema rejected is gone from this copy, and already reported.
    if (pl.port === undefined) report.error([...p, 'port'], 'required');
    else if (port !== undefined) {
      // istiod would use the first entry for a port and drop the rest without a word.
      const first = ports.get(port);
      if (first !== undefined)
        report.error(
          [...p, 'port', 'number'],
          `duplicate port ${port} (also ${formatFieldPath([...path, 'portLevelSettings', first])})`,
        );
      else ports.set(port, i);
    }
    if (
      pl.loadBalancer === undefined &&
      pl.connectionPool === undefined &&
      pl.outlierDetection === undefined &&
      pl.tls === undefined
    )
      report.error(p, 'set at least one of loadBalancer, connectionPool, outlierDetection, tls');
    warnTlsMode(pl.tls?.mode, p, report);
    validateResilience(pl, p, report);
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

/** Weft originates only the mesh's own mutual TLS; TLS to outside servers is not implemented. */
function warnTlsMode(mode: string | undefined, path: FieldPath, report: Report): void {
  if (mode === 'SIMPLE' || mode === 'MUTUAL')
    report.warning(
      [...path, 'tls', 'mode'],
      `${mode} is not supported by Weft yet (only ISTIO_MUTUAL and DISABLE); the cluster uses auto mTLS`,
    );
}

/** Envoy's default maximum_ring_size. */
const MAX_RING_SIZE = 8_388_608;
/** Istio's limit for maglev.tableSize. */
const MAX_MAGLEV_TABLE_SIZE = 5_000_011;

function isMaglevTableSize(n: number): boolean {
  if (!Number.isInteger(n) || n < 2 || n > MAX_MAGLEV_TABLE_SIZE) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
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
    for (const [at, size] of [
      [[...p, 'ringHash', 'minimumRingSize'], ch.ringHash?.minimumRingSize],
      [[...p, 'minimumRingSize'], ch.minimumRingSize],
    ] as const) {
      if (size !== undefined && Number(size) > MAX_RING_SIZE)
        report.error([...at], `must be at most ${MAX_RING_SIZE} (Envoy's maximum ring size)`);
    }
    const tableSize = ch.maglev?.tableSize;
    // 0 is protobuf's unset: the default size.
    if (
      tableSize !== undefined &&
      Number(tableSize) !== 0 &&
      !isMaglevTableSize(Number(tableSize))
    ) {
      report.error(
        [...p, 'maglev', 'tableSize'],
        `must be a prime number up to ${MAX_MAGLEV_TABLE_SIZE}`,
      );
    }
  }
  if (lb.simple === 'PASSTHROUGH') {
    report.warning(
      [...path, 'simple'],
      'Weft has no original-destination forwarding: PASSTHROUGH balances round robin over the service endpoints',
    );
  }
  const warmup = lb.warmup?.duration ?? lb.warmupDurationSecs;
  if (warmup !== undefined && (lb.simple === 'RANDOM' || lb.simple === 'PASSTHROUGH' || ch)) {
    report.warning(
      [...path, lb.warmup ? 'warmup' : 'warmupDurationSecs'],
      'slow start applies to ROUND_ROBIN, LEAST_REQUEST and the default balancer only; ignored',
    );
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

/**
 * connectionPool and outlierDetection beyond their schema (which already rejects negative
 * limits and percentages outside 0-100): durations that cannot work, and settings
 * that would silently do nothing (istio/istio validateConnectionPool, validateOutlierDetection).
 */
function validateResilience(
  tp: Pick<TrafficPolicy, 'connectionPool' | 'outlierDetection'>,
  path: FieldPath,
  report: Report,
): void {
  const cp = tp.connectionPool;
  if (cp) {
    const p = [...path, 'connectionPool'];
    if (cp.tcp?.connectTimeout !== undefined && (parseDurationMs(cp.tcp.connectTimeout) ?? 0) < 1)
      report.error([...p, 'tcp', 'connectTimeout'], 'must be at least 1ms');
    for (const [at, d] of [
      [['tcp', 'idleTimeout'], cp.tcp?.idleTimeout],
      [['http', 'idleTimeout'], cp.http?.idleTimeout],
    ] as const) {
      if (d !== undefined && (parseDurationMs(d) ?? 0) < 1)
        report.error([...p, ...at], 'must be at least 1ms');
    }
  }
  const od = tp.outlierDetection;
  if (od) {
    const p = [...path, 'outlierDetection'];
    if (od.interval !== undefined && (parseDurationMs(od.interval) ?? 0) < 1)
      report.error([...p, 'interval'], 'must be at least 1ms');
    if (od.baseEjectionTime !== undefined && (parseDurationMs(od.baseEjectionTime) ?? 0) < 1)
      report.error([...p, 'baseEjectionTime'], 'must be at least 1ms');
    if (od.consecutiveErrors !== undefined) {
      report.warning(
        [...p, 'consecutiveErrors'],
        'deprecated and ignored (as by istiod); use consecutive5xxErrors or consecutiveGatewayErrors',
      );
    }
    if (od.consecutive5xxErrors === 0 && od.consecutiveGatewayErrors === undefined) {
      report.warning(
        p,
        'consecutive5xxErrors is 0 and consecutiveGatewayErrors unset: nothing ejects',
      );
    }
  }
}
