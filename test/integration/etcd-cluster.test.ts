// Weft on a three-member etcd cluster that loses its leader under load. A control plane on the
// cluster takes registrations and applies from several clients at once; after a number of
// acknowledged writes the etcd leader is killed with SIGKILL. The two members left elect a new
// leader and the writes go on: a write that fails in the election window is retried, a few
// times at most, with the same content (both kinds of write are idempotent). Afterwards every
// acknowledged write is in the store, and a proxy on the snapshot stream was pushed snapshots
// from after the kill that hold them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import WebSocket from 'ws';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { ControlMessage, Snapshot } from '@weft/model';
import { hasEtcd, startEtcd, type EtcdCluster, type EtcdMember } from '@weft/testkit';

const MISSING =
  'etcd is not on PATH: `node scripts/install-test-deps.mjs` installs it (Debian etcd-server)';
if (!hasEtcd() && process.env.CI === 'true') throw new Error(MISSING);

/** Writes in all, half registrations and half applies. */
const OPS = 120;
/** Clients writing at the same time. */
const CONCURRENCY = 4;
/** Acknowledged writes before the leader is killed. */
const KILL_AFTER = 40;
/** Tries per write; the election after a SIGKILL takes one to two seconds. */
const MAX_TRIES = 4;
const RETRY_PAUSE_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;

if (!hasEtcd()) {
  it('weft on a three-member etcd cluster', { skip: MISSING }, () => {});
} else {
  let etcd: EtcdCluster;
  let cp: RunningControlPlane;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-etcd-cluster-'));
    etcd = await startEtcd({ members: 3 });
    cp = await startControlPlane({
      dataDir: dir,
      port: 0,
      storeUrl: `etcd://${etcd.endpoints.join(',')}`,
    });
  });
  after(async () => {
    await cp?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'keeps acknowledging registrations and applies when the etcd leader dies, and loses none',
    { timeout: 120_000 },
    async () => {
      const proxy = await connectProxy(cp.url);
      const leader = await findLeader(etcd);
      let killedAtRevision = 0;
      let retried = 0;
      const acked: { kind: 'register' | 'apply'; i: number; afterKill: boolean }[] = [];
      const failed: string[] = [];

      const write = async (i: number): Promise<void> => {
        const kind = i % 2 === 0 ? 'register' : 'apply';
        let last = '';
        for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
          const afterKill = killedAtRevision > 0;
          try {
            const res =
              kind === 'register'
                ? await post(cp.url, '/v1/instances', registration(i))
                : await post(cp.url, '/v1/apply', {
                    files: [{ path: `load-${i}.yaml`, content: virtualService(i) }],
                  });
            if (res.ok) {
              acked.push({ kind, i, afterKill });
              return;
            }
            last = `${res.status} ${await res.text()}`;
          } catch (err) {
            last = String(err);
          }
          retried++;
          await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
        }
        failed.push(`${kind} ${i}: ${last}`);
      };

      let nextOp = 0;
      const worker = async (): Promise<void> => {
        while (nextOp < OPS) {
          const i = nextOp++;
          await write(i);
          if (killedAtRevision === 0 && acked.length >= KILL_AFTER) {
            killedAtRevision = await cp.cp.store.revision();
            await leader.stop('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));

      assert.ok(killedAtRevision > 0, 'the leader was killed');
      assert.equal(leader.running, false);
      assert.deepEqual(failed, [], `writes that failed ${MAX_TRIES} times`);
      assert.ok(
        acked.some((a) => a.afterKill && a.kind === 'register') &&
          acked.some((a) => a.afterKill && a.kind === 'apply'),
        'both kinds of write were acknowledged after the kill',
      );

      // Every acknowledged write is in the store (read from etcd, not from a cache).
      for (const { kind, i } of acked) {
        if (kind === 'register') {
          const kv = await cp.cp.store.get(`/weft/instances/load-${i}`);
          assert.ok(kv, `acknowledged registration load-${i} is lost`);
        } else {
          const res = await fetch(`${cp.url}/v1/resources/virtualservice/default/load-${i}`);
          assert.equal(res.status, 200, `acknowledged apply load-${i} is lost`);
        }
      }

      // Pushes went on: the proxy holds a snapshot from after the kill with every instance.
      const ids = acked.filter((a) => a.kind === 'register').map((a) => `load-${a.i}`);
      const snap = await proxy.until(
        (s) =>
          s.version > killedAtRevision &&
          ids.every((id) => s.clusters.some((c) => c.endpoints.some((e) => e.id === id))),
      );
      assert.ok(snap.version > killedAtRevision);
      proxy.close();
      process.stderr.write(
        `etcd-cluster: ${acked.length} writes acknowledged (${acked.filter((a) => a.afterKill).length} after the kill), ${retried} retries\n`,
      );
    },
  );
}

function registration(i: number): Record<string, unknown> {
  return {
    service: 'load',
    address: '127.0.0.1',
    port: 20_000 + i,
    id: `load-${i}`,
    ttlSeconds: 300,
  };
}

function virtualService(i: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: load-${i}
spec:
  hosts: [load-${i}]
  http:
  - route:
    - destination:
        host: load
`;
}

function post(base: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** The member that leads the cluster now, asked through etcd's JSON gateway. */
async function findLeader(cluster: EtcdCluster): Promise<EtcdMember> {
  for (const m of cluster.members) {
    const res = await fetch(`http://${m.endpoint}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
    });
    const status = (await res.json()) as { header?: { member_id?: string }; leader?: string };
    if (status.leader !== undefined && status.header?.member_id === status.leader) return m;
  }
  throw new Error('no etcd member says it leads');
}

interface StreamProxy {
  /** Resolves with the first snapshot (already received or still to come) that passes. */
  until(pred: (s: Snapshot) => boolean): Promise<Snapshot>;
  close(): void;
}

/** A stand-in proxy on the snapshot stream: says hello, ACKs every snapshot, keeps the last. */
async function connectProxy(url: string): Promise<StreamProxy> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
  let latest: Snapshot | undefined;
  let waiter: (() => void) | undefined;
  ws.on('message', (d: Buffer) => {
    const msg = JSON.parse(d.toString()) as ControlMessage;
    // This stand-in offers no deltas in its hello, so every push is a whole snapshot.
    if (msg.type === 'snapshot') latest = msg.snapshot;
    ws.send(JSON.stringify({ type: 'ack', version: msg.version }));
    waiter?.();
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(
    JSON.stringify({
      type: 'hello',
      node: { id: 'etcd-cluster-test', role: 'gateway', namespace: 'default', labels: {} },
    }),
  );
  return {
    async until(pred) {
      const deadline = Date.now() + 20_000;
      while (!latest || !pred(latest)) {
        if (Date.now() > deadline)
          throw new Error(`no snapshot passed; the last has version ${latest?.version}`);
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, 500);
        });
      }
      return latest;
    },
    close: () => ws.close(),
  };
}
