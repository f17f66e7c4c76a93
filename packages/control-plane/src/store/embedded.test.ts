import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createFakeClock } from '@weft/testkit';
import type { FakeClock } from '@weft/testkit';
import { hasCode, runStoreConformance, within } from './conformance.js';
import type { StoreFixture } from './conformance.js';
import { openEmbeddedStore, prefixEnd } from './embedded.js';
import type { EmbeddedStoreOptions } from './embedded.js';
import type { Store, WatchEvent } from './types.js';

const CHECK_MS = 250;
const HISTORY = 32;

function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'weft-store-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

function fakeTimeOptions(clock: FakeClock): Omit<EmbeddedStoreOptions, 'path'> {
  return {
    now: clock.now,
    setTimer: clock.setTimer,
    leaseCheckIntervalMs: CHECK_MS,
    historyLimit: HISTORY,
    // The conformance suite makes a listener throw on purpose; keep it out of the test output.
    onBackgroundError: () => {},
  };
}

function fixture(store: Store, clock: FakeClock, remove: () => void): StoreFixture {
  return {
    store,
    elapse: async (ms) => clock.advance(ms),
    waitForExpiry: async (ttlSeconds) => clock.advance(ttlSeconds * 1000 + CHECK_MS),
    async compactHistory() {
      for (let i = 0; i < 2 * HISTORY; i++) await store.put('compact-filler', String(i));
      await store.delete('compact-filler');
    },
    async cleanup() {
      await store.close();
      remove();
    },
  };
}

runStoreConformance('embedded, :memory:', async () => {
  const clock = createFakeClock();
  const store = openEmbeddedStore({ path: ':memory:', ...fakeTimeOptions(clock) });
  return fixture(store, clock, () => {});
});

runStoreConformance('embedded, file', async () => {
  const clock = createFakeClock();
  const dir = tempDir();
  const store = openEmbeddedStore({ path: join(dir.path, 'store.db'), ...fakeTimeOptions(clock) });
  return fixture(store, clock, dir.remove);
});

function nextEvents(store: Store, prefix: string, fromRevision?: number): Promise<WatchEvent[]> {
  const next = new Promise<WatchEvent[]>((resolve, reject) => {
    const w = store.watch(
      prefix,
      (events) => {
        w.cancel();
        resolve(events);
      },
      { ...(fromRevision !== undefined && { fromRevision }), onError: reject },
    );
  });
  return within(next, `events under '${prefix}'`);
}

