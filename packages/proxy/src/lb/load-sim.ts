// A closed-loop load simulation for the load-aware algorithms' tests: `concurrency` clients
// each send a request as soon as their previous one completes; each endpoint answers after a
// fixed latency. It drives the same bookkeeping forward.ts does (in-flight count, latency fed
// back at completion) on a fake clock, so minutes of traffic run in milliseconds.

import { createFakeClock, seededRandom } from '@weft/testkit';
import { observeLatency } from './endpoint-load.js';
import type { EndpointState, LoadBalancer } from './types.js';

export interface SimOptions {
  concurrency: number;
  durationMs: number;
  /** Latency of each endpoint by id (ms). */
  latencyMs: (e: EndpointState, now: number) => number;
  /** Endpoints that answer with a failure (counted as a penalty latency). */
  fails?: (e: EndpointState, now: number) => boolean;
  seed?: number;
  start?: number;
}

export function simulate(lb: LoadBalancer, opts: SimOptions): Map<string, number> {
  const clock = createFakeClock(opts.start ?? 1_000_000);
  const random = seededRandom(opts.seed ?? 1);
  const picks = new Map<string, number>();
  const end = clock.now() + opts.durationMs;
  const send = (): void => {
    const now = clock.now();
    if (now >= end) return;
    const e = lb.pick({ random, now });
    if (e === undefined) throw new Error('no endpoint');
    picks.set(e.id, (picks.get(e.id) ?? 0) + 1);
    e.load.active++;
    const latency = opts.latencyMs(e, now);
    clock.setTimer(() => {
      const t = clock.now();
      observeLatency(e.load, latency, t, opts.fails?.(e, t) ?? false);
      e.load.active--;
      send();
    }, latency);
  };
  for (let i = 0; i < opts.concurrency; i++) send();
  clock.advance(opts.durationMs + 1_000);
  return picks;
}

export function share(picks: Map<string, number>, id: string): number {
  let total = 0;
  for (const v of picks.values()) total += v;
  return (picks.get(id) ?? 0) / total;
}
