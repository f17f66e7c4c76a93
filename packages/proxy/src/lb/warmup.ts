// Slow start (Istio's `warmupDurationSecs` / `warmup.duration`, Envoy's slow_start_config): an
// endpoint the proxy has just seen gets a share of traffic that grows over the warm-up window,
// so a cold instance (empty caches, JIT not warm) is not handed a full share at once.
//
// Envoy's formula with Istio's defaults (aggression 1.0, minimumPercent 10):
//   factor = max(0.1, max(age, 1) / window) ^ (1 / aggression)
// which is linear from 10 % to 100 %. Weights are relative: endpoints that all started
// together (a proxy's first snapshot) warm up in step and keep equal shares.

import type { EndpointState } from './types.js';

/** Istio's `warmup.minimumPercent` default. */
export const WARMUP_MIN_FACTOR = 0.1;

/** 1 once the endpoint is warm (or warm-up is off); between 0.1 and 1 while it warms. */
export function warmupFactor(e: EndpointState, now: number, warmupMs: number): number {
  if (!(warmupMs > 0)) return 1;
  const age = now - e.load.firstSeenAt;
  if (age >= warmupMs) return 1;
  return Math.max(WARMUP_MIN_FACTOR, Math.max(age, 1) / warmupMs);
}

/**
 * When the last of these endpoints is warm: an algorithm built from one snapshot compares `now`
 * with this instead of looking at every endpoint per pick (first-seen times never change).
 */
export function warmUntil(endpoints: readonly EndpointState[], warmupMs: number): number {
  if (!(warmupMs > 0)) return -Infinity;
  let last = -Infinity;
  for (const e of endpoints) last = Math.max(last, e.load.firstSeenAt + warmupMs);
  return last;
}