describe('embedded store', () => {
  it('starts at revision 0', async () => {
    const store = openEmbeddedStore({ path: ':memory:' });
    assert.equal(await store.revision(), 0);
    await store.close();
  });

  it('keeps keys, revision and the lease id counter across a reopen', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'store.db');
    try {
      const clock = createFakeClock();
      const first = openEmbeddedStore({ path, ...fakeTimeOptions(clock) });
      const lease = await first.grantLease(30);
      await first.put('a', '1');
      await first.put('b', '2', { lease: lease.id });
      const { revision } = await first.put('a', '3');
      await first.close();

      const second = openEmbeddedStore({ path, ...fakeTimeOptions(clock) });
      assert.equal(await second.revision(), revision);
      assert.deepEqual(await second.get('a'), {
        key: 'a',
        value: '3',
        createRevision: revision - 2,
        modRevision: revision,
        version: 2,
        lease: 0,
      });
      assert.equal((await second.get('b'))?.lease, lease.id);
      assert.ok((await second.grantLease(30)).id > lease.id, 'lease ids are never reused');
      assert.equal((await second.put('c', '4')).revision, revision + 1);
      await second.close();
    } finally {
      dir.remove();
    }
  });

  it('gives every lease a full TTL again after a reopen', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'store.db');
    try {
      const before = createFakeClock(1_000_000);
      const first = openEmbeddedStore({ path, ...fakeTimeOptions(before) });
      const lease = await first.grantLease(10);
      await first.put('svc/a', 'x', { lease: lease.id });
      await first.close();

      // The store was down for an hour, far past the TTL: nobody could send a keepAlive.
      const after = createFakeClock(1_000_000 + 3_600_000);
      const second = openEmbeddedStore({ path, ...fakeTimeOptions(after) });
      after.advance(9_000);
      assert.equal((await second.get('svc/a'))?.value, 'x');
      await second.keepAlive(lease.id);
      after.advance(9_000);
      assert.equal((await second.get('svc/a'))?.value, 'x');

      const deleted = nextEvents(second, 'svc/');
      after.advance(1_000 + CHECK_MS);
      assert.equal((await deleted)[0]?.type, 'delete');
      assert.equal(await second.get('svc/a'), undefined);
      await second.close();
    } finally {
      dir.remove();
    }
  });

  it('refuses a second store on a file that is in use', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'store.db');
    try {
      const first = openEmbeddedStore({ path });
      await first.put('a', '1');
      assert.throws(() => openEmbeddedStore({ path }), hasCode('WEFT_ERR_STORE_UNAVAILABLE'));
      await first.close();
      const second = openEmbeddedStore({ path });
      assert.equal((await second.get('a'))?.value, '1');
      await second.close();
    } finally {
      dir.remove();
    }
  });

  it('keeps the last historyLimit revisions, also across a reopen', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'store.db');
    try {
      const limit = 10;
      const first = openEmbeddedStore({ path, historyLimit: limit });
      for (let i = 1; i <= 30; i++) await first.put(`h/${i}`, String(i));
      const oldestKept = 30 - limit + 1;
      const replayed = await nextEvents(first, 'h/', oldestKept);
      assert.equal(replayed[0]?.kv.key, `h/${oldestKept}`);
      await assert.rejects(nextEvents(first, 'h/', 1), hasCode('WEFT_ERR_COMPACTED'));
      await first.close();

      const second = openEmbeddedStore({ path, historyLimit: limit });
      await assert.rejects(nextEvents(second, 'h/', 1), hasCode('WEFT_ERR_COMPACTED'));
      assert.equal((await nextEvents(second, 'h/', oldestKept))[0]?.kv.key, `h/${oldestKept}`);
      await second.close();
    } finally {
      dir.remove();
    }
  });

  it('delivers a write made by a listener after the batch that caused it', async () => {
    const store = openEmbeddedStore({ path: ':memory:' });
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      store.watch('r/', (events) => {
        for (const e of events) {
          seen.push(e.kv.key);
          if (e.kv.key === 'r/1') void store.put('r/echo', 'x');
          if (e.kv.key === 'r/2') resolve();
        }
      });
    });
    await store.put('r/1', '1');
    await store.put('r/2', '2');
    await done;
    assert.deepEqual(seen, ['r/1', 'r/echo', 'r/2']);
    await store.close();
  });

  it('reports a throwing listener to onBackgroundError and keeps delivering to it', async () => {
    const errors: unknown[] = [];
    const store = openEmbeddedStore({ path: ':memory:', onBackgroundError: (e) => errors.push(e) });
    let calls = 0;
    store.watch('x/', () => {
      calls++;
      throw new Error('boom');
    });
    await store.put('x/1', '1');
    await store.put('x/2', '2');
    await nextEvents(store, 'x/', 2);
    assert.equal(calls, 2);
    assert.equal(errors.length, 2);
    await store.close();
  });

  it('fails a watch on a closed store with WEFT_ERR_STORE_CLOSED', async () => {
    const store = openEmbeddedStore({ path: ':memory:' });
    await store.close();
    await assert.rejects(nextEvents(store, ''), hasCode('WEFT_ERR_STORE_CLOSED'));
  });

  it('bounds a prefix range by bumping its last code point', () => {
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('a/'), 'a0');
    assert.equal(prefixEnd('a\u{10ffff}'), 'b');
    assert.equal(prefixEnd('\u{10ffff}\u{10ffff}'), undefined);
    assert.equal(prefixEnd('a\u{d7ff}'), 'a\u{e000}');
    assert.equal(prefixEnd('a\u{ffff}'), 'a\u{10000}');
  });
});
