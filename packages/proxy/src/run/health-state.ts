// The thresholds of an active health check, as a pure state machine: a probe result goes in,
// the instance's health comes out. An instance starts not ready; `healthyThreshold` successes
// in a row make it healthy (the first time, that is the readiness that gates registration),
// `unhealthyThreshold` failures in a row make it unhealthy. One odd result never flips it.
// The names are Envoy's (healthy_threshold / unhealthy_threshold); Kubernetes calls them
// successThreshold / failureThreshold.

export interface HealthThresholds {
  /** Successes in a row that make an unhealthy (or not yet ready) instance healthy. */
  healthyThreshold: number;
  /** Failures in a row that make a healthy instance unhealthy. */
  unhealthyThreshold: number;
}

export interface HealthState {
  readonly healthy: boolean;
  /** True once the instance was healthy at least once (it passed readiness). */
  readonly ready: boolean;
  readonly successes: number;
  readonly failures: number;
}

export const NOT_READY: HealthState = { healthy: false, ready: false, successes: 0, failures: 0 };

export function validateThresholds(t: HealthThresholds): string[] {
  const problems: string[] = [];
  for (const k of ['healthyThreshold', 'unhealthyThreshold'] as const)
    if (!Number.isInteger(t[k]) || t[k] < 1 || t[k] > 100)
      problems.push(`${k}: must be an integer from 1 to 100`);
  return problems;
}

/** The state after one probe result; `changed` says whether `healthy` flipped. */
export function observeProbe(
  s: HealthState,
  ok: boolean,
  t: HealthThresholds,
): { state: HealthState; changed: boolean } {
  const successes = ok ? s.successes + 1 : 0;
  const failures = ok ? 0 : s.failures + 1;
  let healthy = s.healthy;
  if (!healthy && successes >= t.healthyThreshold) healthy = true;
  else if (healthy && failures >= t.unhealthyThreshold) healthy = false;
  return {
    state: { healthy, ready: s.ready || healthy, successes, failures },
    changed: healthy !== s.healthy,
  };
}
