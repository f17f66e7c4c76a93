import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Snapshot } from '@weft/model';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { createDataPlane } from './data-plane.js';
import { subscribeAccessLog } from './telemetry/access-log.js';
import {
  cluster,
  forwardTo,
  gatewayNode,
  send,
  snapshot,
  startProxy,
  vhost,
} from './server/testing.js';

describe('data plane', () => {
  let up: FakeUpstream;
  let good: Snapshot;
  before(async () => {
    up = await startFakeUpstream('app');
    good = snapshot(
      5,
      [vhost('default/app', ['app'], [forwardTo('default/app#0', [], [['c-app', 1]])])],
      [cluster('c-app', [{ port: up.port }])],
    );
  });
  after(() => up.close());

  it('swaps tables atomically and keeps the last good one when a snapshot fails to compile', async () => {
    const logs: string[] = [];
    const dp = createDataPlane({
      node: gatewayNode,
      log: (level, msg) => void logs.push(`${level} ${msg}`),
    });
    assert.equal(dp.version(), undefined);
    dp.apply(good);
    assert.equal(dp.version(), 5);
    const bad = structuredClone(good);
    bad.version = 6;
    bad.mesh.virtualHosts[0]!.routes[0]!.matches = [{ uri: { regex: '(' } }];
    assert.throws(
      () => dp.apply(bad),
      /mesh\.virtualHosts\[0\]\.routes\[0\]\.matches\[0\]\.uri: invalid RE2 regex/,
    );
    assert.equal(dp.version(), 5);
    assert.equal(dp.gatewayHandler(), dp.gatewayHandler());
    assert.ok(logs.includes('info route table swapped'));
    await dp.close();
  });

  it('publishes one access-log line per request', async () => {
    const lines: string[] = [];
    const unsubscribe = subscribeAccessLog((l) => void lines.push(l));
    const gw = await startProxy('gateway', good);
    try {
      await gw.send({ host: 'app', path: '/x?y=1', headers: { 'x-request-id': 'abc' } });
      await gw.send({ host: 'nowhere', path: '/' });
      await new Promise((r) => setImmediate(r));
      const [ok, nr] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(ok?.response_code, 200);
      assert.equal(ok?.route_name, 'default/app#0');
      assert.equal(ok?.upstream_cluster, 'c-app');
      assert.equal(ok?.upstream_host, `127.0.0.1:${up.port}`);
      assert.equal(ok?.request_id, 'abc');
      assert.equal(ok?.attempts, 1);
      assert.equal(ok?.response_flags, '-');
      assert.equal(typeof ok?.duration, 'number');
      assert.ok((ok?.bytes_received as number) > 0 && (ok?.bytes_sent as number) > 0);
      assert.equal(nr?.response_code, 404);
      assert.equal(nr?.response_flags, 'NR');
    } finally {
      unsubscribe();
      await gw.close();
    }
  });

  it("counts a learn-mode hold in the request's duration", async () => {
    const lines: string[] = [];
    const unsubscribe = subscribeAccessLog((l) => void lines.push(l));
    let release!: () => void;
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => (asked = r));
    const sidecar = await startProxy('outbound', good, {
      // The learner's part: hold a call to `late` until its config is applied.
      learnHost: (authority) => {
        if (!authority.startsWith('late')) return undefined;
        asked();
        return new Promise<void>((r) => (release = r));
      },
    });
    try {
      const reply = sidecar.send({ host: 'late', path: '/' });
      await wasAsked;
      // The control plane's answer takes a while (this is what the caller waits for).
      const HOLD_MS = 150;
      await new Promise((r) => setTimeout(r, HOLD_MS));
      sidecar.dp.apply(
        snapshot(
          6,
          [vhost('default/late', ['late'], [forwardTo('default/late#0', [], [['c-app', 1]])])],
          [cluster('c-app', [{ port: up.port }])],
        ),
      );
      release();
      assert.equal((await reply).status, 200);
      await new Promise((r) => setImmediate(r));
      const line = JSON.parse(lines.at(-1)!) as { duration: number; authority: string };
      assert.equal(line.authority, 'late');
      assert.ok(line.duration >= HOLD_MS, `duration ${line.duration} ms leaves out the hold`);
    } finally {
      unsubscribe();
      await sidecar.close();
    }
  });

  it('in-flight requests finish on the table they started with', async () => {
    const gw = await startProxy('gateway', good);
    try {
      up.set({ delayMs: 150 });
      const arrived = up.nextRequest();
      const pending = send(gw.port, undefined, { host: 'app', path: '/slow' });
      // Swap only once the request is in flight upstream, however slow the machine is.
      await arrived;
      gw.dp.apply({ ...good, version: 6, mesh: { virtualHosts: [] }, gateways: [] });
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal((await gw.send({ host: 'app', path: '/' })).status, 404);
    } finally {
      up.set({});
      await gw.close();
    }
  });
});
