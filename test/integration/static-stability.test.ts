// Static stability (issue 4): with the control plane stopped, proxies keep routing on their
// last snapshot; when it comes back (same store, same address) they resync with nothing lost:
// every proxy reconnects and runs the latest snapshot, instances registered before are still
// there, and a sidecar that started during the outage registers once it can.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instance } from '@weft/model';
import {
  freePort,
  getJson,
  killGroup,
  ROOT,
  startWeft,
  until,
  type WeftProcess,
} from '../support/weft-process.js';

const SEED = join(ROOT, 'examples/seed');
const agent = new Agent({ keepAlive: true });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: 'my-service' }, agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe(
  'static stability: the control plane goes away and comes back',
  { timeout: 120_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-static-'));
    let controlPort = 0;
    let controlUrl = '';
    let control: WeftProcess;
    let gatewayPort = 0;
    const procs: WeftProcess[] = [];

    const startControl = async () => {
      control = startWeft('control', [
        'control',
        '--insecure',
        '--port',
        String(controlPort),
        '--data-dir',
        dir,
      ]);
      procs.push(control);
      await control.event((e) => e.event === 'ready');
    };
    const startUser = (id: string) => {
      const p = startWeft(
        id,
        [
          '--control',
          controlUrl,
          'sidecar',
          '--service',
          'user',
          '--id',
          id,
          '--ttl',
          '3',
          '--health-interval',
          '500ms',
          '--',
          process.execPath,
          join(SEED, 'service.mjs'),
        ],
        { env: { SERVICE: 'user', INSTANCE: id } },
      );
      procs.push(p);
      return p;
    };
    const instances = async () =>
      (await getJson<{ items: Instance[] }>(`${controlUrl}/v1/instances`)).items
        .map((i) => i.id)
        .sort();

    before(async () => {
      controlPort = await freePort();
      controlUrl = `http://127.0.0.1:${controlPort}`;
      await startControl();
      const file = join(SEED, 'virtual-service.yaml');
      await getJson(`${controlUrl}/v1/apply`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          files: [
            { path: file, content: readFileSync(file, 'utf8') },
            // Round robin, so that sequential requests show both instances (the default,
            // peak-EWMA, sends them to whichever it measures fastest).
            {
              path: 'user-dr.yaml',
              content:
                'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: user}\n' +
                'spec: {host: user, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}\n',
            },
          ],
        }),
      });
      const gw = startWeft('gateway', ['--control', controlUrl, 'gateway', '--port', '0']);
      procs.push(gw);
      gatewayPort = Number((await gw.event((e) => e.event === 'ready')).port);
      const users = [startUser('user-1'), startUser('user-2')];
      await Promise.all(users.map((u) => u.event((e) => e.event === 'registered')));
      await until('the gateway routes to user', async () =>
        (await get(gatewayPort, '/user')).status === 200 ? true : undefined,
      );
    });

    after(async () => {
      agent.destroy();
      await Promise.all(procs.map(killGroup));
    });

    it('keeps routing without the control plane, and resyncs with nothing lost when it returns', async () => {
      const before = await getJson<{ version: number }>(`${controlUrl}/v1/snapshot`);
      control.signalGroup('SIGKILL');
      await control.exited;

      // Proxies serve their last snapshot: every request still answered, by both instances.
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const r = await get(gatewayPort, '/user');
        assert.equal(r.status, 200, r.body);
        seen.add((JSON.parse(r.body) as { instance: string }).instance);
      }
      assert.deepEqual([...seen].sort(), ['user-1', 'user-2']);

      // A sidecar started during the outage cannot register yet; its app gets no mesh traffic.
      const late = startUser('user-3');
      await late
        .event((e) => e.event === 'ready' || e.event === 'registered')
        .catch(() => undefined);
      assert.equal(
        late.events.find((e) => e.event === 'registered'),
        undefined,
      );

      await startControl();
      // It registers, every proxy reconnects and runs the latest snapshot, nothing was lost.
      await late.event((e) => e.event === 'registered');
      assert.deepEqual(await instances(), ['user-1', 'user-2', 'user-3']);
      await until('every proxy back on the latest snapshot', async () => {
        const st = await getJson<{ version: number; items: { ackedVersion?: number }[] }>(
          `${controlUrl}/v1/proxies`,
        );
        return st.items.length === 4 && st.items.every((p) => p.ackedVersion === st.version)
          ? true
          : undefined;
      });
      const after = await getJson<{ version: number; gateways: unknown[] }>(
        `${controlUrl}/v1/snapshot`,
      );
      assert.ok(after.version > before.version);
      assert.equal(after.gateways.length, 1, 'the applied config survived the restart');
      await until('the gateway routes to user-3 too', async () =>
        JSON.parse((await get(gatewayPort, '/user')).body).instance === 'user-3' ? true : undefined,
      );
    });
  },
);
