// `weft apply --wait` with two control-plane replicas on one etcd: each replica knows only its
// own proxies, so the CLI asks both. A proxy connected to the second replica that never ACKs
// keeps the wait from succeeding (asking only the first would have said "done"); once it is
// replaced by one that ACKs, the wait covers the proxies of both replicas.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import WebSocket from 'ws';
import { hasEtcd, startEtcd, type EtcdCluster } from '@weft/testkit';
import {
  ETCD_MISSING,
  recordingProxy,
  runWeft,
  startControlProcess,
  type ControlProcess,
  type RecordingProxy,
} from './support/cluster.js';

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

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-wait-'));
    etcd = await startEtcd();
    const store = `etcd://${etcd.endpoints.join(',')}`;
    for (const name of ['a', 'b'])
      replicas.push(await startControlProcess(['--store', store, '--data-dir', join(dir, name)]));
  });
  after(async () => {
    stuck?.terminate();
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
    stuck = new WebSocket(`${b.url.replace('http', 'ws')}/v1/stream`);
    const ws = stuck;
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => {
        ws.send(
          JSON.stringify({
            type: 'hello',
            node: { id: 'stuck-on-b', role: 'sidecar', namespace: 'default', labels: {} },
          }),
        );
        resolve();
      });
    });
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));

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
}
