// What the proxy knows about each endpoint's load: requests in flight, an estimate of its
// response latency and of how many requests it usually holds when it answers, and when this
// proxy first saw it. The upstream layer feeds it; the load-aware algorithms (least-request,
// the default) and slow start (warmup) read it.
//
// The latency estimate is an average over an endpoint's recent answers (about the last 32),
// not Linkerd's peak-EWMA: with thousands of answers a second, a peak kept for seconds is a
// healthy instance's timer and scheduling jitter, and it made fast and slow instances look
// alike (docs/performance.md). What stays as in Linkerd: a much slower answer moves it halfway at
// once, and an estimate left alone decays towards zero so the endpoint is tried
// again. Each answer is paired with the requests in flight when it came back (itself
// included), so the estimate is the latency at the endpoint's usual load (`inflightMean`).
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
   * Weighted mean of the time from send to response headers, in ms: the event loop's idle
   * time while the try was out (upstream/loop-idle.ts), so the proxy's own stalls are left out.
   */
  latencyMs: number;
  /** When latencyMs was last updated (ms, the caller's clock). */
  latencyAt: number;
  /** Weighted mean of the requests in flight when an answer came back (itself included). */
  inflightMean: number;
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
/**
 * Time constant of the decay towards zero of an estimate left alone (Linkerd's decay: 10 s).
 * The decay is kept when the next answer comes, so an endpoint tried again after a slow spell
 * is judged on its new answers.
 */
export const DECAY_MS = 10_000;
/** Weight of each answer once past LEARNING_SAMPLES: the estimate is about the last 32. */
export const FIT_WEIGHT = 1 / 32;
/**
 * An answer this many times slower than the estimate counts RISE_WEIGHT instead of
 * FIT_WEIGHT: the estimate goes halfway at once and most of the way within two or three such
 * answers, so one slow or failing instance loses its share within a few requests, while a
 * healthy instance's jitter (its slow answers come one at a time) is averaged in, not kept as
 * a peak for seconds as Linkerd's peak-EWMA keeps it.
 */
export const RISE_FACTOR = 3;
export const RISE_WEIGHT = 0.5;
/**
 * The latency a failed try counts as (at least). A connection refused or a 500 comes back fast;
 * without a penalty the fastest endpoint would be the broken one and attract everything.
 */
export const FAILURE_PENALTY_MS = 250;
/**
 * The first answers of an endpoint are averaged (the first replaces the prior, each next one
 * counts half) before the rise rule applies: the 30 ms placeholder and a cold first answer
 * (connection set-up, JIT) are not information worth the next 32 answers.
 */
export const LEARNING_SAMPLES = 8;

export function createEndpointLoad(key: string, now: number): EndpointLoad {
  return {
    key,
    active: 0,
    latencyMs: DEFAULT_RTT_MS,
    latencyAt: now,
    inflightMean: 1,
    samples: 0,
    firstSeenAt: now,
  };
}

/**
 * Feeds one try's latency, paired with the requests in flight now (this one included: the
 * caller releases it after). The first answer replaces the prior and each of the next
 * LEARNING_SAMPLES counts half; after that each counts FIT_WEIGHT, or RISE_WEIGHT when it is
 * RISE_FACTOR times the estimate. The decay since the last update (latencyEstimate) is applied
 * first, so an endpoint tried again after being left alone is judged on its new answers.
 */
export function observeLatency(load: EndpointLoad, ms: number, now: number, failed: boolean): void {
  const rtt = failed ? Math.max(ms, FAILURE_PENALTY_MS) : Math.max(ms, 0);
  const n = Math.max(load.active, 1);
  const idle = now - load.latencyAt;
  if (idle > 0) {
    load.latencyMs *= Math.exp(-idle / DECAY_MS);
    load.latencyAt = now;
  }
  if (load.samples === 0) {
    load.latencyMs = rtt;
    load.inflightMean = n;
  } else {
    const w =
      load.samples < LEARNING_SAMPLES
        ? 0.5
        : rtt > RISE_FACTOR * load.latencyMs
          ? RISE_WEIGHT
          : FIT_WEIGHT;
    load.latencyMs += w * (rtt - load.latencyMs);
    load.inflightMean += w * (n - load.inflightMean);
  }
  if (load.samples < LEARNING_SAMPLES) load.samples++;
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
