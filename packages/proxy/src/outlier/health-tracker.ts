// Passive health (Envoy's outlier detection): an endpoint that fails several times in a row is
// taken out of rotation for a while, longer each time it is ejected again. Records are keyed
// by `address:port` and live in a tracker that outlives route tables, so a snapshot swap
// cannot bring an ejected endpoint back early. Everything takes `now` from the caller, and
// nothing runs on a timer: an ejection ends when `now` passes `ejectedUntil`, and the ejection
// count decays lazily (once per quiet interval) when the next ejection is computed.
//
// What counts, per cluster policy (docs/reliability.md):
//   - a 5xx response counts towards consecutive5xxErrors; 502, 503 and 504 also towards
//     consecutiveGatewayErrors; any other response ends both streaks;
//   - failures the proxy sees itself (connect failure, reset, timeout) count as a 503 would
//     (Envoy without split_external_local_origin_errors);
//   - Weft's default policy (no outlierDetection in a DestinationRule) ejects on connection
//     failures and resets alone, after one, and never on a response or a timeout.

export interface OutlierRecord {
  readonly key: string;
  /** The endpoint is out of rotation while `now < ejectedUntil`. */
  ejectedUntil: number;
  /** Ejections that still count towards the ejection time; decays while the endpoint behaves. */
  ejections: number;
  /** Connection failures in a row (Weft's default policy). */
  consecutiveFailures: number;
  lastFailureAt: number;
  /** 5xx answers (and local failures) in a row; absent on records made outside a tracker. */
  consecutive5xx?: number;
  /** 502/503/504 answers (and local failures) in a row. */
  consecutiveGateway?: number;
}

/** A cluster's outlier detection, compiled from the snapshot (or Weft's default). */
export interface OutlierPolicy {
  /** Connection failures in a row that eject; 0 = they count as 503s instead (Envoy). */
  readonly consecutiveConnectFailures: number;
  /** 0 = off. */
  readonly consecutive5xx: number;
  /** 0 = off. */
  readonly consecutiveGateway: number;
  /** How often Envoy's sweep runs: one ejection is forgiven per quiet interval. */
  readonly intervalMs: number;
  /** The first ejection lasts this long; the n-th lasts n times as long, up to the cap. */
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  /** An ejection is refused when this share (0-100) of the cluster is already ejected. */
  readonly maxEjectionPercent: number;
  /** Below this share (0-100) of endpoints in rotation, the cluster ignores ejections. */
  readonly minHealthPercent: number;
}

/** What one try came to, as outlier detection sees it. */
export type TryOutcome =
  | { kind: 'response'; status: number }
  /** No connection: refused, unreachable, connect timeout, or a peer sidecar's 503 UF. */
  | { kind: 'connect-failure' }
  /** The connection was reset (or failed otherwise) before a complete response. */
  | { kind: 'reset' }
  /** No response within the per-try or route timeout. */
  | { kind: 'timeout' };

export const CONNECT_FAILURE: TryOutcome = { kind: 'connect-failure' };
export const RESET: TryOutcome = { kind: 'reset' };
export const TIMEOUT: TryOutcome = { kind: 'timeout' };

export type EjectionReason = 'connect-failure' | 'consecutive-5xx' | 'consecutive-gateway-errors';

export interface HealthTrackerOptions {
  /** First ejection lasts this long (Weft's default policy). */
  baseEjectionMs?: number;
  maxEjectionMs?: number;
  /** Connection failures in a row that eject. One: a refused connection is a strong signal. */
  consecutiveFailures?: number;
}

export interface Ejection {
  key: string;
  durationMs: number;
  ejections: number;
  reason?: EjectionReason;
}

/** Only what maxEjectionPercent needs to know of the cluster's other endpoints. */
export interface OutlierPeer {
  readonly outlier: OutlierRecord;
}

