// The control plane as a user and a proxy see it: its HTTP API, the snapshot stream, and the
// CLI on top, against a real control plane on 127.0.0.1 port 0 with the embedded store.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { ControlMessage, Snapshot } from '@weft/model';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WEFT = join(ROOT, 'packages/cli/bin/weft.js');
const SEED = readFileSync(join(ROOT, 'examples/seed/virtual-service.yaml'), 'utf8');

async function call(
  cp: RunningControlPlane,
  method: string,
  path: string,
  body?: unknown,
  rawBody?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${cp.url}${path}`, {
    method,
    headers:
      body !== undefined || rawBody !== undefined ? { 'content-type': 'application/json' } : {},
    ...(rawBody !== undefined
      ? { body: rawBody }
      : body !== undefined
        ? { body: JSON.stringify(body) }
        : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function nextSnapshot(cp: RunningControlPlane, pred: (s: Snapshot) => boolean): Promise<Snapshot> {
  return new Promise((resolve) => {
    const now = cp.cp.snapshot();
    if (now && pred(now)) return resolve(now);
    const off = cp.cp.onSnapshot((s) => {
      if (pred(s)) {
        off();
        resolve(s);
      }
    });
  });
}

function runWeft(
  args: string[],
  control: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [WEFT, '--control', control, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('control plane API', () => {
  let cp: RunningControlPlane;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cp-test-'));
    cp = await startControlPlane({ dataDir: dir, port: 0 });
  });
  after(async () => {
    await cp.close();
  });

  it('applies the seed YAML, then reports it unchanged on a second apply', async () => {
    const first = await call(cp, 'POST', '/v1/apply', {
      files: [{ path: 'seed.yaml', content: SEED }],
    });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.deepEqual(
      (first.json.results as { kind: string; action: string }[]).map(
        (r) => `${r.kind}:${r.action}`,
      ),
      ['Gateway:created', 'VirtualService:created'],
    );
    const again = await call(cp, 'POST', '/v1/apply', {
      files: [{ path: 'seed.yaml', content: SEED }],
    });
    assert.deepEqual(
      (again.json.results as { action: string }[]).map((r) => r.action),
      ['unchanged', 'unchanged'],
    );
    const snap = await nextSnapshot(cp, (s) => s.gateways.length === 1);
    assert.equal(snap.gateways[0]?.name, 'default/my-gateway');
  });

  it('rejects a whole apply when one document is invalid, naming file:line:col, and stores nothing', async () => {
    const before = await cp.cp.store.revision();
    const bad = `${SEED.replace(/name: my-service/, 'name: other-service')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: broken
spec:
  hosts: [stock]
  http:
  - route:
    - destination:
        host: stock
      weight: -5
`;
    const r = await call(cp, 'POST', '/v1/apply', {
      files: [{ path: 'mixed.yaml', content: bad }],
    });
    assert.equal(r.status, 400);
    const err = r.json.error as {
      code: string;
      errors: { field: string; position?: { file: string; line: number; col: number } }[];
    };
    assert.equal(err.code, 'WEFT_ERR_INVALID_CONFIG');
    const weight = err.errors.find((e) => e.field.endsWith('weight'));
    assert.ok(weight, JSON.stringify(err.errors));
    assert.equal(weight.position?.file, 'mixed.yaml');
    assert.ok((weight.position?.line ?? 0) > 40, `line ${weight.position?.line}`);
    assert.equal(await cp.cp.store.revision(), before, 'nothing stored');
    const get = await call(cp, 'GET', '/v1/resources/virtualservice/default/other-service');
    assert.equal(get.status, 404);
  });

  it('reports YAML syntax errors with their position', async () => {
    const r = await call(cp, 'POST', '/v1/apply', {
      files: [
        { path: 'syntax.yaml', content: 'kind: VirtualService\nmetadata:\n  name: [unclosed\n' },
      ],
    });
    assert.equal(r.status, 400);
    const errors = (r.json.error as { errors: { position?: { file: string; line: number } }[] })
      .errors;
    assert.equal(errors[0]?.position?.file, 'syntax.yaml');
  });

  it('answers malformed requests with the right 4xx', async () => {
    assert.equal((await call(cp, 'POST', '/v1/apply', undefined, '{not json')).status, 400);
    assert.equal((await call(cp, 'POST', '/v1/apply', { files: 'nope' })).status, 400);
    assert.equal((await call(cp, 'GET', '/v1/nothing-here')).status, 404);
    assert.equal((await call(cp, 'DELETE', '/v1/apply')).status, 405);
    assert.equal((await call(cp, 'GET', '/v1/resources?kind=Pod')).status, 400);
    const reg = await call(cp, 'POST', '/v1/instances', {
      service: 'Bad Name',
      address: '',
      port: 99999,
    });
    assert.equal(reg.status, 400);
    assert.match(String((reg.json.error as { message: string }).message), /service.*port/s);
    assert.equal((await call(cp, 'PUT', '/v1/instances/ghost/heartbeat')).status, 404);
  });

  it('registers an instance, marks it unhealthy, and deregisters it', async () => {
    const reg = await call(cp, 'POST', '/v1/instances', {
      service: 'user',
      address: '127.0.0.1',
      port: 9100,
      id: 'user-a',
      labels: { version: 'v1' },
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    let snap = await nextSnapshot(cp, (s) =>
      s.clusters.some((c) => c.endpoints.some((e) => e.id === 'user-a')),
    );
    assert.ok(snap.mesh.virtualHosts.some((v) => v.domains.includes('user')));
    assert.equal((await call(cp, 'PUT', '/v1/instances/user-a/heartbeat')).status, 200);
    assert.equal(
      (await call(cp, 'PUT', '/v1/instances/user-a/health', { healthy: false })).status,
      200,
    );
    snap = await nextSnapshot(cp, (s) =>
      s.clusters.some((c) => c.endpoints.some((e) => e.id === 'user-a' && !e.healthy)),
    );
    assert.ok(snap);
    assert.equal((await call(cp, 'DELETE', '/v1/instances/user-a')).status, 200);
    await nextSnapshot(
      cp,
      (s) => !s.clusters.some((c) => c.endpoints.some((e) => e.id === 'user-a')),
    );
  });

  it('drops an instance whose lease expires', async () => {
    const reg = await call(cp, 'POST', '/v1/instances', {
      service: 'stock',
      address: '127.0.0.1',
      port: 9200,
      id: 'stock-x',
      ttlSeconds: 1,
    });
    assert.equal(reg.status, 201);
    await nextSnapshot(cp, (s) =>
      s.clusters.some((c) => c.endpoints.some((e) => e.id === 'stock-x')),
    );
    // No heartbeat: the store's lease check deletes it about a second later.
    await nextSnapshot(
      cp,
      (s) => !s.clusters.some((c) => c.endpoints.some((e) => e.id === 'stock-x')),
    );
    assert.equal((await call(cp, 'PUT', '/v1/instances/stock-x/heartbeat')).status, 404);
  });

  it('pushes versioned snapshots over the stream and records ACKs and NACKs', async () => {
    const ws = new WebSocket(`${cp.url.replace('http', 'ws')}/v1/stream`);
    const messages: ControlMessage[] = [];
    let wake: () => void = () => undefined;
    ws.on('message', (d) => {
      messages.push(JSON.parse(d.toString()) as ControlMessage);
      wake();
    });
    const next = async (): Promise<ControlMessage> => {
      while (messages.length === 0) await new Promise<void>((r) => (wake = r));
      return messages.shift() as ControlMessage;
    };
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({
        type: 'hello',
        node: { id: 'test-proxy', role: 'gateway', namespace: 'default', labels: {} },
      }),
    );
    const first = await next();
    assert.equal(first.type, 'snapshot');
    ws.send(JSON.stringify({ type: 'ack', version: first.version }));
    await call(cp, 'POST', '/v1/instances', {
      service: 'order',
      address: '127.0.0.1',
      port: 9300,
      id: 'order-z',
    });
    const second = await next();
    assert.ok(second.version > first.version);
    assert.ok(second.type === 'snapshot', 'a proxy that did not offer deltas gets whole snapshots');
    assert.ok(second.snapshot.clusters.some((c) => c.endpoints.some((e) => e.id === 'order-z')));
    ws.send(JSON.stringify({ type: 'nack', version: second.version, error: 'test says no' }));
    let proxies: {
      items: { node: { id: string }; ackedVersion?: number; nack?: { error: string } }[];
    };
    do {
      proxies = (await call(cp, 'GET', '/v1/proxies')).json as typeof proxies;
    } while (!proxies.items[0]?.nack);
    assert.equal(proxies.items[0]?.node.id, 'test-proxy');
    assert.equal(proxies.items[0]?.ackedVersion, first.version);
    assert.equal(proxies.items[0]?.nack?.error, 'test says no');
    ws.close();
  });

  it('weft apply names file:line:col for a bad file and exits non-zero; get prints tables', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: x\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination:\n        host: a\n      weight: -1\n',
    );
    const bad = await runWeft(['apply', '-f', file], cp.url);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      bad.stderr,
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:11:\\d+: error`),
    );
    const ok = await runWeft(['get', 'virtualservices'], cp.url);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /NAMESPACE\s+NAME\s+HOSTS/);
    assert.match(ok.stdout, /my-service/);
    const json = await runWeft(['get', 'routes', '-o', 'json'], cp.url);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(Array.isArray(JSON.parse(json.stdout)));
    const unreachable = await runWeft(['get', 'services'], 'http://127.0.0.1:1');
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the control plane/);
  });
});
