// The retry budget on by default (Linkerd's): over a sliding window, retries may add at most
// `ratio` of the requests seen, plus a floor of `minPerSecond` retries per second so that a
// quiet service can still retry. When a backend fails outright, retries stop at the budget
// instead of multiplying the load on it (a retry storm). Requests deposit, retries withdraw.
//
// The window is a ring of one-second slots; `now` comes from the caller.

export interface RetryBudgetConfig {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
}

/** Linkerd's defaults: 20 % extra load, 10 retries/s floor, 10 s window. */
export const DEFAULT_RETRY_BUDGET: RetryBudgetConfig = {
  ratio: 0.2,
  minPerSecond: 10,
  windowMs: 10_000,
};

const SLOT_MS = 1000;

export interface RetryBudget {
  config: RetryBudgetConfig;
  readonly requests: number[];
  readonly retries: number[];
  /** Absolute index (now / SLOT_MS) of the newest slot. */
  slot: number;
  /** Retries refused for want of budget (a counter for telemetry). */
  exhausted: number;
}

export function createRetryBudget(config: RetryBudgetConfig = DEFAULT_RETRY_BUDGET): RetryBudget {
  const n = Math.max(1, Math.ceil(config.windowMs / SLOT_MS));
  return {
    config,
    requests: new Array<number>(n).fill(0),
    retries: new Array<number>(n).fill(0),
    slot: -1,
    exhausted: 0,
  };
}

function advance(b: RetryBudget, now: number): number {
  const n = b.requests.length;
  const s = Math.floor(now / SLOT_MS);
  if (s > b.slot) {
    const gap = b.slot < 0 ? n : Math.min(n, s - b.slot);
    for (let i = 1; i <= gap; i++) {
      const idx = (((s - gap + i) % n) + n) % n;
      b.requests[idx] = 0;
      b.retries[idx] = 0;
    }
    b.slot = s;
  }
  // A clock that stepped back counts into the newest slot.
  return ((b.slot % n) + n) % n;
}

/** One original request (not a retry) was sent. */
export function depositRequest(b: RetryBudget, now: number): void {
  b.requests[advance(b, now)]!++;
}

/** Asks to retry once: true (and counted) while the budget allows, else false. */
export function withdrawRetry(b: RetryBudget, now: number): boolean {
  const idx = advance(b, now);
  let requests = 0;
  let retries = 0;
  for (let i = 0; i < b.requests.length; i++) {
    requests += b.requests[i]!;
    retries += b.retries[i]!;
  }
  const c = b.config;
  const allowed = c.minPerSecond * (c.windowMs / 1000) + c.ratio * requests;
  if (retries + 1 > allowed) {
    b.exhausted++;
    return false;
  }
  b.retries[idx]!++;
  return true;
}