export interface HealthTracker {
  readonly options: Readonly<Required<HealthTrackerOptions>>;
  /** Weft's default policy, built from `options`. */
  readonly defaultPolicy: OutlierPolicy;
  /** The record for `address:port`, created on first use and shared by every table. */
  record(key: string): OutlierRecord;
  /** A connection to the endpoint failed (default policy, no peers); the ejection, if any. */
  reportFailure(rec: OutlierRecord, now: number): Ejection | undefined;
  /** What a try came to, judged by the cluster's policy; returns the ejection, if any. */
  report(
    rec: OutlierRecord,
    outcome: TryOutcome,
    now: number,
    policy: OutlierPolicy,
    peers: readonly OutlierPeer[],
  ): Ejection | undefined;
  /** A response came back: the failure streak is over. */
  reportSuccess(rec: OutlierRecord): void;
  isEjected(rec: OutlierRecord, now: number): boolean;
  /** Forgets records of endpoints no longer known, unless they are still ejected. */
  retain(keys: ReadonlySet<string>, now: number): void;
  size(): number;
}

export const DEFAULT_HEALTH_OPTIONS: Readonly<Required<HealthTrackerOptions>> = {
  baseEjectionMs: 5_000,
  maxEjectionMs: 300_000,
  consecutiveFailures: 1,
};

/** Envoy's max_ejection_time default; Istio does not expose it. */
export const MAX_EJECTION_MS = 300_000;

export function isEjected(rec: OutlierRecord, now: number): boolean {
  return now < rec.ejectedUntil;
}

export function createOutlierRecord(key: string): OutlierRecord {
  return {
    key,
    ejectedUntil: 0,
    ejections: 0,
    consecutiveFailures: 0,
    lastFailureAt: 0,
    consecutive5xx: 0,
    consecutiveGateway: 0,
  };
}

/** Weft's default: connection failures alone eject, and every endpoint may be ejected. */
export function defaultOutlierPolicy(
  opts: Readonly<Required<HealthTrackerOptions>> = DEFAULT_HEALTH_OPTIONS,
): OutlierPolicy {
  return {
    consecutiveConnectFailures: opts.consecutiveFailures,
    consecutive5xx: 0,
    consecutiveGateway: 0,
    intervalMs: opts.baseEjectionMs,
    baseEjectionMs: opts.baseEjectionMs,
    maxEjectionMs: opts.maxEjectionMs,
    maxEjectionPercent: 100,
    minHealthPercent: 0,
  };
}

/**
 * Judges one outcome against a policy and ejects when a streak reaches its threshold and
 * maxEjectionPercent allows it. Mutates `rec` only.
 */
export function judgeOutcome(
  rec: OutlierRecord,
  outcome: TryOutcome,
  now: number,
  policy: OutlierPolicy,
  peers: readonly OutlierPeer[],
): Ejection | undefined {
  let reason: EjectionReason | undefined;
  if (outcome.kind === 'response' && outcome.status < 500) {
    rec.consecutiveFailures = 0;
    rec.consecutive5xx = 0;
    rec.consecutiveGateway = 0;
    return undefined;
  }
  rec.lastFailureAt = now;
  // Failures of requests that were already in flight when the endpoint was ejected say
  // nothing new; counting them would lengthen the ejection for one outage.
  if (now < rec.ejectedUntil) return undefined;
  const gateway = outcome.kind !== 'response' || (outcome.status >= 502 && outcome.status <= 504);
  // Weft's default counts resets with connection failures, as it always has: a peer that
  // drops connections is as unusable as one that refuses them.
  if (
    (outcome.kind === 'connect-failure' || outcome.kind === 'reset') &&
    policy.consecutiveConnectFailures > 0
  ) {
    rec.consecutiveFailures++;
    if (rec.consecutiveFailures >= policy.consecutiveConnectFailures) reason = 'connect-failure';
  } else {
    const n5xx = (rec.consecutive5xx ?? 0) + 1;
    const nGateway = gateway ? (rec.consecutiveGateway ?? 0) + 1 : 0;
    rec.consecutive5xx = n5xx;
    rec.consecutiveGateway = nGateway;
    if (policy.consecutiveGateway > 0 && nGateway >= policy.consecutiveGateway) {
      reason = 'consecutive-gateway-errors';
    } else if (policy.consecutive5xx > 0 && n5xx >= policy.consecutive5xx) {
      reason = 'consecutive-5xx';
    }
  }
  if (reason === undefined) return undefined;
  if (!ejectionAllowed(rec, now, policy, peers)) return undefined;
  rec.consecutiveFailures = 0;
  rec.consecutive5xx = 0;
  rec.consecutiveGateway = 0;
  // Envoy lowers the multiplier by one at each interval sweep that finds the host in
  // rotation; doing it here, from the time since it came back, needs no timer.
  if (rec.ejections > 0 && rec.ejectedUntil > 0) {
    const quiet = now - rec.ejectedUntil;
    if (quiet > 0)
      rec.ejections = Math.max(0, rec.ejections - Math.floor(quiet / policy.intervalMs));
  }
  rec.ejections++;
  const durationMs = Math.min(
    Math.max(policy.maxEjectionMs, policy.baseEjectionMs),
    policy.baseEjectionMs * rec.ejections,
  );
  rec.ejectedUntil = now + durationMs;
  return { key: rec.key, durationMs, ejections: rec.ejections, reason };
}

