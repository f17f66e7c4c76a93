// What the proxy knows about each endpoint's load: requests in flight, a peak-EWMA estimate of
// its response latency, and when this proxy first saw it. The upstream layer feeds it; the
// load-aware algorithms (least-request, peak-EWMA) and slow start (warmup) read it.
//
// Records are keyed by `address:port` and live in a tracker that outlives route tables, like
// the outlier records: a snapshot swap must not forget that an endpoint is busy or slow, nor
// restart the warm-up of an endpoint that was already there. One endpoint in several clusters
// (the service and its subsets) has one record, because its load is the same whichever
// cluster sent the request. Everything takes `now` from the caller.

export interface EndpointLoad {
  readonly key: string;
  /** Requests sent to the endpoint that have not completed or failed yet. */
  active: number;
  /**
   * Peak-EWMA of the time from send to response headers, in ms: the event loop's idle time
   * while the try was out (upstream/loop-idle.ts), so the proxy's own stalls are left out.
   */
  latencyMs: number;
  /** When latencyMs was last updated (ms, the caller's clock). */
  latencyAt: number;
  /** Latencies observed so far, counted up to LEARNING_SAMPLES. */
  samples: number;
  /** When this proxy first saw the endpoint: where slow start is measured from. */
  readonly firstSeenAt: number;
}

/**
 * The estimate of an endpoint nothing has been observed about: Linkerd's default RTT. A new
 * endpoint looks a little slow until it has answered, so it is tried, not flooded.
 */
export const DEFAULT_RTT_MS = 30;
/** Time constant of the decay towards observed latency (Linkerd: 10 s). */
export const DECAY_MS = 10_000;
/**
 * The latency a failed try counts as (at least). A connection refused or a 500 comes back fast;
 * without a penalty the fastest endpoint would be the broken one and attract everything.
 */
export const FAILURE_PENALTY_MS = 250;
/**
 * The first answers of an endpoint are averaged (the first replaces the prior, each next one
 * counts half) before the peak rule applies: the 30 ms placeholder and a cold first answer
 * (connection set-up, JIT) are not information worth ten seconds of decay.
 */
export const LEARNING_SAMPLES = 8;

export function createEndpointLoad(key: string, now: number): EndpointLoad {
  return {
    key,
    active: 0,
    latencyMs: DEFAULT_RTT_MS,
    latencyAt: now,
    samples: 0,
    firstSeenAt: now,
  };
}

/**
 * Feeds one try's latency. After the first few (LEARNING_SAMPLES), a latency above the
 * estimate replaces it at once (the peak); a lower one pulls it down with weight
 * 1 - e^(-elapsed/DECAY_MS), elapsed being the time since the last update, so the estimate
 * falls over seconds, not over a number of requests.
 */
export function observeLatency(load: EndpointLoad, ms: number, now: number, failed: boolean): void {
  const rtt = failed ? Math.max(ms, FAILURE_PENALTY_MS) : Math.max(ms, 0);
  if (load.samples < LEARNING_SAMPLES) {
    load.latencyMs = load.samples === 0 ? rtt : (load.latencyMs + rtt) / 2;
    load.samples++;
  } else if (rtt >= load.latencyMs) {
    load.latencyMs = rtt;
  } else {
    const elapsed = now - load.latencyAt;
    const keep = elapsed > 0 ? Math.exp(-elapsed / DECAY_MS) : 1;
    load.latencyMs = load.latencyMs * keep + rtt * (1 - keep);
  }
  if (now > load.latencyAt) load.latencyAt = now;
}

/**
 * The estimate as of `now`: it decays towards zero while nothing is observed (as Linkerd's
 * does), so an endpoint that was slow once and then left alone is eventually tried again
 * instead of being shunned forever.
 */
export function latencyEstimate(load: EndpointLoad, now: number): number {
  const idle = now - load.latencyAt;
  return idle > 0 ? load.latencyMs * Math.exp(-idle / DECAY_MS) : load.latencyMs;
}

export interface EndpointLoadTracker {
  /** The record for `address:port`, created (first seen at `now`) on first use. */
  record(key: string, now: number): EndpointLoad;
  /** Forgets records of endpoints no longer known; one that comes back warms up again. */
  retain(keys: ReadonlySet<string>): void;
  size(): number;
}

export function createEndpointLoadTracker(): EndpointLoadTracker {
  const records = new Map<string, EndpointLoad>();
  return {
    record(key, now) {
      let rec = records.get(key);
      if (rec === undefined) {
        rec = createEndpointLoad(key, now);
        records.set(key, rec);
      }
      return rec;
    },
    retain(keys) {
      // A try still in flight holds its record and releases it there; nothing is lost.
      for (const key of records.keys()) if (!keys.has(key)) records.delete(key);
    },
    size: () => records.size,
  };
}
