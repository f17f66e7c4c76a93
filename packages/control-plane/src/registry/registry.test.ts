import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openEmbeddedStore } from '../store/embedded.js';
import type { Store } from '../store/types.js';
import { Registry } from './registry.js';

/** The store, and the names of the store calls made through it, in order. */
function countedStore(): { store: Store; calls: string[]; done(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-registry-'));
  const inner = openEmbeddedStore({ path: join(dir, 'store.db') });
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    calls,
    async done() {
      await inner.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const reg = { service: 'order', id: 'order-1', address: '127.0.0.1', port: 8080 };

describe('Registry.register', () => {
  it('is two store calls: a lease and one put', async () => {
    const { store, calls, done } = countedStore();
    try {
      await new Registry(store).register(reg);
      assert.deepEqual(calls, ['grantLease', 'put']);
    } finally {
      await done();
    }
  });

  it('re-registering an id replaces the record and revokes the old lease', async () => {
    const { store, calls, done } = countedStore();
    try {
      const registry = new Registry(store);
      const first = await registry.register(reg);
      calls.length = 0;
      const second = await registry.register({ ...reg, port: 9090 });
      assert.deepEqual(calls, ['grantLease', 'put', 'revokeLease']);
      assert.notEqual(second.leaseId, first.leaseId);
      const found = await registry.find(reg.id);
      assert.equal(found?.port, 9090, 'the new record stays');
      assert.equal(found?.leaseId, second.leaseId);
      await assert.rejects(store.keepAlive(first.leaseId), { code: 'WEFT_ERR_LEASE_NOT_FOUND' });
      await store.keepAlive(second.leaseId);
    } finally {
      await done();
    }
  });

  it('with a credentials check: reads while granting, and a refusal writes nothing', async () => {
    const { store, calls, done } = countedStore();
    try {
      const registry = new Registry(store);
      const first = await registry.register(reg);
      const r0 = await store.revision();
      calls.length = 0;
      const refuse = () => {
        throw new Error('not yours');
      };
      await assert.rejects(registry.register({ ...reg, port: 1 }, refuse), /not yours/);
      assert.deepEqual(calls.slice(0, 2).sort(), ['get', 'grantLease'], 'read and lease together');
      assert.equal(calls.at(-1), 'revokeLease', 'the unused lease is given back');
      assert.equal(await store.revision(), r0, 'no key changed');
      assert.equal((await registry.find(reg.id))?.leaseId, first.leaseId);
      const seen: string[] = [];
      await registry.register({ ...reg, port: 2 }, (old) => seen.push(old.id));
      assert.deepEqual(seen, [reg.id]);
      assert.equal((await registry.find(reg.id))?.port, 2);
    } finally {
      await done();
    }
  });
});
