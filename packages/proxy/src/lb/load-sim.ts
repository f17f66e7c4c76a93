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

/** How the instances of `simulateStalls` answer. */
export interface InstanceModel {
  /** Service time (ms). */
  readonly latencyMs: number;
  /** At most this many requests at once, the rest wait in FIFO order; 0 = no limit. */
  readonly workers: number;
  /**
   * Mean of an exponentially distributed extra service time (ms), 0 when absent: the timer
   * and scheduling jitter of a real instance on a shared machine (a 2 ms setTimeout in a busy
   * Node process answers in 2-5 ms), which a real balancer's estimates see and a 1 ms model
   * without it does not.
   */
  readonly jitterMs?: number;
}

export interface StallSimOptions {
  concurrency: number;
  durationMs: number;
  /** By endpoint id. */
  instances: Readonly<Record<string, InstanceModel>>;
  /**
   * The proxy's own event-loop stalls: every `everyMs` the loop is blocked for `ms`; answers
   * that arrive meanwhile are seen when it ends (a GC pause, a long callback).
   */
  stall?: { everyMs: number; ms: number };
  /**
   * What the balancer is fed: `wall` = send to seen (stalls included), `idle` = the loop's
   * idle time while the request was out (stalls left out, as upstream/loop-idle.ts does).
   */
  sample: 'wall' | 'idle';
  seed?: number;
}

export interface StallSimResult {
  picks: Map<string, number>;
  /** What the clients saw (ms), including the stalls. */
  latencies: number[];
}

/**
 * A closed loop through a proxy whose event loop stalls now and then, against instances that
 * add a latency (workers 0) or serve with a few workers and queue the rest. Deterministic, on
 * a fake clock: it isolates what the balancer does from the noise of a real machine.
 */
export function simulateStalls(lb: LoadBalancer, opts: StallSimOptions): StallSimResult {
  const start = 1_000_000;
  const clock = createFakeClock(start);
  const random = seededRandom(opts.seed ?? 1);
  const picks = new Map<string, number>();
  const latencies: number[] = [];
  const end = start + opts.durationMs;
  const stall = opts.stall;
  /** When the loop next runs at or after `t`. */
  const seenAt = (t: number): number => {
    if (stall === undefined) return t;
    const into = (t - start) % stall.everyMs;
    return into < stall.ms ? t - into + stall.ms : t;
  };
  /** Stall time inside (from, to]. */
  const stalledBetween = (from: number, to: number): number => {
    if (stall === undefined) return 0;
    let total = 0;
    const first = Math.floor((from - start) / stall.everyMs);
    for (let k = first; start + k * stall.everyMs < to; k++) {
      const s = start + k * stall.everyMs;
      total += Math.max(0, Math.min(to, s + stall.ms) - Math.max(from, s));
    }
    return total;
  };
  // Its own sequence, so that jitter does not shift the balancer's draws.
  const jitterRandom = seededRandom((opts.seed ?? 1) + 7919);
  const serviceMs = (m: InstanceModel): number =>
    m.jitterMs ? m.latencyMs - Math.log(1 - jitterRandom()) * m.jitterMs : m.latencyMs;
  const busy = new Map<string, number>();
  const queues = new Map<string, Array<() => void>>();
  const serve = (e: EndpointState, done: () => void): void => {
    const m = opts.instances[e.id]!;
    const run = () => {
      busy.set(e.id, (busy.get(e.id) ?? 0) + 1);
      clock.setTimer(() => {
        busy.set(e.id, busy.get(e.id)! - 1);
        queues.get(e.id)?.shift()?.();
        done();
      }, serviceMs(m));
    };
    if (m.workers > 0 && (busy.get(e.id) ?? 0) >= m.workers) {
      const q = queues.get(e.id) ?? [];
      q.push(run);
      queues.set(e.id, q);
    } else run();
  };
  const send = (): void => {
    const sent = clock.now();
    if (sent >= end) return;
    const e = lb.pick({ random, now: sent });
    if (e === undefined) throw new Error('no endpoint');
    picks.set(e.id, (picks.get(e.id) ?? 0) + 1);
    e.load.active++;
    serve(e, () => {
      const arrived = clock.now();
      const seen = seenAt(arrived);
      const finish = () => {
        const wall = seen - sent;
        const sample = opts.sample === 'wall' ? wall : wall - stalledBetween(sent, seen);
        observeLatency(e.load, sample, seen, false);
        e.load.active--;
        latencies.push(wall);
        send();
      };
      if (seen > arrived) clock.setTimer(finish, seen - arrived);
      else finish();
    });
  };
  for (let i = 0; i < opts.concurrency; i++) send();
  clock.advance(opts.durationMs + 60_000);
  return { picks, latencies };
}

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0;
}
