// Request-end events handed to a telemetry consumer (metrics, access log) in batches, off the
// request's path. A proxy serving a few hundred requests a second runs each request alone,
// between other processes' work, so the consumer's code and data are cold every time: an
// access-log line or a metrics update measured 5-6 times slower inside a gateway than in a
// loop. Handling every event of the last interval in one pass runs them warm
// (bench/telemetry-cost.mjs, docs/performance.md); per request the proxy only appends the
// event and its end time. Envoy defers the same way (stats flushed from worker threads on an
// interval, access logs buffered and flushed on a timer).
//
// Readers that must see every event so far (a metrics scrape, closing a log file) call
// flush() first, so nothing they report lags behind the requests that finished.

/** Longest an event waits before its consumer sees it (Envoy's access-log flush is 1 s). */
export const TELEMETRY_BATCH_MS = 200;

/** Events waiting past this many are handed over at once, bounding memory at any rate. */
const MAX_WAITING = 1024;

export interface EventBatch<T> {
  /** Queues one event, with its end time (ms since the epoch). */
  push(item: T, at: number): void;
  /** Hands every waiting event to the consumer now. */
  flush(): void;
}

/**
 * `consume` gets the waiting events and their end times (same length), in arrival order; the
 * arrays are reused, so it must not keep them.
 */
export function createEventBatch<T>(
  consume: (items: readonly T[], times: readonly number[]) => void,
  intervalMs: number = TELEMETRY_BATCH_MS,
): EventBatch<T> {
  let items: T[] = [];
  let times: number[] = [];
  let spareItems: T[] = [];
  let spareTimes: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (items.length === 0) return;
    // Swapped before the consumer runs: what it causes to be pushed lands in the next batch,
    // and a consumer that throws loses only its own batch.
    const batch = items;
    const at = times;
    items = spareItems;
    times = spareTimes;
    try {
      consume(batch, at);
    } finally {
      batch.length = 0;
      at.length = 0;
      spareItems = batch;
      spareTimes = at;
    }
  };
  return {
    push(item, at) {
      items.push(item);
      times.push(at);
      if (items.length >= MAX_WAITING) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, intervalMs);
        // Never what keeps a process alive; owners flush when they close.
        timer.unref();
      }
    },
    flush,
  };
}
