// The etcd backend against a real etcd that this file starts (one member on 127.0.0.1, data in
// a temporary folder). The shared conformance suite runs unchanged; each of its tests gets its
// own namespace in that etcd, so they cannot see each other's keys.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasEtcd, startEtcd } from '@weft/testkit';
import type { EtcdCluster } from '@weft/testkit';
import { Etcd3 } from 'etcd3';
import { hasCode, runStoreConformance, within } from './conformance.js';
import { openEtcdStore, parseEtcdUrl, rangeEnd } from './etcd.js';
import type { Store, WatchEvent } from './types.js';

const MISSING =
  'etcd is not on PATH: `node scripts/install-test-deps.mjs` installs it (Debian etcd-server)';
// CI must never pass by skipping: there a missing etcd fails the run.
if (!hasEtcd() && process.env.CI === 'true') throw new Error(MISSING);

/** etcd's lessor looks for expired leases every 500 ms; the revoke then goes through raft. */
const EXPIRY_SLACK_MS = 700;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

if (!hasEtcd()) {
  it('etcd store', { skip: MISSING }, () => {});
} else {
  let etcd: EtcdCluster;
  let admin: Etcd3;
  let namespaces = 0;

  before(async () => {
    etcd = await startEtcd();
    admin = new Etcd3({ hosts: etcd.endpoints });
  });
  after(async () => {
    admin?.close();
    await etcd?.stop();
  });

  const open = (prefix: string, root = ''): Promise<Store> =>
    openEtcdStore({ endpoints: etcd.endpoints, prefix, root, onBackgroundError: () => {} });

  runStoreConformance('etcd', async () => {
    const store = await open(`/weft-conformance/${++namespaces}/`);
    return {
      store,
      elapse: (ms) => sleep(ms),
      waitForExpiry: (ttlSeconds) => sleep(ttlSeconds * 1000 + EXPIRY_SLACK_MS),
      async compactHistory() {
        const revision = await store.revision();
        await admin.kv.compact({ revision, physical: true });
      },
      cleanup: () => store.close(),
    };
  });

  describe('etcd store', () => {
    it('keeps Weft keys under the prefix, which replaces /weft/', async () => {
      const store = await openEtcdStore({ endpoints: etcd.endpoints, prefix: '/team-a/weft/' });
      try {
        const events = nextEvents(store, '/weft/config/');
        const { revision } = await store.put('/weft/config/VirtualService/default/a', 'x');
        assert.equal(
          await admin.get('/team-a/weft/config/VirtualService/default/a').string(),
          'x',
          'stored under the prefix in etcd',
        );
        assert.equal(await admin.get('/weft/config/VirtualService/default/a').string(), null);
        const listed = await store.range('');
        assert.deepEqual(
          listed.kvs.map((kv) => kv.key),
          ['/weft/config/VirtualService/default/a'],
        );
        assert.equal((await store.range('/we')).kvs.length, 1, 'a prefix of the root lists all');
        assert.equal((await store.range('/other/')).kvs.length, 0);
        const [ev] = await events;
        assert.equal(ev?.kv.key, '/weft/config/VirtualService/default/a');
        assert.equal(ev?.kv.modRevision, revision);
        await assert.rejects(store.put('/other/x', 'y'), TypeError);
      } finally {
        await store.close();
      }
    });

    it('fails to open on an unreachable etcd, naming the endpoints', async () => {
      const endpoint = '127.0.0.1:1';
      const started = Date.now();
      await assert.rejects(
        openEtcdStore({ endpoints: [endpoint], dialTimeoutMs: 500 }),
        (err: unknown) => {
          hasCode('WEFT_ERR_STORE_UNAVAILABLE')(err);
          assert.match((err as Error).message, /127\.0\.0\.1:1/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 5_000, 'gives up after about dialTimeoutMs');
    });

    it('delivers one batch per revision when etcd sends several at once', async () => {
      const store = await open('/weft-batches/');
      try {
        const { revision: r0 } = await store.put('b/0', '0');
        for (let i = 1; i <= 20; i++) await store.put(`b/${i}`, String(i));
        // A watch from the past gets the whole history in one etcd response.
        const batches: WatchEvent[][] = [];
        await within(
          new Promise<void>((resolve) => {
            const w = store.watch(
              'b/',
              (events) => {
                batches.push(events);
                if (events.some((e) => e.kv.key === 'b/20')) {
                  w.cancel();
                  resolve();
                }
              },
              { fromRevision: r0 },
            );
          }),
          '21 revisions',
        );
        assert.equal(batches.length, 21);
        assert.ok(batches.every((b) => b.length === 1));
      } finally {
        await store.close();
      }
    });

    it('parses etcd:// URLs', () => {
      assert.deepEqual(parseEtcdUrl('etcd://127.0.0.1:2379'), ['127.0.0.1:2379']);
      assert.deepEqual(parseEtcdUrl('etcd://127.0.0.1:2379,127.0.0.1:22379/'), [
        '127.0.0.1:2379',
        '127.0.0.1:22379',
      ]);
      assert.deepEqual(parseEtcdUrl('etcd://[::1]:2379'), ['[::1]:2379']);
      assert.throws(() => parseEtcdUrl('etcd://127.0.0.1'), TypeError);
      assert.throws(() => parseEtcdUrl('http://127.0.0.1:2379'), TypeError);
    });

    it('bounds a prefix range the way etcd does', () => {
      assert.deepEqual(rangeEnd(Buffer.from('a/')), Buffer.from('a0'));
      assert.deepEqual(rangeEnd(Buffer.from([0x61, 0xff])), Buffer.from('b'));
      assert.deepEqual(rangeEnd(Buffer.from([0xff])), Buffer.from([0]));
      assert.deepEqual(rangeEnd(Buffer.alloc(0)), Buffer.from([0]));
    });
  });
}

function nextEvents(store: Store, prefix: string): Promise<WatchEvent[]> {
  return within(
    new Promise<WatchEvent[]>((resolve, reject) => {
      const w = store.watch(
        prefix,
        (events) => {
          w.cancel();
          resolve(events);
        },
        { onError: reject },
      );
    }),
    `events under '${prefix}'`,
  );
}
