// Per-request metrics without per-request label work. prom-client's own Counter and
// Histogram validate and hash every label set on every call (about 15 µs per request for
// Istio's 25 labels and four metrics, measured), which is too much for the hot path. Here a
// request adds to plain numbers in a series found by a short key; prom-client's registry
// reads the series only when scraped, through the collectors below (objects with the
// `name/help/type/get()` shape the registry formats), so the exposition is still
// prom-client's.

import type { Metric } from 'prom-client';

/** What the registry reads from a metric's `get()` (prom-client does not export the type). */
interface CollectedValue {
  metricName?: string;
  labels: Readonly<Record<string, string | number>>;
  value: number;
}

/** Envoy's default histogram buckets, which Istio uses for every standard histogram. */
export const ISTIO_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
];

export const ISTIO_BUCKETS_SECONDS: readonly number[] = ISTIO_BUCKETS.map((b) => b / 1000);

export class HistogramData {
  /** Per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** Everything recorded under one label set. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  count: number;
  readonly duration: HistogramData;
  /** The same in seconds, for Weft's own metrics (Prometheus's base unit). */
  readonly durationSeconds: HistogramData;
  readonly requestBytes: HistogramData;
  readonly responseBytes: HistogramData;
}

export function createSeries(labels: Record<string, string>): Series {
  return {
    labels,
    count: 0,
    duration: new HistogramData(ISTIO_BUCKETS),
    durationSeconds: new HistogramData(ISTIO_BUCKETS_SECONDS),
    requestBytes: new HistogramData(ISTIO_BUCKETS),
    responseBytes: new HistogramData(ISTIO_BUCKETS),
  };
}

/** Series by their label values; equal label sets share one series. */
export class SeriesSet {
  private readonly byLabels = new Map<string, Series>();

  get(labels: Record<string, string>): Series {
    const key = Object.values(labels).join('\u0000');
    let s = this.byLabels.get(key);
    if (s === undefined) {
      s = createSeries(labels);
      this.byLabels.set(key, s);
    }
    return s;
  }

  all(): IterableIterator<Series> {
    return this.byLabels.values();
  }

  get size(): number {
    return this.byLabels.size;
  }
}

interface Collector {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: 'sum';
    values: CollectedValue[];
  }>;
  reset(): void;
}

/**
 * The registry's `registerMetric` is typed for prom-client's own classes but only calls
 * `name`, `get()` and `reset()`; this cast is the one place that relies on it.
 */
export function asMetric(c: Collector): Metric {
  return c as unknown as Metric;
}

export function seriesCounter(
  name: string,
  help: string,
  set: () => Iterable<Series>,
  value: (s: Series) => number,
): Metric {
  return asMetric({
    name,
    help,
    type: 'counter',
    reset: () => undefined,
    get: () =>
      Promise.resolve({
        name,
        help,
        type: 'counter',
        aggregator: 'sum',
        values: [...set()].map((s) => ({ labels: s.labels, value: value(s) })),
      }),
  });
}

export function seriesHistogram(
  name: string,
  help: string,
  set: () => Iterable<Series>,
  data: (s: Series) => HistogramData,
): Metric {
  return asMetric({
    name,
    help,
    type: 'histogram',
    reset: () => undefined,
    get: () => {
      const values: CollectedValue[] = [];
      for (const s of set()) {
        const h = data(s);
        let cumulative = 0;
        for (let i = 0; i < h.bounds.length; i++) {
          cumulative += h.counts[i]!;
          values.push({
            metricName: `${name}_bucket`,
            labels: { ...s.labels, le: h.bounds[i]! },
            value: cumulative,
          });
        }
        values.push({
          metricName: `${name}_bucket`,
          labels: { ...s.labels, le: '+Inf' },
          value: h.count,
        });
        values.push({ metricName: `${name}_sum`, labels: s.labels, value: h.sum });
        values.push({ metricName: `${name}_count`, labels: s.labels, value: h.count });
      }
      return Promise.resolve({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values,
      });
    },
  });
}
