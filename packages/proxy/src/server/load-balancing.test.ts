// Integration: the load balancers through a real proxy and fake upstreams on 127.0.0.1:
// consistent hashing by header and by cookie, in-flight and latency bookkeeping, and the
// default (peak-EWMA) steering around a slow instance.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cluster, ConsistentHash } from '@weft/model';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { cluster, forwardTo, snapshot, startProxy, vhost, type ProxyHarness } from './testing.js';

const hashed = (c: Cluster, hash: ConsistentHash): Cluster => ({ ...c, hash });

describe('load balancing', () => {
  let ups: FakeUpstream[];
  let gw: ProxyHarness;

  before(async () => {
    ups = await Promise.all(['u1', 'u2', 'u3'].map((n) => startFakeUpstream(n)));
    const eps = ups.map((u) => ({ port: u.port }));
    gw = await startProxy(
      'gateway',
      snapshot(
        1,
        [
          vhost(
            'default/app',
            ['app'],
            [
              forwardTo('by-header', [{ uri: { prefix: '/header' } }], [['c-header', 1]]),
              forwardTo('by-cookie', [{ uri: { prefix: '/cookie' } }], [['c-cookie', 1]]),
              forwardTo('default', [{ uri: { prefix: '/default' } }], [['c-default', 1]]),
              forwardTo('least', [{ uri: { prefix: '/least' } }], [['c-least', 1]]),
            ],
          ),
        ],
        [
          hashed(cluster('c-header', eps), { key: { header: 'x-user' }, algorithm: 'RING_HASH' }),
          hashed(cluster('c-cookie', eps), {
            key: { cookie: { name: 'weft-affinity', path: '/', ttlMs: 3_600_000 } },
            algorithm: 'MAGLEV',
          }),
          cluster('c-default', eps, 'PEAK_EWMA'),
          cluster('c-least', eps, 'LEAST_REQUEST'),
        ],
      ),
    );
  });

  after(async () => {
    await gw.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  const served = async (path: string, headers: Record<string, string> = {}) => {
    const r = await gw.send({ host: 'app', path, headers });
    assert.equal(r.status, 200, r.body);
    return r.json<FakeUpstreamReply>().name;
  };

  it('keeps each key of a header hash on one instance', async () => {
    const byUser = new Map<string, Set<string>>();
    for (let round = 0; round < 5; round++) {
      for (let u = 0; u < 30; u++) {
        const name = await served('/header', { 'x-user': `user-${u}` });
        const seen = byUser.get(`user-${u}`) ?? new Set<string>();
        seen.add(name);
        byUser.set(`user-${u}`, seen);
      }
    }
    for (const [user, seen] of byUser) assert.equal(seen.size, 1, `${user}: ${[...seen].join()}`);
    const used = new Set([...byUser.values()].flatMap((s) => [...s]));
    assert.ok(used.size >= 2, 'keys spread over instances');
  });

  it('walks to another instance when the one a key maps to is ejected, and back after', async () => {
    const home = await served('/header', { 'x-user': 'ann' });
    // Upstream uN is endpoint N-1.
    const ep = gw.dp.table()!.clusters.get('c-header')!.endpoints[Number(home.slice(1)) - 1]!;
    const outlier = ep.outlier as { ejectedUntil: number };
    outlier.ejectedUntil = Date.now() + 60_000;
    try {
      const moved = await served('/header', { 'x-user': 'ann' });
      assert.notEqual(moved, home);
      assert.equal(await served('/header', { 'x-user': 'ann' }), moved, 'sticks to the next one');
    } finally {
      outlier.ejectedUntil = 0;
    }
    assert.equal(await served('/header', { 'x-user': 'ann' }), home);
  });

  it('sets a generated affinity cookie, and requests carrying it stay on one instance', async () => {
    const first = await gw.send({ host: 'app', path: '/cookie' });
    assert.equal(first.status, 200);
    const setCookie = first.headers['set-cookie']?.[0] ?? '';
    const m = /^weft-affinity=([0-9a-f]{16}); Path=\/; Max-Age=3600; HttpOnly$/.exec(setCookie);
    assert.ok(m, setCookie);
    const home = first.json<FakeUpstreamReply>().name;
    for (let i = 0; i < 10; i++) {
      const r = await gw.send({
        host: 'app',
        path: '/cookie',
        headers: { cookie: `weft-affinity=${m[1]}` },
      });
      assert.equal(r.json<FakeUpstreamReply>().name, home);
      assert.equal(r.headers['set-cookie'], undefined, 'only set when the client had none');
    }
  });

  it('by default (peak-EWMA), sends few requests to a slow instance', async () => {
    ups[2]!.set({ delayMs: 40 });
    try {
      const counts = new Map<string, number>();
      // Four clients in a closed loop, 200 requests in all.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 50; i++) {
            const name = await served('/default');
            counts.set(name, (counts.get(name) ?? 0) + 1);
          }
        }),
      );
      const slow = counts.get('u3') ?? 0;
      // Round robin would send it 67; the 30 ms default prior and the first 40 ms answers keep
      // it to a handful on a quiet machine. The bound is loose because this process is also
      // the client and the upstreams, and a loaded machine stalls all of them at once
      // (bench/lb-compare.mjs measures the share; this only checks the direction).
      assert.ok(slow < 50, `slow instance got ${slow} of 200`);
      const [a, b, c] = gw.dp
        .table()!
        .clusters.get('c-default')!
        .endpoints.map((e) => e.load);
      assert.ok(
        c!.latencyMs > a!.latencyMs && c!.latencyMs > b!.latencyMs,
        `latency estimates ${a!.latencyMs}, ${b!.latencyMs}, ${c!.latencyMs}`,
      );
    } finally {
      ups[2]!.set({});
    }
  });
  it('counts requests in flight and releases them when they end, whatever the outcome', async () => {
    const eps = gw.dp.table()!.clusters.get('c-least')!.endpoints;
    ups[0]!.set({ delayMs: 150 });
    try {
      const pending = Array.from({ length: 6 }, () => gw.send({ host: 'app', path: '/least' }));
      await new Promise((r) => setTimeout(r, 60));
      assert.ok(eps[0]!.load.active >= 1, 'the slow one holds requests');
      await Promise.all(pending);
      await gw.send({ host: 'app', path: '/least', headers: { 'x-fake-close': 'before-headers' } });
    } finally {
      ups[0]!.set({});
      // The reset ejected an endpoint; later tests want all three.
      for (const e of eps) (e.outlier as { ejectedUntil: number }).ejectedUntil = 0;
    }
    assert.deepEqual(
      eps.map((e) => e.load.active),
      [0, 0, 0],
    );
  });
});

