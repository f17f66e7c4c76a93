import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bucketQuantile, flatten, goldenRows, type JsonMetric } from './top-stats.js';

function requests(values: [Record<string, string>, number][]): JsonMetric {
  return {
    name: 'istio_requests_total',
    type: 'counter',
    values: values.map(([labels, value]) => ({ labels, value })),
  };
}

function duration(
  labels: Record<string, string>,
  cumulative: [number | '+Inf', number][],
): JsonMetric {
  return {
    name: 'istio_request_duration_milliseconds',
    type: 'histogram',
    values: cumulative.map(([le, value]) => ({
      metricName: 'istio_request_duration_milliseconds_bucket',
      labels: { ...labels, le },
      value,
    })),
  };
}

describe('top arithmetic', () => {
  it('computes quantiles from cumulative buckets as histogram_quantile does', () => {
    const b: [number, number][] = [
      [1, 0],
      [5, 10],
      [10, 20],
      [Infinity, 20],
    ];
    assert.equal(bucketQuantile(0.5, b), 5); // rank 10 ends exactly at the (1, 5] bucket
    assert.equal(bucketQuantile(0.25, b), 3); // halfway through (1, 5]
    assert.equal(bucketQuantile(0.75, b), 7.5);
    assert.equal(
      bucketQuantile(0.99, [
        [10, 1],
        [Infinity, 100],
      ]),
      10,
    ); // in +Inf: the last bound
    assert.equal(
      bucketQuantile(0.5, [
        [10, 0],
        [Infinity, 0],
      ]),
      null,
    );
  });

  it('shows what changed between two samples per service, preferring the destination side', () => {
    const dst = { reporter: 'destination', destination_service: 'user.default.svc.cluster.local' };
    const src = { reporter: 'source', destination_service: 'user.default.svc.cluster.local' };
    const prev = flatten(
      'user-1',
      [
        requests([[{ ...dst, response_code: '200' }, 10]]),
        duration(dst, [
          [25, 0],
          [50, 10],
          ['+Inf', 10],
        ]),
      ],
      0,
    );
    flatten('gateway', [requests([[{ ...src, response_code: '200' }, 999]])], 0, prev);
    const cur = flatten(
      'user-1',
      [
        requests([
          [{ ...dst, response_code: '200' }, 40],
          [{ ...dst, response_code: '503' }, 10],
        ]),
        duration(dst, [
          [25, 0],
          [50, 50],
          ['+Inf', 50],
        ]),
      ],
      2_000,
    );
    flatten('gateway', [requests([[{ ...src, response_code: '200' }, 1999]])], 2_000, cur);
    const [row] = goldenRows(prev, cur, 'service');
    assert.equal(row?.name, 'user.default.svc.cluster.local');
    assert.equal(row?.requests, 40);
    assert.equal(row?.failures, 10);
    assert.equal(row?.rps, 20);
    assert.equal(row?.successRate, 0.75);
    assert.equal(row?.p50Ms, 37.5);
  });

  it('treats a counter that went down as a restarted proxy', () => {
    const labels = { reporter: 'destination', destination_service: 's', response_code: '200' };
    const prev = flatten('p', [requests([[labels, 100]])], 0);
    const cur = flatten('p', [requests([[labels, 4]])], 1_000);
    assert.equal(goldenRows(prev, cur, 'service')[0]?.requests, 4);
  });
});