/**
 * Envoy's rule: eject while the share already ejected is below maxEjectionPercent, so the
 * first ejection of a small cluster always happens, and 0 % never ejects.
 */
function ejectionAllowed(
  rec: OutlierRecord,
  now: number,
  policy: OutlierPolicy,
  peers: readonly OutlierPeer[],
): boolean {
  if (policy.maxEjectionPercent >= 100) return true;
  if (policy.maxEjectionPercent <= 0 || peers.length === 0) return false;
  let ejected = 0;
  for (const p of peers) if (p.outlier !== rec && now < p.outlier.ejectedUntil) ejected++;
  return (100 * ejected) / peers.length < policy.maxEjectionPercent;
}

/**
 * Panic mode: true when fewer than minHealthPercent of the endpoints are in rotation, and
 * the cluster should balance over all of them, ejected or not (Envoy's panic threshold).
 */
export function belowMinHealth(
  endpoints: readonly { readonly healthy: boolean; readonly outlier: OutlierRecord }[],
  minHealthPercent: number,
  now: number,
): boolean {
  if (minHealthPercent <= 0 || endpoints.length === 0) return false;
  let inRotation = 0;
  for (const e of endpoints) if (e.healthy && now >= e.outlier.ejectedUntil) inRotation++;
  return (100 * inRotation) / endpoints.length < minHealthPercent;
}

export function createHealthTracker(opts: HealthTrackerOptions = {}): HealthTracker {
  const options: Required<HealthTrackerOptions> = { ...DEFAULT_HEALTH_OPTIONS, ...opts };
  if (!(options.baseEjectionMs > 0) || !(options.maxEjectionMs >= options.baseEjectionMs)) {
    throw new Error('health tracker: need 0 < baseEjectionMs <= maxEjectionMs');
  }
  if (!(options.consecutiveFailures >= 1)) {
    throw new Error('health tracker: consecutiveFailures must be at least 1');
  }
  const records = new Map<string, OutlierRecord>();
  const defaultPolicy = defaultOutlierPolicy(options);

  return {
    options,
    defaultPolicy,
    record(key) {
      let rec = records.get(key);
      if (!rec) {
        rec = createOutlierRecord(key);
        records.set(key, rec);
      }
      return rec;
    },
    reportFailure: (rec, now) => judgeOutcome(rec, CONNECT_FAILURE, now, defaultPolicy, []),
    report: judgeOutcome,
    reportSuccess(rec) {
      rec.consecutiveFailures = 0;
      rec.consecutive5xx = 0;
      rec.consecutiveGateway = 0;
    },
    isEjected,
    retain(keys, now) {
      for (const [key, rec] of records) {
        if (!keys.has(key) && rec.ejectedUntil <= now) records.delete(key);
      }
    },
    size: () => records.size,
  };
}
