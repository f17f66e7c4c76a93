import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeadershipState } from '../election/leadership.js';
import { openEmbeddedStore } from '../store/embedded.js';
import { DNS_PREFIX } from '../keys.js';
import { startDnsResolution, type Resolve } from './resolver.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} } as never;

async function stored(store: ReturnType<typeof openEmbeddedStore>) {
  const { kvs } = await store.range(DNS_PREFIX);
  return Object.fromEntries(
    kvs.map((kv) => {
      const v = JSON.parse(kv.value) as { name: string; addresses: string[] };
      return [v.name, v.addresses];
    }),
  );
}

describe('DNS resolution for ServiceEntries', () => {
  it('runs only on the leader, stores answers when they change, keeps the last on failure', async () => {
    const store = openEmbeddedStore({ path: ':memory:' });
    const answers: Record<string, string[] | Error> = {
      'a.example': ['10.0.0.2', '10.0.0.1'],
      'b.example': ['10.0.1.1'],
    };
    const asked: string[] = [];
    const resolve: Resolve = async (name) => {
      asked.push(name);
      const a = answers[name];
      if (a instanceof Error) throw a;
      return a ?? [];
    };
    let names = ['a.example', 'b.example'];
    const leadership = new LeadershipState();
    const dns = startDnsResolution({
      store,
      names: () => names,
      onChange: () => () => undefined,
      leadership,
      log: quiet,
      resolve,
      intervalMs: 3_600_000,
    });
    try {
      // Not the leader: nothing is resolved.
      assert.deepEqual(asked, []);
      await dns.resolveNow();
      assert.deepEqual(await stored(store), {
        'a.example': ['10.0.0.1', '10.0.0.2'],
        'b.example': ['10.0.1.1'],
      });
      const rev = await store.revision();
      await dns.resolveNow();
      assert.equal(await store.revision(), rev, 'the same answers are not written again');
      answers['a.example'] = new Error('SERVFAIL');
      answers['b.example'] = ['10.0.1.9'];
      await dns.resolveNow();
      assert.deepEqual(await stored(store), {
        'a.example': ['10.0.0.1', '10.0.0.2'],
        'b.example': ['10.0.1.9'],
      });
      names = ['b.example'];
      await dns.resolveNow();
      assert.deepEqual(Object.keys(await stored(store)), ['b.example']);
    } finally {
      dns.close();
      await store.close();
    }
  });
});