describe('consistent hash when an instance is added', () => {
  let ups: FakeUpstream[];
  let gw: ProxyHarness;
  const snap = (version: number, n: number) =>
    snapshot(
      version,
      [vhost('default/app', ['app'], [forwardTo('hash', [], [['c-hash', 1]])])],
      [
        hashed(
          cluster(
            'c-hash',
            ups.slice(0, n).map((u) => ({ port: u.port })),
          ),
          { key: { header: 'x-user' }, algorithm: 'RING_HASH' },
        ),
      ],
    );

  before(async () => {
    ups = await Promise.all(['h1', 'h2', 'h3', 'h4'].map((n) => startFakeUpstream(n)));
    gw = await startProxy('gateway', snap(1, 3));
  });

  after(async () => {
    await gw.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  const homes = async (keys: number) => {
    const out: string[] = [];
    for (let k = 0; k < keys; k++) {
      const r = await gw.send({ host: 'app', path: '/', headers: { 'x-user': `user-${k}` } });
      assert.equal(r.status, 200, r.body);
      out.push(r.json<FakeUpstreamReply>().name);
    }
    return out;
  };

  it('moves about 1/N of the keys, all of them to the new instance', async () => {
    const keys = 400;
    const before3 = await homes(keys);
    gw.dp.apply(snap(2, 4));
    const after4 = await homes(keys);
    let moved = 0;
    for (let k = 0; k < keys; k++) {
      if (after4[k] === before3[k]) continue;
      moved++;
      assert.equal(after4[k], 'h4', `user-${k} moved from ${before3[k]} to ${after4[k]}`);
    }
    // 1/4 expected; the ring's unevenness for these keys allows some spread.
    const share = moved / keys;
    assert.ok(share > 0.15 && share < 0.35, `moved ${moved} of ${keys}`);
  });
});
