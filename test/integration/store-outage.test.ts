// Losing the store. (1) A control plane started while etcd is down says so in plain words,
// retries with backoff, and comes up once etcd is back. (2) With the mesh running, etcd is
// stopped: the gateway keeps serving its last snapshot, writes fail with a clear 503 naming
// the store, and when etcd returns the control plane recovers by itself: acknowledged writes
// are all there, and a change made afterwards reaches the gateway.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startGateway, type RunningGateway } from '@weft/proxy';
import {
  hasEtcd,
  startEtcd,
  startFakeUpstream,
  type EtcdCluster,
  type FakeUpstream,
} from '@weft/testkit';
import {
  api,
  ETCD_MISSING,
  eventually,
  getVia,
  startControlProcess,
  shopConfig,
  type ControlProcess,
} from './support/cluster.js';

const MISSING = ETCD_MISSING;
if (!hasEtcd() && process.env.CI === 'true') throw new Error(MISSING);

const config = shopConfig;

if (!hasEtcd()) {
  it('store outage', { skip: MISSING }, () => {});
} else {
  let etcd: EtcdCluster;
  let dir: string;
  let control: ControlProcess | undefined;
  let gateway: RunningGateway | undefined;
  const upstreams: FakeUpstream[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-outage-'));
    etcd = await startEtcd();
  });
  after(async () => {
    await gateway?.close();
    await control?.kill('SIGKILL');
    for (const u of upstreams) await u.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'starts against an unreachable etcd with a clear error, retries, and comes up when it answers',
    { timeout: 60_000 },
    async () => {
      const member = etcd.members[0];
      assert.ok(member);
      await member.stop();
      let retried: () => void = () => undefined;
      const retrying = new Promise<void>((r) => (retried = r));
      const starting = startControlProcess(
        ['--store', `etcd://${member.endpoint}`, '--data-dir', dir],
        60_000,
        // Two failed attempts: it retries rather than giving up.
        (log) => {
          if ((log.match(/cannot reach the store; retrying/g) ?? []).length >= 2) retried();
        },
      );
      await retrying;
      await member.restart();
      control = await starting;
      const log = control.log();
      assert.match(log, /cannot reach the store; retrying/);
      assert.match(log, new RegExp(member.endpoint.replace(/\./g, '\\.')));
      assert.match(log, /retryInMs/);
      const r = await api<{ leader: boolean }>(control.url, 'GET', '/v1/replica');
      assert.equal(r.status, 200);
    },
  );

  it(
    'keeps proxies serving through an etcd outage and recovers with nothing lost',
    { timeout: 90_000 },
    async () => {
      assert.ok(control, 'the first test started the control plane');
      const member = etcd.members[0];
      assert.ok(member);
      const one = await startFakeUpstream('shop-1');
      const two = await startFakeUpstream('shop-2');
      upstreams.push(one, two);
      const applied = await api(control.url, 'POST', '/v1/apply', {
        files: [{ path: 'shop.yaml', content: config('shop-v1') }],
      });
      assert.equal(applied.status, 200, JSON.stringify(applied.json));
      for (const [svc, u] of [
        ['shop-v1', one],
        ['shop-v2', two],
      ] as const) {
        const reg: { status: number; json: unknown } = await api(
          control.url,
          'POST',
          '/v1/instances',
          {
            service: svc,
            id: u.name,
            address: u.address,
            port: u.port,
            ttlSeconds: 60,
          },
        );
        assert.equal(reg.status, 201, JSON.stringify(reg.json));
      }
      gateway = await startGateway({ control: control.url, port: 0, id: 'outage-gw' });
      await gateway.ready;
      const routesTo = (name: string) =>
        eventually(async () => {
          const r = await getVia(gateway?.port ?? 0, '/', 'shop');
          return r.status === 200 && (JSON.parse(r.body) as { name: string }).name === name
            ? true
            : undefined;
        }, `the gateway routing to ${name}`);
      await routesTo('shop-1');

      await member.stop();
      // The gateway keeps serving its last snapshot.
      for (let i = 0; i < 5; i++) {
        const r = await getVia(gateway.port, '/', 'shop');
        assert.equal(r.status, 200);
        assert.equal((JSON.parse(r.body) as { name: string }).name, 'shop-1');
      }
      // A write while etcd is down fails in plain words, and is not half-applied.
      const refused = await api<{ error: { code: string; message: string } }>(
        control.url,
        'POST',
        '/v1/apply',
        { files: [{ path: 'shop.yaml', content: config('shop-v2') }] },
      );
      assert.equal(refused.status, 503, JSON.stringify(refused.json));
      assert.equal(refused.json.error.code, 'WEFT_ERR_STORE_UNAVAILABLE');
      // Reads keep answering from the cache.
      const cached = await api<{ items: { id: string }[] }>(control.url, 'GET', '/v1/instances');
      assert.equal(cached.status, 200);
      assert.equal(cached.json.items.length, 2);

      await member.restart();
      // Everything acknowledged before the outage is still in the store (heartbeats and
      // resource reads go to the store, not to the cache).
      const url = control.url;
      for (const id of ['shop-1', 'shop-2'])
        await eventually(async () => {
          const r = await api(url, 'PUT', `/v1/instances/${id}/heartbeat`);
          return r.status === 200 ? true : undefined;
        }, `${id} in the store after the outage`);
      const vs = await api<{ spec: { http: { route: { destination: { host: string } }[] }[] } }>(
        url,
        'GET',
        '/v1/resources/VirtualService/default/shop',
      );
      assert.equal(vs.status, 200);
      assert.equal(vs.json.spec.http[0]?.route[0]?.destination.host, 'shop-v1');
      // The control plane follows the store again: a change now reaches the gateway.
      const again = await eventually(async () => {
        const r = await api(url, 'POST', '/v1/apply', {
          files: [{ path: 'shop.yaml', content: config('shop-v2') }],
        });
        return r.status === 200 ? r : undefined;
      }, 'an apply once etcd is back');
      assert.equal(again.status, 200);
      await routesTo('shop-2');
      assert.match(control?.log() ?? '', /store watch failed; re-listing|etcd store/);
    },
  );
}
