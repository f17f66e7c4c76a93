import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { hasCode } from './conformance.js';
import { openStore, parseStoreUrl } from './open.js';

describe('store URLs', () => {
  it('names the embedded default, a store file, or etcd members', () => {
    assert.deepEqual(parseStoreUrl(undefined, 'data'), {
      kind: 'embedded',
      path: join('data', 'weft.db'),
    });
    assert.deepEqual(parseStoreUrl('', 'data'), {
      kind: 'embedded',
      path: join('data', 'weft.db'),
    });
    assert.deepEqual(parseStoreUrl('file:///var/lib/weft/weft.db', 'data'), {
      kind: 'embedded',
      path: '/var/lib/weft/weft.db',
    });
    assert.deepEqual(parseStoreUrl('file://state/weft.db', 'data'), {
      kind: 'embedded',
      path: 'state/weft.db',
    });
    assert.deepEqual(parseStoreUrl('etcd://127.0.0.1:2379,127.0.0.1:22379', 'data'), {
      kind: 'etcd',
      endpoints: ['127.0.0.1:2379', '127.0.0.1:22379'],
    });
  });

  it('refuses what it does not know, naming the accepted forms', () => {
    assert.throws(() => parseStoreUrl('redis://127.0.0.1:6379', 'data'), /etcd:\/\/host:port/);
    assert.throws(() => parseStoreUrl('file://', 'data'), TypeError);
    assert.throws(() => parseStoreUrl('etcd://127.0.0.1', 'data'), /host:port/);
  });
});

describe('openStore', () => {
  it('opens an embedded store file, creating its folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-open-'));
    try {
      const store = await openStore({
        url: `file://${join(dir, 'a', 'b', 'weft.db')}`,
        dataDir: dir,
        log: pino({ level: 'silent' }),
      });
      await store.put('/weft/x', '1');
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retries an unreachable etcd with backoff, logging every failure', async () => {
    const lines: { msg?: string; err?: string; attempt?: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    await assert.rejects(
      openStore({
        url: 'etcd://127.0.0.1:1',
        dataDir: '.',
        log: pino({ level: 'info' }, sink),
        maxAttempts: 3,
        maxBackoffMs: 20,
        dialTimeoutMs: 100,
      }),
      hasCode('WEFT_ERR_STORE_UNAVAILABLE'),
    );
    const failures = lines.filter((l) => l.msg === 'cannot reach the store; retrying');
    assert.deepEqual(
      failures.map((l) => l.attempt),
      [1, 2],
    );
    assert.match(failures[0]?.err ?? '', /127\.0\.0\.1:1/);
  });
});
