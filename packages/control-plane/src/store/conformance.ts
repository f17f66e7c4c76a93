// The behaviour every Store backend shares (DESIGN.md habit 7): the embedded store and etcd run
// this same suite, so code above the store can switch backends without noticing.
//
// Revisions are asserted relative to the store's revision at the start of a test, because etcd
// starts at 1 and the embedded store at 0. Time-dependent tests ask the fixture to let time pass:
// a fake clock advances at once, a real backend with short TTLs sleeps.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store, WatchEvent, WatchOptions } from './types.js';
import { StoreError } from './types.js';

export interface StoreFixture {
  /** A store with no keys, used by one test only. */
  store: Store;
  /** Lets `ms` of lease time pass. */
  elapse(ms: number): Promise<void>;
  /**
   * Lets a lease of `ttlSeconds`, granted or kept alive just now, expire, and returns once the
   * backend has had its chance to revoke it (the delete events may still be on their way).
   */
  waitForExpiry(ttlSeconds: number): Promise<void>;
  /** Makes every revision up to the current one unavailable to new watches. */
  compactHistory(): Promise<void>;
  /** Closes the store (it may already be closed) and removes what the fixture created. */
  cleanup(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreFixture>;

/** Long enough for a real backend with short TTLs; a hung watch fails instead of hanging. */
const TEST_TIMEOUT_MS = 20_000;
/** How long a wait for a watch may take before the test fails (the test's own limit is longer). */
const WAIT_MS = 10_000;
/** Long enough that a real backend's minimum TTL (etcd: ~1.5 s) does not round it up. */
const TTL = 2;

export function runStoreConformance(name: string, factory: StoreFactory): void {
  const test = (title: string, fn: (f: StoreFixture) => Promise<void>): void => {
    it(title, { timeout: TEST_TIMEOUT_MS }, async () => {
      const fixture = await factory();
      try {
        await fn(fixture);
      } finally {
        await fixture.cleanup();
      }
    });
  };

  describe(`Store conformance: ${name}`, () => {
    describe('revisions and reads', () => {
      test('every write bumps the revision by exactly one', async ({ store }) => {
        const r0 = await store.revision();
        assert.equal((await store.put('a', '1')).revision, r0 + 1);
        assert.equal((await store.put('a', '2')).revision, r0 + 2);
        assert.equal((await store.put('b', '1')).revision, r0 + 3);
        assert.deepEqual(await store.delete('a'), { revision: r0 + 4, deleted: 1 });
        assert.equal(await store.revision(), r0 + 4);
      });

      test('a delete of an absent key changes nothing', async ({ store }) => {
        await store.put('a', '1');
        const r = await store.revision();
        assert.deepEqual(await store.delete('nope'), { revision: r, deleted: 0 });
        assert.equal(await store.revision(), r);
      });

      test('get reports createRevision, modRevision, version and lease', async ({ store }) => {
        assert.equal(await store.get('k'), undefined);
        const { revision: r1 } = await store.put('k', 'one');
        const { revision: r2 } = await store.put('k', 'two');
        assert.deepEqual(await store.get('k'), {
          key: 'k',
          value: 'two',
          createRevision: r1,
          modRevision: r2,
          version: 2,
          lease: 0,
        });
        await store.delete('k');
        assert.equal(await store.get('k'), undefined);
        const { revision: r4 } = await store.put('k', 'three');
        const again = await store.get('k');
        assert.equal(again?.createRevision, r4, 'a re-created key starts a new life');
        assert.equal(again?.version, 1);
      });

      test('put with prevKv returns the replaced key, and only when asked', async ({ store }) => {
        const first = await store.put('p', 'one', { prevKv: true });
        assert.equal(first.prevKv, undefined, 'a new key replaces nothing');
        const lease = await store.grantLease(60);
        const second = await store.put('p', 'two', { lease: lease.id, prevKv: true });
        assert.deepEqual(second.prevKv, {
          key: 'p',
          value: 'one',
          createRevision: first.revision,
          modRevision: first.revision,
          version: 1,
          lease: 0,
        });
        const third = await store.put('p', 'three', { prevKv: true });
        assert.equal(third.prevKv?.value, 'two');
        assert.equal(third.prevKv?.lease, lease.id, 'the replaced key names its lease');
        assert.equal(third.prevKv?.modRevision, second.revision);
        const plain = await store.put('p', 'four');
        assert.equal(plain.prevKv, undefined, 'without prevKv nothing extra comes back');
        assert.equal((await store.get('p'))?.value, 'four');
      });

      test('range matches the exact prefix, in key order', async ({ store }) => {
        const keys = [
          'a/b',
          'a/b/2',
          'a/b/1',
          'a/bb/x',
          'a/bc',
          'a/',
          'ab',
          'a%/x',
          'a_/x',
          'aX/x',
          'b',
          'z\u{10ffff}',
          'z\u{10ffff}x',
          'zz',
        ];
        for (const k of keys) await store.put(k, `v:${k}`);
        const keysOf = async (prefix: string): Promise<string[]> =>
          (await store.range(prefix)).kvs.map((kv) => kv.key);

        assert.deepEqual(await keysOf('a/b/'), ['a/b/1', 'a/b/2']);
        assert.deepEqual(await keysOf('a/bb'), ['a/bb/x']);
        assert.deepEqual(await keysOf('a/b'), ['a/b', 'a/b/1', 'a/b/2', 'a/bb/x', 'a/bc']);
        assert.deepEqual(await keysOf('a%'), ['a%/x'], '% is not a wildcard');
        assert.deepEqual(await keysOf('a_'), ['a_/x'], '_ is not a wildcard');
        assert.deepEqual(await keysOf('z\u{10ffff}'), ['z\u{10ffff}', 'z\u{10ffff}x']);
        assert.deepEqual(await keysOf('nothing/'), []);
        assert.deepEqual(
          await keysOf(''),
          [...keys].sort(byCodePoint),
          'the empty prefix lists everything',
        );

        const { kvs, revision } = await store.range('b');
        assert.equal(revision, await store.revision());
        assert.equal(kvs[0]?.value, 'v:b');
      });
    });

    describe('txn', () => {
      test('applies every op at one revision', async ({ store }) => {
        await store.put('gone', 'x');
        await store.put('p/1', 'x');
        await store.put('p/2', 'x');
        await store.put('pp', 'stays');
        const r0 = await store.revision();
        const { revision } = await store.txn([
          { type: 'put', key: 'x', value: '1' },
          { type: 'put', key: 'y', value: '2' },
          { type: 'delete', key: 'gone' },
          { type: 'deletePrefix', prefix: 'p/' },
        ]);
        assert.equal(revision, r0 + 1);
        assert.equal(await store.revision(), r0 + 1);
        assert.equal((await store.get('x'))?.modRevision, revision);
        assert.equal((await store.get('y'))?.modRevision, revision);
        assert.equal(await store.get('gone'), undefined);
        assert.deepEqual(
          (await store.range('p')).kvs.map((kv) => kv.key),
          ['pp'],
          'deletePrefix takes the prefix exactly',
        );
      });

      test('a failed guard writes nothing', async ({ store }) => {
        const { revision: rA } = await store.put('a', '1');
        const r0 = await store.revision();
        await assert.rejects(
          store.txn([{ type: 'put', key: 'a', value: '2' }], [{ key: 'a', modRevision: rA + 1 }]),
          hasCode('WEFT_ERR_TXN_CONFLICT'),
        );
        await assert.rejects(
          store.txn([{ type: 'put', key: 'b', value: '2' }], [{ key: 'a', modRevision: 0 }]),
          hasCode('WEFT_ERR_TXN_CONFLICT'),
          'modRevision 0 means "absent"',
        );
        assert.equal(await store.revision(), r0);
        assert.equal((await store.get('a'))?.value, '1');
        assert.equal(await store.get('b'), undefined);
      });

      test('guards that hold let the txn through', async ({ store }) => {
        const { revision: rA } = await store.put('a', '1');
        const { revision } = await store.txn(
          [
            { type: 'put', key: 'a', value: '2' },
            { type: 'put', key: 'new', value: 'n' },
          ],
          [
            { key: 'a', modRevision: rA },
            { key: 'new', modRevision: 0 },
          ],
        );
        assert.equal(revision, rA + 1);
        assert.equal((await store.get('a'))?.value, '2');
        assert.equal((await store.get('new'))?.value, 'n');
      });

      test('an op that fails undoes the ops before it', async ({ store }) => {
        await store.put('a', '1');
        const r0 = await store.revision();
        await assert.rejects(
          store.txn([
            { type: 'put', key: 'a', value: '2' },
            { type: 'put', key: 'b', value: '2', lease: 987_654_321 },
          ]),
          hasCode('WEFT_ERR_LEASE_NOT_FOUND'),
        );
        assert.equal(await store.revision(), r0);
        assert.equal((await store.get('a'))?.value, '1');
        assert.equal(await store.get('b'), undefined);
      });

      test('a txn that changes nothing keeps the revision', async ({ store }) => {
        await store.put('a', '1');
        const r0 = await store.revision();
        const { revision } = await store.txn([
          { type: 'delete', key: 'absent' },
          { type: 'deletePrefix', prefix: 'none/' },
        ]);
        assert.equal(revision, r0);
        assert.equal(await store.revision(), r0);
      });
    });

    describe('watch', () => {
      test('replays every event from a revision, in order, with prevKv', async ({ store }) => {
        await store.put('other', 'x');
        const { revision: r1 } = await store.put('w/a', '1');
        const { revision: r2 } = await store.put('w/a', '2');
        const { revision: r3 } = await store.delete('w/a');
        await store.put('other', 'y');
        const { revision: r5 } = await store.txn([
          { type: 'put', key: 'w/b', value: 'b' },
          { type: 'put', key: 'w/c', value: 'c' },
        ]);

        const w = collect(store, 'w/', { fromRevision: r1 });
        const batches = await w.untilRevision(r5);
        w.cancel();
        assert.deepEqual(
          batches.map((b) => b.map((e) => [e.type, e.kv.key, e.kv.modRevision])),
          [
            [['put', 'w/a', r1]],
            [['put', 'w/a', r2]],
            [['delete', 'w/a', r3]],
            [
              ['put', 'w/b', r5],
              ['put', 'w/c', r5],
            ],
          ],
          'one batch per revision, only keys under the prefix',
        );
        const [put1, put2, del] = batches.flat();
        assert.equal(put1?.prevKv, undefined);
        assert.equal(put1?.kv.value, '1');
        assert.equal(put1?.kv.version, 1);
        assert.deepEqual(put2?.prevKv, {
          key: 'w/a',
          value: '1',
          createRevision: r1,
          modRevision: r1,
          version: 1,
          lease: 0,
        });
        assert.equal(put2?.kv.createRevision, r1);
        assert.equal(put2?.kv.version, 2);
        assert.equal(del?.kv.value, '');
        assert.equal(del?.prevKv?.value, '2');
        assert.equal(del?.prevKv?.modRevision, r2);
      });

      test('replay then live: nothing is missed or repeated', async ({ store }) => {
        const { revision: r1 } = await store.put('k/1', '1');
        await store.put('k/2', '2');
        const w = collect(store, 'k/', { fromRevision: r1 });
        await store.put('k/3', '3');
        const { revision: r4 } = await store.put('k/4', '4');
        const events = (await w.untilRevision(r4)).flat();
        w.cancel();
        assert.deepEqual(
          events.map((e) => e.kv.key),
          ['k/1', 'k/2', 'k/3', 'k/4'],
        );
      });

      test('without fromRevision only new events arrive', async ({ store }) => {
        await store.put('n/old', 'x');
        const w = collect(store, 'n/');
        const { revision } = await store.put('n/new', 'y');
        const events = (await w.untilRevision(revision)).flat();
        w.cancel();
        assert.deepEqual(
          events.map((e) => e.kv.key),
          ['n/new'],
        );
      });

      test('the prefix is exact', async ({ store }) => {
        const w = collect(store, 'a/b/');
        await store.put('a/bb', 'no');
        await store.put('a/b', 'no');
        await store.put('a%b/', 'no');
        const { revision } = await store.put('a/b/c', 'yes');
        const events = (await w.untilRevision(revision)).flat();
        w.cancel();
        assert.deepEqual(
          events.map((e) => e.kv.key),
          ['a/b/c'],
        );
      });

      test('cancel stops delivery', async ({ store }) => {
        const cancelled = collect(store, 'c/');
        const witness = collect(store, 'c/');
        const { revision: r1 } = await store.put('c/1', '1');
        await cancelled.untilRevision(r1);
        cancelled.cancel();
        await store.put('c/2', '2');
        const { revision: r3 } = await store.put('c/3', '3');
        await witness.untilRevision(r3);
        witness.cancel();
        assert.deepEqual(
          cancelled.batches.flat().map((e) => e.kv.key),
          ['c/1'],
        );
      });

      test('a throwing listener does not stop the others', async ({ store }) => {
        let calls = 0;
        const thrower = store.watch('t/', () => {
          calls++;
          throw new Error('listener bug (expected by this test)');
        });
        const witness = collect(store, 't/');
        await store.put('t/1', '1');
        const { revision } = await store.put('t/2', '2');
        assert.equal((await witness.untilRevision(revision)).flat().length, 2);
        thrower.cancel();
        witness.cancel();
        assert.ok(calls >= 1);
      });

      test('a watch from a compacted revision fails with WEFT_ERR_COMPACTED', async (f) => {
        const { revision: r1 } = await f.store.put('h/1', '1');
        await f.store.put('h/2', '2');
        await f.compactHistory();
        const err = await within(
          new Promise<Error>((resolve) => {
            f.store.watch('h/', () => resolve(new Error('events from a compacted revision')), {
              fromRevision: r1,
              onError: resolve,
            });
          }),
          'onError of a watch from a compacted revision',
        );
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'WEFT_ERR_COMPACTED');

        // The caller's recovery: list, then watch from the revision after the list.
        const { kvs, revision } = await f.store.range('h/');
        assert.equal(kvs.length, 2);
        const w = collect(f.store, 'h/', { fromRevision: revision + 1 });
        const { revision: r } = await f.store.put('h/3', '3');
        assert.equal((await w.untilRevision(r)).flat()[0]?.kv.key, 'h/3');
        w.cancel();
      });
    });

    describe('leases', () => {
      test('ids are positive and unique', async ({ store }) => {
        const a = await store.grantLease(TTL);
        const b = await store.grantLease(TTL);
        assert.ok(Number.isInteger(a.id) && a.id > 0);
        assert.ok(Number.isInteger(b.id) && b.id > 0);
        assert.notEqual(a.id, b.id);
        assert.equal(a.ttlSeconds, TTL);
      });

      test('revoke deletes every attached key at one revision', async ({ store }) => {
        const lease = await store.grantLease(60);
        await store.put('l/a', 'a', { lease: lease.id });
        await store.put('l/b', 'b', { lease: lease.id });
        await store.put('l/c', 'c');
        assert.equal((await store.get('l/a'))?.lease, lease.id);
        const w = collect(store, 'l/');
        const r0 = await store.revision();
        await store.revokeLease(lease.id);
        assert.equal(await store.revision(), r0 + 1);
        const batches = await w.untilRevision(r0 + 1);
        w.cancel();
        assert.deepEqual(
          batches.map((b) => b.map((e) => [e.type, e.kv.key, e.prevKv?.lease])),
          [
            [
              ['delete', 'l/a', lease.id],
              ['delete', 'l/b', lease.id],
            ],
          ],
        );
        assert.deepEqual(
          (await store.range('l/')).kvs.map((kv) => kv.key),
          ['l/c'],
        );
        await assert.rejects(store.keepAlive(lease.id), hasCode('WEFT_ERR_LEASE_NOT_FOUND'));
      });

      test('a put without a lease detaches the key from its lease', async ({ store }) => {
        const lease = await store.grantLease(60);
        await store.put('d/a', '1', { lease: lease.id });
        await store.put('d/a', '2');
        assert.equal((await store.get('d/a'))?.lease, 0);
        await store.revokeLease(lease.id);
        assert.equal((await store.get('d/a'))?.value, '2');
      });

      test('expiry deletes the attached keys and emits delete events', async (f) => {
        const lease = await f.store.grantLease(TTL);
        await f.store.put('e/a', 'a', { lease: lease.id });
        await f.store.put('e/keep', 'k');
        const w = collect(f.store, 'e/');
        await f.waitForExpiry(TTL);
        const events = (await w.untilEvents(1)).flat();
        w.cancel();
        assert.equal(events[0]?.type, 'delete');
        assert.equal(events[0]?.kv.key, 'e/a');
        assert.equal(events[0]?.prevKv?.lease, lease.id);
        assert.equal(await f.store.get('e/a'), undefined);
        assert.equal((await f.store.get('e/keep'))?.value, 'k');
        await assert.rejects(f.store.keepAlive(lease.id), hasCode('WEFT_ERR_LEASE_NOT_FOUND'));
      });

      test('keepAlive restarts the countdown', async (f) => {
        const lease = await f.store.grantLease(TTL);
        await f.store.put('k/a', 'a', { lease: lease.id });
        await f.elapse(TTL * 600);
        assert.deepEqual(await f.store.keepAlive(lease.id), { id: lease.id, ttlSeconds: TTL });
        await f.elapse(TTL * 600);
        // 1.2 TTL after the grant, 0.6 TTL after the keepAlive.
        assert.equal((await f.store.get('k/a'))?.value, 'a');
        const w = collect(f.store, 'k/');
        await f.waitForExpiry(TTL);
        assert.equal((await w.untilEvents(1)).flat()[0]?.type, 'delete');
        w.cancel();
        await assert.rejects(f.store.keepAlive(lease.id), hasCode('WEFT_ERR_LEASE_NOT_FOUND'));
        assert.equal(await f.store.get('k/a'), undefined);
      });

      test('unknown leases are refused with WEFT_ERR_LEASE_NOT_FOUND', async ({ store }) => {
        const unknown = 987_654_321;
        await assert.rejects(store.keepAlive(unknown), hasCode('WEFT_ERR_LEASE_NOT_FOUND'));
        await assert.rejects(store.revokeLease(unknown), hasCode('WEFT_ERR_LEASE_NOT_FOUND'));
        await assert.rejects(
          store.put('x', 'y', { lease: unknown }),
          hasCode('WEFT_ERR_LEASE_NOT_FOUND'),
        );
        assert.equal(await store.get('x'), undefined);
      });
    });

    describe('close', () => {
      test('calls after close reject with WEFT_ERR_STORE_CLOSED', async ({ store }) => {
        await store.put('a', '1');
        await store.close();
        await assert.rejects(store.get('a'), hasCode('WEFT_ERR_STORE_CLOSED'));
        await assert.rejects(store.put('a', '2'), hasCode('WEFT_ERR_STORE_CLOSED'));
        await assert.rejects(store.range(''), hasCode('WEFT_ERR_STORE_CLOSED'));
        await assert.rejects(store.txn([]), hasCode('WEFT_ERR_STORE_CLOSED'));
        await assert.rejects(store.grantLease(TTL), hasCode('WEFT_ERR_STORE_CLOSED'));
        await store.close();
      });
    });
  });
}

/** An assert.rejects validator: a StoreError with this code. */
export function hasCode(code: StoreError['code']): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof StoreError, `expected StoreError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

interface Collector {
  batches: WatchEvent[][];
  /** Resolves with every batch so far once an event at `revision` (or later) has arrived. */
  untilRevision(revision: number): Promise<WatchEvent[][]>;
  /** Resolves with every batch so far once at least `n` events have arrived. */
  untilEvents(n: number): Promise<WatchEvent[][]>;
  cancel(): void;
}

function collect(store: Store, prefix: string, opts: WatchOptions = {}): Collector {
  const batches: WatchEvent[][] = [];
  let waiting: { done: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  let failure: Error | undefined;
  const settle = (): void => {
    waiting = waiting.filter((w) => {
      if (failure) w.reject(failure);
      else if (w.done()) w.resolve();
      else return true;
      return false;
    });
  };
  const watch = store.watch(
    prefix,
    (events) => {
      batches.push(events);
      settle();
    },
    {
      ...opts,
      onError: (err) => {
        failure = err;
        settle();
      },
    },
  );
  const until = (done: () => boolean, what: string): Promise<WatchEvent[][]> =>
    within(
      new Promise<void>((resolve, reject) => {
        waiting.push({ done, resolve, reject });
        settle();
      }),
      `watch on '${prefix}' to deliver ${what}`,
    ).then(() => batches);
  const count = (): number => batches.reduce((n, b) => n + b.length, 0);
  return {
    batches,
    untilRevision: (revision) =>
      until(
        () => batches.some((b) => b.some((e) => e.kv.modRevision >= revision)),
        `revision ${revision}`,
      ),
    untilEvents: (n) => until(() => count() >= n, `${n} events`),
    cancel: () => watch.cancel(),
  };
}

/**
 * Fails a wait that never ends, with a message that names it. Not a sleep: it only bounds the
 * wait, and its (ref'ed) timer keeps the event loop alive, so a lost event fails this one test
 * instead of draining the loop and cancelling every test after it.
 */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Byte order of UTF-8, which is the order both SQLite and etcd keep keys in. */
function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
