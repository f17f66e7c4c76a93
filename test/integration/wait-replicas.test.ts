// `weft apply --wait` with two control-plane replicas on one etcd: each replica knows only its
// own proxies, so the CLI asks both. A proxy connected to the second replica that never ACKs
// keeps the wait from succeeding (asking only the first would have said "done"); once it is
// replaced by one that ACKs, the wait covers the proxies of both replicas. A sidecar given both
// replicas, stopped with SIGTERM, likewise reports the lagging proxy on the second replica.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import WebSocket from 'ws';
import { hasEtcd, startEtcd, startFakeUpstream, type EtcdCluster } from '@weft/testkit';
import {
  ETCD_MISSING,
  recordingProxy,
  runWeft,
  startControlProcess,
  type ControlProcess,
  type RecordingProxy,
} from './support/cluster.js';
import { killGroup, startWeft, type WeftProcess } from '../support/weft-process.js';

if (!hasEtcd() && process.env.CI === 'true') throw new Error(ETCD_MISSING);

const vs = (name: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name} }
spec:
  hosts: [${name}]
  http: [{ route: [{ destination: { host: ${name} } }] }]
`;

if (!hasEtcd()) {
  it('apply --wait across replicas', { skip: ETCD_MISSING }, () => {});
} else {
  let etcd: EtcdCluster;
  let dir: string;
  const replicas: ControlProcess[] = [];
  const proxies: RecordingProxy[] = [];
  let stuck: WebSocket | undefined;
  let sidecar: WeftProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-wait-'));
    etcd = await startEtcd();
    const store = `etcd://${etcd.endpoints.join(',')}`;
    for (const name of ['a', 'b'])
      replicas.push(await startControlProcess(['--store', store, '--data-dir', join(dir, name)]));
  });
  after(async () => {
    stuck?.terminate();
    await killGroup(sidecar);
    for (const p of proxies) p.close();
    for (const r of replicas) await r.kill('SIGKILL');
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits for the proxies of every replica given', { timeout: 60_000 }, async () => {
    const [a, b] = replicas as [ControlProcess, ControlProcess];
    const control = `${a.url},${b.url}`;
    const onA = recordingProxy({ control: [a.url], id: 'sidecar-on-a' });
    proxies.push(onA);
    await onA.until(() => true);

    // A stream client on b that says hello and never ACKs anything.
    const ws = (stuck = await stuckClient(b.url, 'stuck-on-b'));

    const file = join(dir, 'one.yaml');
    const applyWait = (to: string, timeout: string) =>
      runWeft(['--control', to, 'apply', '-f', file, '--wait', '--timeout', timeout]);
    writeFileSync(file, vs('one'));
    const failed = await applyWait(control, '3s').then(
      () => undefined,
      (err: Error) => err.message,
    );
    assert.ok(failed !== undefined, 'the wait must not succeed while a proxy on b lags');
    assert.match(failed, /stuck-on-b \(sidecar\) lags/);
    assert.match(failed, /live on 1 of 2 proxies/);
    // Asking a alone says done: what the wait used to do with several replicas.
    const aAlone = await applyWait(a.url, '3s');
    assert.match(aAlone, /live on 1 of 1 proxies/);

    ws.terminate();
    const onB = recordingProxy({ control: [b.url], id: 'sidecar-on-b' });
    proxies.push(onB);
    await onB.until(() => true);
    writeFileSync(file, vs('two'));
    const out = await applyWait(control, '20s');
    assert.match(out, /live on 2 of 2 proxies/);
    // Both proxies run the applied version (the CLI's word is checked against what they hold).
    const revision = Number(/version >= (\d+)/.exec(out)?.[1]);
    for (const p of [onA, onB]) assert.ok((p.snapshot?.version ?? 0) >= revision);
  });

  it('a draining sidecar waits for the proxies of every replica', { timeout: 60_000 }, async () => {
    const [a, b] = replicas as [ControlProcess, ControlProcess];
    stuck = await stuckClient(b.url, 'stuck-2-on-b');
    const app = await startFakeUpstream('drainer-app');
    try {
      sidecar = startWeft('drainer', [
        '--control',
        `${a.url},${b.url}`,
        'sidecar',
        '--service',
        'drainer',
        '--id',
        'drainer-1',
        '--app-port',
        String(app.port),
        '--propagation-timeout',
        '2s',
        '--drain-timeout',
        '1s',
      ]);
      await sidecar.event((e) => e.event === 'registered');
      sidecar.child.kill('SIGTERM');
      assert.deepEqual(await sidecar.exited, { code: 0, signal: null });
      // Asking only the replica it registered with would have found every proxy there live.
      const logs = sidecar.stderr.join('\n');
      assert.match(logs, /not every proxy ACKed the deregistration in time/);
      assert.match(logs, /stuck-2-on-b/);
    } finally {
      await app.close();
    }
  });
}

/** A stream client that says hello and never ACKs: a proxy that lags on that replica. */
async function stuckClient(url: string, id: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          node: { id, role: 'sidecar', namespace: 'default', labels: {} },
        }),
      );
      resolve();
    });
  });
  await new Promise<void>((resolve) => ws.once('message', () => resolve()));
  return ws;
}
