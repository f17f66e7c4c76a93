// The instance lifecycle with real processes: `weft sidecar ... -- node app.mjs` starts the
// app, registers it only once it is ready, reports its health, and on SIGTERM leaves every
// proxy's rotation before it drains, stops the app and exits 0. A sidecar killed without a
// word leaves the rotation when its lease expires.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { startGateway, type RunningGateway } from '@weft/proxy';
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

const APP = join(ROOT, 'test/fixtures/lifecycle/app.mjs');
const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: life-gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [life]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: life}
spec:
  hosts: [life]
  gateways: [life-gw]
  http: [{route: [{destination: {host: life}}]}]
`;

interface AppStats {
  ready: boolean;
  served: number;
  probes: number;
  held: number;
}

function viaGateway(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: 'life' }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('sidecar lifecycle', { timeout: 120_000 }, () => {
  let cp: RunningControlPlane;
  let gw: RunningGateway;
  const started: WeftProcess[] = [];

  before(async () => {
    cp = await startControlPlane({ dataDir: mkdtempSync(join(tmpdir(), 'weft-life-')), port: 0 });
    await getJson(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'life.yaml', content: YAML }] }),
    });
    gw = await startGateway({ control: cp.url, port: 0, id: 'life-gateway' });
    await gw.ready;
  });

  after(async () => {
    await Promise.all(started.map(killGroup));
    await gw?.close();
    await cp?.close();
  });

  const instances = async () =>
    (await getJson<{ items: Instance[] }>(`${cp.url}/v1/instances`)).items;
  const instance = async (id: string) => (await instances()).find((i) => i.id === id);
  const app = (port: number, path: string, method = 'GET') =>
    getJson<AppStats>(`http://127.0.0.1:${port}${path}`, { method });

  async function sidecar(id: string, flags: string[] = [], env: Record<string, string> = {}) {
    const appPort = await freePort();
    const p = startWeft(
      id,
      [
        '--control',
        cp.url,
        'sidecar',
        '--service',
        'life',
        '--id',
        id,
        '--app-port',
        String(appPort),
        '--health-path',
        '/healthz',
        '--health-interval',
        '200ms',
        '--unhealthy-threshold',
        '2',
        ...flags,
        '--',
        process.execPath,
        APP,
      ],
      { env },
    );
    started.push(p);
    await p.event((e) => e.event === 'ready' && e.role === 'sidecar');
    return { p, appPort };
  }

  it('registers only once the app is ready, and health checks take it out of and back into rotation', async () => {
    const { p, appPort } = await sidecar('life-1');
    // The sidecar probes the not-ready app several times; none of that registers it.
    await until('three readiness probes', async () =>
      (await app(appPort, '/admin/stats')).probes >= 3 ? true : undefined,
    );
    assert.equal(await instance('life-1'), undefined, 'registered before the app was ready');
    assert.equal(
      p.events.find((e) => e.event === 'registered'),
      undefined,
    );

    await app(appPort, '/admin/ready', 'POST');
    await p.event((e) => e.event === 'registered');
    assert.equal((await instance('life-1'))?.healthy, true);
    const r = await viaGateway(gw.port, '/hello');
    assert.equal(r.status, 200, r.body);
    assert.equal((await app(appPort, '/admin/stats')).served, 1);

    await app(appPort, '/admin/health?ok=0', 'POST');
    await until('life-1 reported unhealthy', async () =>
      (await instance('life-1'))?.healthy === false ? true : undefined,
    );
    await app(appPort, '/admin/health?ok=1', 'POST');
    await until('life-1 healthy again', async () =>
      (await instance('life-1'))?.healthy === true ? true : undefined,
    );
    p.child.kill('SIGTERM');
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.equal(await instance('life-1'), undefined);
  });

  it('on SIGTERM: deregisters, waits for the proxies, drains the request in flight, stops the app, exits 0', async () => {
    // A long drain timeout: the held request must not be cut while this test is slow.
    const { p, appPort } = await sidecar('life-2', ['--drain-timeout', '60s'], { READY: '1' });
    await p.event((e) => e.event === 'registered');
    // The gateway must know life-2 before it can send it a request.
    await until('the gateway routes to life-2', async () => {
      const r = await viaGateway(gw.port, '/probe');
      return r.status === 200 && (await app(appPort, '/admin/stats')).served > 0 ? true : undefined;
    });
    const held = viaGateway(gw.port, '/hold');
    await until('the request is held by life-2', async () =>
      (await app(appPort, '/admin/stats')).held === 1 ? true : undefined,
    );

    p.child.kill('SIGTERM');
    await until('life-2 deregistered', async () =>
      (await instance('life-2')) === undefined ? true : undefined,
    );
    await until('every proxy ACKed the deregistration', async () => {
      const st = await getJson<{ version: number; items: { ackedVersion?: number }[] }>(
        `${cp.url}/v1/proxies`,
      );
      return st.items.every((i) => i.ackedVersion === st.version) ? true : undefined;
    });
    // Still draining: the held request has not been cut, and the app still answers.
    assert.equal(p.child.exitCode, null, 'the sidecar exited before its request finished');
    assert.equal((await app(appPort, '/admin/stats')).held, 1);

    await app(appPort, '/admin/release', 'POST');
    const r = await held;
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /"held":true/);
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, p.stderr.join('\n'));
    await assert.rejects(app(appPort, '/admin/stats'), 'the app still runs after its sidecar');
    const logs = p.stderr.join('\n');
    for (const step of ['every proxy runs the deregistration', 'app stopped', 'sidecar stopped'])
      assert.ok(logs.includes(step), `missing "${step}" in the sidecar log`);
    assert.ok(
      logs.indexOf('every proxy runs the deregistration') < logs.indexOf('app stopped'),
      'the app was stopped before the proxies dropped the instance',
    );
  });

  it('an app that ignores SIGTERM is killed after the grace period, and the sidecar still exits 0', async () => {
    const { p, appPort } = await sidecar('life-3', ['--app-stop-grace', '300ms'], {
      READY: '1',
      IGNORE_SIGTERM: '1',
    });
    await p.event((e) => e.event === 'registered');
    p.child.kill('SIGTERM');
    assert.deepEqual(await p.exited, { code: 0, signal: null }, p.stderr.join('\n'));
    assert.match(p.stderr.join('\n'), /"signal":"SIGKILL".*app stopped/);
    await assert.rejects(app(appPort, '/admin/stats'));
  });

  it('an app that exits by itself takes its sidecar with it, deregistered', async () => {
    const { p, appPort } = await sidecar('life-4', [], { READY: '1' });
    await p.event((e) => e.event === 'registered');
    await app(appPort, '/admin/exit?code=3', 'POST');
    assert.deepEqual(await p.exited, { code: 1, signal: null }, p.stderr.join('\n'));
    assert.equal(await instance('life-4'), undefined);
  });

  it('a sidecar killed without a word leaves the rotation when its lease expires', async () => {
    const { p, appPort } = await sidecar('life-5', ['--ttl', '1'], { READY: '1' });
    await p.event((e) => e.event === 'registered');
    // Alive, it keeps its lease: after 15 health checks 200 ms apart (3 TTLs), still there.
    const probes = (await app(appPort, '/admin/stats')).probes;
    await until('15 more health checks', async () =>
      (await app(appPort, '/admin/stats')).probes >= probes + 15 ? true : undefined,
    );
    assert.ok(await instance('life-5'), 'the lease expired while the sidecar was alive');
    assert.doesNotMatch(p.stderr.join('\n'), /heartbeat failed/);
    const killedAt = Date.now();
    p.signalGroup('SIGKILL');
    await p.exited;
    await until('life-5 gone from the registry', async () =>
      (await instance('life-5')) === undefined ? true : undefined,
    );
    // Measured, not asserted (the machine may be slow): the lease is 1 s.
    console.log(`# life-5 left the registry ${Date.now() - killedAt} ms after SIGKILL (TTL 1 s)`);
    await until('the gateway no longer routes to life-5', async () => {
      const r = await viaGateway(gw.port, '/after-kill');
      return r.status === 503 ? true : undefined;
    });
  });

  it('rejects health-check flags that make no sense, before starting anything', async () => {
    const p = startWeft('bad', [
      '--control',
      cp.url,
      'sidecar',
      '--service',
      'life',
      '--unhealthy-threshold',
      '0',
      '--',
      process.execPath,
      APP,
    ]);
    started.push(p);
    const exit = await p.exited;
    assert.equal(exit.code, 1);
    assert.match(p.stderr.join('\n'), /--unhealthy-threshold.*whole number from 1 to 100/);
  });
});
