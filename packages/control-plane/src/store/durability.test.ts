import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { openEmbeddedStore } from './embedded.js';

const CHILD = fileURLToPath(new URL('./durability-child.js', import.meta.url));
const ACKS_BEFORE_KILL = 300;

it(
  'keeps every acknowledged write when the process is killed with SIGKILL',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-durability-'));
    const path = join(dir, 'store.db');
    try {
      const child = spawn(process.execPath, [CHILD, path], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = once(child, 'exit');
      const acks: { revision: number; i: number }[] = [];
      for await (const line of createInterface({ input: child.stdout })) {
        const [revision, i] = line.split(' ').map(Number);
        assert.ok(revision !== undefined && i !== undefined, `bad ack line: ${line}`);
        acks.push({ revision, i });
        if (acks.length === ACKS_BEFORE_KILL) child.kill('SIGKILL');
      }
      const [code, signal] = await exited;
      assert.equal(signal, 'SIGKILL', `the child must die by SIGKILL, exited with ${String(code)}`);
      assert.ok(acks.length >= ACKS_BEFORE_KILL);

      const store = openEmbeddedStore({ path });
      try {
        const last = acks[acks.length - 1];
        assert.ok(last);
        assert.ok((await store.revision()) >= last.revision);
        for (const { revision, i } of acks) {
          const kv = await store.get(`d/${i}`);
          assert.equal(kv?.value, `v${i}`, `acknowledged write d/${i} is lost`);
          assert.equal(kv.modRevision, revision);
          if (i % 10 === 9) assert.equal((await store.get(`d/${i}/txn`))?.value, `t${i}`);
        }
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
