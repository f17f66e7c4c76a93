// Watching the mesh from the CLI: `weft get instances -w` prints every current instance and
// then each change as it happens (a registration, a health flip, a deregistration), and
// `weft proxy-status` lists each connected proxy with the version it ACKed and a NACK's reason.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import WebSocket from 'ws';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { api, recordingProxy, runWeft, WEFT, type RecordingProxy } from './support/cluster.js';

let cp: RunningControlPlane;
let dir: string;
let proxy: RecordingProxy | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-watch-'));
  cp = await startControlPlane({ dataDir: dir, port: 0 });
});
after(async () => {
  proxy?.close();
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

const register = (id: string, service: string) =>
  api(cp.url, 'POST', '/v1/instances', { service, id, address: '127.0.0.1', port: 9400 });

it(
  'weft get instances -w streams every change until interrupted',
  { timeout: 30_000 },
  async () => {
    assert.equal((await register('cart-1', 'cart')).status, 201);
    const child = spawn(process.execPath, [WEFT, '--control', cp.url, 'get', 'instances', '-w'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters.splice(0)) w();
    });
    const lineMatching = async (re: RegExp): Promise<string> => {
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      assert.match(await lineMatching(/^EVENT\s+NAMESPACE\s+SERVICE\s+ID/), /ADDRESS/);
      await lineMatching(/^ADDED\s+default\s+cart\s+cart-1\b/);
      assert.equal((await register('cart-2', 'cart')).status, 201);
      await lineMatching(/^ADDED\s+default\s+cart\s+cart-2\b/);
      const sick = await api(cp.url, 'PUT', '/v1/instances/cart-2/health', { healthy: false });
      assert.equal(sick.status, 200);
      assert.match(await lineMatching(/^MODIFIED\s+default\s+cart\s+cart-2\b/), /\bNO\b/);
      assert.equal((await api(cp.url, 'DELETE', '/v1/instances/cart-1')).status, 200);
      await lineMatching(/^DELETED\s+default\s+cart\s+cart-1\b/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, 'Ctrl-C ends the watch cleanly');
  },
);

it(
  'weft proxy-status shows each proxy, the version it ACKed, and why it NACKed',
  { timeout: 30_000 },
  async () => {
    proxy = recordingProxy({ control: [cp.url], id: 'cart-1.sidecar', service: 'cart' });
    const version = (await proxy.until(() => true)).version;
    // A stand-in proxy that rejects what it is sent.
    const ws = new WebSocket(`${cp.url.replace('http', 'ws')}/v1/stream`);
    await new Promise((r) => ws.once('open', r));
    const nacked = new Promise<void>((resolve) => {
      ws.once('message', (d: Buffer) => {
        const msg = JSON.parse(d.toString()) as { version: number };
        ws.send(
          JSON.stringify({ type: 'nack', version: msg.version, error: 'route 3: bad regex' }),
        );
        resolve();
      });
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        node: { id: 'picky-gw', role: 'gateway', namespace: 'default', labels: {} },
      }),
    );
    await nacked;
    try {
      let out = '';
      for (;;) {
        out = await runWeft(['--control', cp.url, 'proxy-status']);
        if (/NACK/.test(out)) break;
      }
      const sidecarLine = out.split('\n').find((l) => l.startsWith('cart-1.sidecar'));
      assert.match(
        sidecarLine ?? '',
        new RegExp(`\\bsidecar\\s+${version}\\s+${version}\\s+SYNCED`),
      );
      const picky = out.split('\n').find((l) => l.startsWith('picky-gw'));
      assert.match(picky ?? '', /NACK \d+: route 3: bad regex/);
    } finally {
      ws.close();
    }
  },
);
