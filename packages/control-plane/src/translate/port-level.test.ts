import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DestinationRuleIn, TrafficPolicyIn } from './input.js';
import { portLevelPorts, portPolicy } from './port-level.js';

const rr = { simple: 'ROUND_ROBIN' };
const random = { simple: 'RANDOM' };
const pool = (n: number) => ({ http: { http2MaxRequests: n } });

describe('portLevelSettings', () => {
  it('lists every port named at the top level or in a subset, once, ascending', () => {
    const dr: DestinationRuleIn = {
      metadata: { name: 'r', namespace: 'default' },
      spec: {
        host: 'r',
        trafficPolicy: {
          portLevelSettings: [
            { port: { number: 9090 }, loadBalancer: rr },
            { port: { number: 80 }, loadBalancer: rr },
          ],
        },
        subsets: [
          { name: 'a', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: {} }] } },
          { name: 'b', trafficPolicy: { portLevelSettings: [{ port: { number: 7 }, tls: {} }] } },
          { name: 'c' },
        ],
      },
    };
    assert.deepEqual(portLevelPorts(dr), [7, 80, 9090]);
    assert.deepEqual(portLevelPorts(undefined), []);
  });

  it('a top-level port entry replaces all four components, defaults for what it leaves out', () => {
    const top: TrafficPolicyIn = {
      loadBalancer: random,
      connectionPool: pool(100),
      outlierDetection: { consecutive5xxErrors: 7 },
      tls: { mode: 'ISTIO_MUTUAL' },
      retryBudget: { minRetryConcurrency: 5 },
      portLevelSettings: [{ port: { number: 9080 }, loadBalancer: rr }],
    };
    assert.deepEqual(portPolicy(top, undefined, 9080), {
      loadBalancer: rr,
      // Not a port-level field: it stays.
      retryBudget: { minRetryConcurrency: 5 },
    });
    // Another port: the top level as it is, without its port entries.
    const { portLevelSettings: _, ...rest } = top;
    assert.deepEqual(portPolicy(top, undefined, 1234), rest);
  });

  it('a subset overrides per component what the top level resolved for the port', () => {
    const top: TrafficPolicyIn = {
      loadBalancer: random,
      portLevelSettings: [{ port: { number: 9080 }, loadBalancer: rr, connectionPool: pool(1) }],
    };
    const subset: TrafficPolicyIn = { outlierDetection: { consecutive5xxErrors: 2 } };
    assert.deepEqual(portPolicy(top, subset, 9080), {
      loadBalancer: rr,
      connectionPool: pool(1),
      outlierDetection: { consecutive5xxErrors: 2 },
    });
    assert.deepEqual(portPolicy(top, subset, 80), {
      loadBalancer: random,
      outlierDetection: { consecutive5xxErrors: 2 },
    });
  });

  it("a subset's port entry replaces everything, top-level port entry included", () => {
    const top: TrafficPolicyIn = {
      loadBalancer: random,
      connectionPool: pool(100),
      portLevelSettings: [{ port: { number: 9080 }, connectionPool: pool(1) }],
    };
    const subset: TrafficPolicyIn = {
      loadBalancer: rr,
      retryBudget: { percent: { value: 50 } },
      portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'DISABLE' } }],
    };
    assert.deepEqual(portPolicy(top, subset, 9080), {
      tls: { mode: 'DISABLE' },
      retryBudget: { percent: { value: 50 } },
    });
    // Without a top level at all.
    assert.deepEqual(portPolicy(undefined, subset, 9080), {
      tls: { mode: 'DISABLE' },
      retryBudget: { percent: { value: 50 } },
    });
    assert.deepEqual(portPolicy(undefined, subset, 80), {
      loadBalancer: rr,
      retryBudget: { percent: { value: 50 } },
    });
  });
});
