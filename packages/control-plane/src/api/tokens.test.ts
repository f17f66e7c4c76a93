import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { openEmbeddedStore } from '../store/embedded.js';
import { hashToken, tokenIdOf } from './auth.js';
import { TOKEN_PREFIX, TokenBook } from './tokens.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const log = pino({ level: 'silent' });

/** Resolves once `check` holds, re-checked on every event of the book's own store watch. */
function watchUntil(store: ReturnType<typeof openEmbeddedStore>, check: () => boolean) {
  return new Promise<void>((resolve) => {
    if (check()) return resolve();
    const w = store.watch(TOKEN_PREFIX, () => {
      // The other book's watch may deliver after ours: look again on the next turn.
      setImmediate(() => {
        if (check()) {
          w.cancel();
          resolve();
        }
      });
    });
  });
}

describe('TokenBook', () => {
  const store = openEmbeddedStore({ path: ':memory:' });
  after(() => store.close());

  it('keeps the hash, never the secret, and finds a token by its id', async () => {
    const book = new TokenBook(store, log);
    await book.start();
    const { token, record } = await book.create(
      { kind: 'bootstrap', service: 'user', ttlMs: 3600_000 },
      NOW,
    );
    assert.equal(record.id, tokenIdOf(hashToken(token)));
    assert.equal(record.expiresAt, new Date(NOW + 3600_000).toISOString());
    const kv = await store.get(`${TOKEN_PREFIX}${record.id}`);
    assert.ok(kv && !kv.value.includes(token));
    assert.equal(book.find(record.id)?.service, 'user');
    assert.ok(!book.hasAdmin());
    book.close();
  });

  it('a given secret is kept, never overwritten, when given twice', async () => {
    const book = new TokenBook(store, log);
    await book.start();
    await book.create({ kind: 'admin', secret: 'weft_operator-provided-secret' }, NOW);
    await assert.rejects(
      book.create(
        { kind: 'bootstrap', service: 'x', secret: 'weft_operator-provided-secret' },
        NOW,
      ),
    );
    assert.ok(book.hasAdmin());
    book.close();
  });

  it("a revocation on one replica reaches another's cache and its listeners", async () => {
    const a = new TokenBook(store, log);
    const b = new TokenBook(store, log);
    await Promise.all([a.start(), b.start()]);
    const { record } = await a.create({ kind: 'bootstrap', service: 'order' }, NOW);
    await watchUntil(store, () => b.find(record.id) !== undefined);
    const revokedOnB: string[] = [];
    b.onRevoke((id) => revokedOnB.push(id));
    assert.equal(await a.revoke(record.id), true);
    assert.equal(a.find(record.id), undefined);
    await watchUntil(store, () => revokedOnB.includes(record.id));
    assert.equal(b.find(record.id), undefined);
    assert.equal(await a.revoke(record.id), false);
    a.close();
    b.close();
  });

  it('records the last use at most once a minute, and never brings back a revoked token', async () => {
    const book = new TokenBook(store, log);
    await book.start();
    const { record } = await book.create({ kind: 'bootstrap', service: 'stock' }, NOW);
    const key = `${TOKEN_PREFIX}${record.id}`;
    const written = () =>
      store.get(key).then((kv) => (kv ? (JSON.parse(kv.value) as { lastUsedAt?: string }) : kv));
    const stored = new Promise<void>((resolve) => {
      const w = store.watch(key, () => {
        w.cancel();
        resolve();
      });
    });
    book.touch(record.id, NOW + 1000);
    await stored;
    const first = (await written())?.lastUsedAt;
    assert.equal(first, new Date(NOW + 1000).toISOString());
    const rev = await store.revision();
    book.touch(record.id, NOW + 30_000);
    assert.equal(await store.revision(), rev, 'no write within the minute');
    // ...but the listing shows the newer use.
    const listed = book.list().find((t) => t.id === record.id);
    assert.equal(listed?.lastUsedAt, new Date(NOW + 30_000).toISOString());
    await book.revoke(record.id);
    book.touch(record.id, NOW + 120_000);
    assert.equal(await written(), undefined);
    book.close();
  });
});
