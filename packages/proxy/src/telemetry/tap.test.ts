import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestEndEvent } from './channels.js';
import { matchesTap, parseStatusFilter, toTapRecord } from './tap.js';

const base: RequestEndEvent = {
  proxyId: 'gateway',
  kind: 'gateway',
  method: 'GET',
  authority: 'shop',
  path: '/order/42',
  routeId: 'default/shop#1',
  cluster: 'outbound|8080|v2|order.default.svc.cluster.local',
  endpoint: '10.0.0.9:8080',
  status: 503,
  flag: 'UF',
  durationMs: 5,
  attempts: 2,
  requestId: 'r',
};

describe('tap filters', () => {
  it('parses a status or a status class, and refuses anything else clearly', () => {
    assert.deepEqual(parseStatusFilter('503'), { min: 503, max: 503 });
    assert.deepEqual(parseStatusFilter('5xx'), { min: 500, max: 599 });
    assert.deepEqual(parseStatusFilter('4XX'), { min: 400, max: 499 });
    for (const bad of ['6xx', '5', '50x', 'error', ''])
      assert.throws(() => parseStatusFilter(bad), /is not a status code \(503\) or class \(5xx\)/);
  });

  it('matches the service by the cluster outbound and by the sidecar inbound', () => {
    assert.equal(matchesTap({ service: 'order' }, base, undefined), true);
    assert.equal(matchesTap({ service: 'user' }, base, undefined), false);
    const inbound = { ...base, kind: 'inbound' as const, cluster: 'inbound|9000||' };
    assert.equal(matchesTap({ service: 'order' }, inbound, 'order'), true);
    assert.equal(matchesTap({ service: 'order' }, inbound, 'user'), false);
    assert.equal(
      matchesTap({ service: 'order' }, { ...base, cluster: undefined }, undefined),
      false,
    );
  });

  it('matches path prefixes and statuses', () => {
    assert.equal(matchesTap({ pathPrefix: '/order' }, base, undefined), true);
    assert.equal(matchesTap({ pathPrefix: '/user' }, base, undefined), false);
    assert.equal(matchesTap({ status: parseStatusFilter('5xx') }, base, undefined), true);
    assert.equal(matchesTap({ status: parseStatusFilter('2xx') }, base, undefined), false);
  });

  it('says where the request went and how long it took', () => {
    const r = toTapRecord(base, 1_000);
    assert.equal(r.direction, 'outbound');
    assert.equal(r.upstreamHost, '10.0.0.9:8080');
    assert.equal(r.upstreamCluster, base.cluster);
    assert.equal(r.attempts, 2);
    assert.equal(r.flags, 'UF');
    assert.equal(r.time, new Date(995).toISOString());
  });
});
