// Passive health (Envoy's outlier detection, reduced to what a laptop mesh needs first): an
// endpoint whose connection fails is taken out of rotation for a while, longer each time it
// fails again soon after coming back. Records are keyed by `address:port` and live in a
// tracker that outlives route tables, so a snapshot swap cannot bring an ejected endpoint
// back early. Everything takes `now` from the caller.

export interface OutlierRecord {
  readonly key: string;
  /** The endpoint is out of rotation while `now < ejectedUntil`. */
  ejectedUntil: number;
  /** Ejections that still count towards the back-off; decays while the endpoint behaves. */
  ejections: number;
  consecutiveFailures: number;
  lastFailureAt: number;
}

export interface HealthTrackerOptions {
  /** First ejection lasts this long; each further one doubles it. Envoy's default is 30 s. */
  baseEjectionMs?: number;
  maxEjectionMs?: number;
  /** Connection failures in a row that eject. One: a refused connection is a strong signal. */
  consecutiveFailures?: number;
}

export interface Ejection {
  key: string;
  durationMs: number;
  ejections: number;
}

export interface HealthTracker {
  readonly options: Readonly<Required<HealthTrackerOptions>>;
  /** The record for `address:port`, created on first use and shared by every table. */
  record(key: string): OutlierRecord;
  /** A connection to the endpoint failed; returns the ejection it caused, if any. */
  reportFailure(rec: OutlierRecord, now: number): Ejection | undefined;
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

export function isEjected(rec: OutlierRecord, now: number): boolean {
  return now < rec.ejectedUntil;
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

  return {
    options,
    record(key) {
      let rec = records.get(key);
      if (!rec) {
        rec = { key, ejectedUntil: 0, ejections: 0, consecutiveFailures: 0, lastFailureAt: 0 };
        records.set(key, rec);
      }
      return rec;
    },
    reportFailure(rec, now) {
      rec.lastFailureAt = now;
      // Failures on requests that were already in flight when the endpoint was ejected say
      // nothing new; counting them would double the ejection for one outage.
      if (now < rec.ejectedUntil) return undefined;
      rec.consecutiveFailures++;
      if (rec.consecutiveFailures < options.consecutiveFailures) return undefined;
      rec.consecutiveFailures = 0;
      // Envoy lowers the multiplier once per interval while the host is healthy; doing it
      // lazily here keeps the tracker free of timers.
      if (rec.ejections > 0 && rec.ejectedUntil > 0) {
        const quiet = now - rec.ejectedUntil;
        if (quiet > 0) {
          rec.ejections = Math.max(0, rec.ejections - Math.floor(quiet / options.baseEjectionMs));
        }
      }
      rec.ejections++;
      const durationMs = Math.min(
        options.maxEjectionMs,
        options.baseEjectionMs * 2 ** Math.min(rec.ejections - 1, 30),
      );
      rec.ejectedUntil = now + durationMs;
      return { key: rec.key, durationMs, ejections: rec.ejections };
    },
    reportSuccess(rec) {
      rec.consecutiveFailures = 0;
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
