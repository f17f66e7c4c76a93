import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyStatus } from '@weft/model';
import { createControlPlaneMetrics } from './metrics.js';
import { prometheusTargets } from './targets.js';

const proxy = (
  id: string,
  role: 'gateway' | 'sidecar',
  ackedVersion: number,
  admin?: string,
): ProxyStatus => ({
  node: {
    id,
    role,
    namespace: 'default',
    labels: {},
    ...(role === 'sidecar' ? { service: id.split('-')[0]! } : {}),
    ...(admin ? { adminAddress: admin } : {}),
  },
  connectedAt: '2026-01-01T00:00:00Z',
  ackedVersion,
});

describe('control plane metrics', () => {
  it('measures push latency from the store change to each ACK', async () => {
    let now = 1_000;
    const proxies = [proxy('gateway', 'gateway', 5), proxy('user-1', 'sidecar', 4)];
    const m = createControlPlaneMetrics({
      proxies: () => proxies,
      snapshotVersion: () => 5,
      instances: () => [{ healthy: true }, { healthy: false }],
      now: () => now,
      processMetrics: false,
    });
    m.published(5, 1_000);
    m.pushed('gateway');
    m.pushed('sidecar');
    now = 1_250;
    m.acked(5, 'gateway');
    now = 3_000;
    m.nacked('sidecar');
    m.acked(4, 'sidecar'); // a version never published here: counted, not timed
    m.storeError('watch');
    const text = await m.registry.metrics();
    assert.match(text, /^weft_control_plane_push_latency_seconds_sum\{role="gateway"\} 0\.25$/m);
    assert.match(text, /^weft_control_plane_push_latency_seconds_count\{role="gateway"\} 1$/m);
    assert.doesNotMatch(text, /push_latency_seconds_count\{role="sidecar"\}/);
    assert.match(text, /^weft_control_plane_pushes_total\{role="sidecar"\} 1$/m);
    assert.match(
      text,
      /^weft_control_plane_push_responses_total\{role="sidecar",outcome="nack"\} 1$/m,
    );
    assert.match(text, /^weft_control_plane_connected_proxies\{role="gateway"\} 1$/m);
    assert.match(text, /^weft_control_plane_proxies_behind 1$/m);
    assert.match(text, /^weft_control_plane_store_errors_total\{operation="watch"\} 1$/m);
    assert.match(text, /^weft_control_plane_instances\{healthy="false"\} 1$/m);
  });

  it('lists proxies with an admin address as Prometheus targets', () => {
    const groups = prometheusTargets([
      proxy('gateway', 'gateway', 1, '127.0.0.1:15090'),
      proxy('user-1', 'sidecar', 1, '127.0.0.1:15091'),
      proxy('old-1', 'sidecar', 1),
    ]);
    assert.deepEqual(groups, [
      {
        targets: ['127.0.0.1:15090'],
        labels: {
          __metrics_path__: '/stats/prometheus',
          weft_proxy: 'gateway',
          weft_role: 'gateway',
          namespace: 'default',
        },
      },
      {
        targets: ['127.0.0.1:15091'],
        labels: {
          __metrics_path__: '/stats/prometheus',
          weft_proxy: 'user-1',
          weft_role: 'sidecar',
          namespace: 'default',
          weft_service: 'user',
        },
      },
    ]);
  });
});
