import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cluster } from '@weft/model';
import { defaultOutlierPolicy } from '../outlier/health-tracker.js';
import { compileClusterPolicy, createClusterStates } from './cluster-policy.js';

const base: Cluster = { name: 'c', service: 'c', lb: 'ROUND_ROBIN', endpoints: [] };
const outlier = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
};

describe('compileClusterPolicy', () => {
  it('no DestinationRule: Weft default ejection, no breaker, the default retry budget', () => {
    const p = compileClusterPolicy(base, defaultOutlierPolicy(), createClusterStates());
    assert.equal(p.outlier.consecutiveConnectFailures, 1);
    assert.equal(p.breaker, undefined, 'unlimited: the hot path skips it');
    assert.equal(p.budget.config.ratio, 0.2);
    assert.equal(p.maxRequestsPerConnection, 0);
  });

  it('outlierDetection: connect failures count as 503s, ejection capped at 300 s', () => {
    const p = compileClusterPolicy(
      { ...base, outlier },
      defaultOutlierPolicy(),
      createClusterStates(),
    );
    assert.equal(p.outlier.consecutiveConnectFailures, 0);
    assert.equal(p.outlier.consecutive5xx, 5);
    assert.equal(p.outlier.maxEjectionMs, 300_000);
  });

  it('keeps breaker counts and budgets across compiles, with the new limits', () => {
    const states = createClusterStates();
    const a = compileClusterPolicy(
      { ...base, pool: { maxConnections: 2 } },
      defaultOutlierPolicy(),
      states,
    );
    a.breaker!.active = 1;
    const b = compileClusterPolicy(
      { ...base, pool: { maxConnections: 5 } },
      defaultOutlierPolicy(),
      states,
    );
    assert.equal(b.breaker, a.breaker);
    assert.equal(b.breaker!.active, 1);
    assert.equal(b.breaker!.limits.maxConnections, 5);
    assert.equal(b.budget, a.budget);
  });

  it('rejects values that make no sense, naming the field', () => {
    const compile = (c: Partial<Cluster>) =>
      compileClusterPolicy({ ...base, ...c }, defaultOutlierPolicy(), createClusterStates());
    assert.throws(() => compile({ pool: { maxConnections: 0 } }), /pool\.maxConnections/);
    assert.throws(() => compile({ pool: { maxRetries: -1 } }), /pool\.maxRetries/);
    assert.throws(() => compile({ pool: { connectTimeoutMs: 0 } }), /connectTimeoutMs/);
    assert.throws(
      () => compile({ outlier: { ...outlier, maxEjectionPercent: 101 } }),
      /outlier\.maxEjectionPercent/,
    );
    assert.throws(
      () => compile({ outlier: { ...outlier, baseEjectionMs: 0 } }),
      /outlier\.baseEjectionMs/,
    );
    assert.throws(
      () => compile({ outlier: { ...outlier, consecutive5xxErrors: -1 } }),
      /consecutive5xxErrors/,
    );
    assert.throws(
      () => compile({ retryBudget: { percent: 120, minRetryConcurrency: 3 } }),
      /retryBudget\.percent/,
    );
  });
});
