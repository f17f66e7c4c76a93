// Child process for durability.test.ts: writes as fast as it can and prints a line for every
// write only after the store acknowledged it, until the test kills it with SIGKILL.

import { openEmbeddedStore } from './embedded.js';

const path = process.argv[2];
if (!path) throw new Error('usage: durability-child.js <store file>');

const store = openEmbeddedStore({ path });
for (let i = 0; ; i++) {
  const key = `d/${i}`;
  // Every tenth write is a txn so that multi-op commits are covered too.
  const { revision } =
    i % 10 === 9
      ? await store.txn([
          { type: 'put', key, value: `v${i}` },
          { type: 'put', key: `${key}/txn`, value: `t${i}` },
        ])
      : await store.put(key, `v${i}`);
  // Stdout to a pipe is synchronous on Linux, so the line is out before the next write starts.
  process.stdout.write(`${revision} ${i}\n`);
}
