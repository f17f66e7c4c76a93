// A locked control plane on 127.0.0.1: its API over HTTPS with a certificate from the mesh CA,
// an admin token written to the data dir on first start, bootstrap tokens scoped to one
// service, and revocation that takes effect on the next request and closes open streams. A
// real sidecar with a bootstrap token registers, gets its certificate and its snapshots.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { startSidecar, type RunningSidecar } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { until } from '../support/weft-process.js';

interface Reply {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One call to a locked API over HTTPS, trusting only the mesh root. */
function callApi(
  base: string,
  ca: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      `${base}${path}`,
      {
        method,
        ca,
        agent: false,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: user, namespace: default }
spec:
  hosts: [user]
  http: [{ route: [{ destination: { host: user } }] }]
`;

describe('locked control plane', { timeout: 60_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let ca: string;
  let admin: string;
  let userToken: string;
  let userTokenId: string;
  let app: FakeUpstream;
  let sidecar: RunningSidecar | undefined;

  const call = (method: string, path: string, token?: string, body?: unknown) =>
    callApi(cp.url, ca, method, path, token, body);

  const register = (service: string, token: string | undefined, id = `${service}-x`) =>
    call('POST', '/v1/instances', token, {
      service,
      id,
      address: '127.0.0.1',
      port: 1,
      ttlSeconds: 30,
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-locked-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      port: 0,
      tls: true,
      auth: true,
      dashboard: false,
    });
    ca = readFileSync(cp.caFile!, 'utf8');
    admin = readFileSync(cp.adminTokenFile!, 'utf8').trim();
    app = await startFakeUpstream('user');
  });

  after(async () => {
    await sidecar?.close();
    await app?.close();
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the first admin token (0600) and the root to the data dir', () => {
    assert.match(cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(statSync(cp.adminTokenFile!).mode & 0o777, 0o600);
    assert.match(admin, /^weft_[A-Za-z0-9_-]{43}$/);
    assert.equal(ca, cp.caRoot);
  });

  it('refuses plaintext HTTP on the TLS port', async () => {
    const port = Number(new URL(cp.url).port);
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/resources', agent: false });
      req.on('response', (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err) => resolve(`failed: ${(err as NodeJS.ErrnoException).code}`));
      req.end();
    });
    assert.match(outcome, /^failed: /);
  });

  it('without a token: 401 with a stable code, and nothing is stored', async () => {
    const apply = await call('POST', '/v1/apply', undefined, {
      files: [{ path: 'vs.yaml', content: VS }],
    });
    assert.equal(apply.status, 401);
    assert.equal(apply.body.error?.code, 'WEFT_ERR_AUTH_REQUIRED');
    const reg = await register('user', undefined);
    assert.equal(reg.status, 401);
    const bad = await register('user', 'weft_not-a-token-at-all');
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error?.code, 'WEFT_ERR_AUTH_INVALID_TOKEN');
    const tokens = await call('GET', '/v1/tokens');
    assert.equal(tokens.status, 401);
    // Reads are open on loopback (documented): they show that nothing changed.
    assert.deepEqual((await call('GET', '/v1/resources')).body.items, []);
    assert.deepEqual((await call('GET', '/v1/instances')).body.items, []);
  });

  it('an admin token applies config and creates tokens; the secret is shown once', async () => {
    const apply = await call('POST', '/v1/apply', admin, {
      files: [{ path: 'vs.yaml', content: VS }],
    });
    assert.equal(apply.status, 200, JSON.stringify(apply.body));
    const made = await call('POST', '/v1/tokens', admin, { kind: 'bootstrap', service: 'user' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    userToken = made.body.token as string;
    userTokenId = made.body.id as string;
    assert.equal(made.body.service, 'user');
    const list = await call('GET', '/v1/tokens', admin);
    const text = JSON.stringify(list.body);
    assert.ok(text.includes(userTokenId));
    assert.ok(!text.includes(userToken) && !text.includes(admin), 'no secret in the listing');
    assert.ok(!text.includes('"hash"'), 'no hash in the listing');
  });

  it('a bootstrap token for user registers user, never order, and may not change config', async () => {
    const other = await register('order', userToken);
    assert.equal(other.status, 403);
    assert.equal(other.body.error?.code, 'WEFT_ERR_AUTH_WRONG_SERVICE');
    const ok = await register('user', userToken);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await call('PUT', '/v1/instances/user-x/heartbeat', userToken)).status, 200);
    // An admin-registered order instance: user's token cannot take over or remove it.
    assert.equal((await register('order', admin, 'order-x')).status, 201);
    assert.equal((await register('user', userToken, 'order-x')).status, 403);
    assert.equal((await call('DELETE', '/v1/instances/order-x', userToken)).status, 403);
    assert.equal((await call('PUT', '/v1/instances/order-x/heartbeat', userToken)).status, 403);
    const apply = await call('POST', '/v1/apply', userToken, {
      files: [{ path: 'vs.yaml', content: VS }],
    });
    assert.equal(apply.status, 403);
    assert.equal(apply.body.error?.code, 'WEFT_ERR_AUTH_ADMIN_REQUIRED');
    assert.equal((await call('POST', '/v1/tokens', userToken, { kind: 'admin' })).status, 403);
    const items = (await call('GET', '/v1/instances')).body.items as { id: string }[];
    assert.deepEqual(items.map((i) => i.id).sort(), ['order-x', 'user-x']);
  });

  it('a bootstrap token for user gets no certificate for order (403)', async () => {
    const r = await call('POST', '/v1/certificates', userToken, {
      csr: 'irrelevant: refused before the CSR is read',
      service: 'order',
    });
    assert.equal(r.status, 403);
    assert.equal(r.body.error?.code, 'WEFT_ERR_AUTH_WRONG_SERVICE');
  });

  it('a real sidecar with that token registers, gets a certificate for user and its snapshot', async () => {
    sidecar = await startSidecar({
      control: cp.url,
      credentials: { ca, token: userToken },
      service: 'user',
      id: 'user-1',
      appPort: app.port,
      ttlSeconds: 30,
    });
    await Promise.all([sidecar.ready, sidecar.registered]);
    assert.equal(
      sidecar.certificate?.current()?.identity,
      'spiffe://cluster.local/ns/default/sa/user',
    );
    const proxies = (await call('GET', '/v1/proxies')).body.items as { node: { id: string } }[];
    assert.ok(
      proxies.some((p) => p.node.id === 'user-1.sidecar'),
      JSON.stringify(proxies),
    );
  });

  it('the stream refuses no token (401) and a sidecar hello for another service', async () => {
    const wsUrl = cp.url.replace(/^https/, 'wss') + '/v1/stream';
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { ca });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened without a token')));
      ws.on('error', () => undefined);
    });
    assert.equal(status, 401);
    const ws = new WebSocket(wsUrl, { ca, headers: { authorization: `Bearer ${userToken}` } });
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({ type: 'hello', node: { id: 'fake', role: 'sidecar', service: 'order' } }),
    );
    const [code, reason] = await new Promise<[number, string]>((r) =>
      ws.once('close', (c, why) => r([c, why.toString()])),
    );
    assert.equal(code, 1008);
    assert.match(reason, /WEFT_ERR_AUTH_WRONG_SERVICE/);
  });

  it('an expiring token: its stream closes at expiry and the next call is 401', async () => {
    const made = await call('POST', '/v1/tokens', admin, {
      kind: 'bootstrap',
      service: 'user',
      ttl: '1500ms',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const token = made.body.token as string;
    const ws = new WebSocket(cp.url.replace(/^https/, 'wss') + '/v1/stream', {
      ca,
      headers: { authorization: `Bearer ${token}` },
    });
    const closed = new Promise<[number, string]>((r) =>
      ws.once('close', (c, why) => r([c, why.toString()])),
    );
    await new Promise((r) => ws.once('open', r));
    assert.deepEqual(await closed, [1008, 'token expired']);
    const r = await register('user', token);
    assert.equal(r.status, 401);
    assert.equal(r.body.error?.code, 'WEFT_ERR_AUTH_TOKEN_EXPIRED');
  });

  it('revoking a token: the next call is 401 and its open streams close', async () => {
    const wsUrl = cp.url.replace(/^https/, 'wss') + '/v1/stream';
    const ws = new WebSocket(wsUrl, { ca, headers: { authorization: `Bearer ${userToken}` } });
    const first = new Promise((r) => ws.once('message', r));
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({ type: 'hello', node: { id: 'watcher', role: 'sidecar', service: 'user' } }),
    );
    await first;
    const closed = new Promise<number>((r) => ws.once('close', (c) => r(c)));
    const revoked = await call('DELETE', `/v1/tokens/${userTokenId}`, admin);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(await closed, 1008);
    const hb = await call('PUT', '/v1/instances/user-x/heartbeat', userToken);
    assert.equal(hb.status, 401);
    assert.equal(hb.body.error?.code, 'WEFT_ERR_AUTH_INVALID_TOKEN');
    const list = await call('GET', '/v1/tokens', admin);
    assert.ok(!JSON.stringify(list.body).includes(userTokenId));
    // The real sidecar's stream was closed too, and its reconnects are refused.
    await until('the revoked sidecar to leave proxy-status', async () => {
      const proxies = (await call('GET', '/v1/proxies')).body.items as { node: { id: string } }[];
      return proxies.some((p) => p.node.id === 'user-1.sidecar') ? undefined : true;
    });
  });
});

describe('locked control plane: the admin token file across restarts', { timeout: 60_000 }, () => {
  let dir: string;
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const status = async (cp: RunningControlPlane, token: string): Promise<number> =>
    (await callApi(cp.url, cp.caRoot, 'GET', '/v1/tokens', token)).status;
  const start = (dataDir: string) =>
    startControlPlane({ dataDir, port: 0, tls: true, auth: true, dashboard: false });

  it('accepts an operator-provided first admin token from the file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-locked-restart-'));
    const dataDir = join(dir, 'own');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'admin-token'), 'weft_an-operator-chose-this-token\n', {
      mode: 0o600,
    });
    const cp = await start(dataDir);
    try {
      assert.equal(await status(cp, 'weft_an-operator-chose-this-token'), 200);
    } finally {
      await cp.close();
    }
  });

  it('never brings back a revoked admin token when restarted with its file', async () => {
    const dataDir = join(dir, 'revoked');
    let cp = await start(dataDir);
    const first = readFileSync(cp.adminTokenFile!, 'utf8').trim();
    let second: string;
    try {
      const made = await callApi(cp.url, cp.caRoot, 'POST', '/v1/tokens', first, {
        kind: 'admin',
      });
      second = made.body.token as string;
      const firstId = createHash('sha256').update(first).digest('hex').slice(0, 16);
      const revoked = (await callApi(cp.url, cp.caRoot, 'DELETE', `/v1/tokens/${firstId}`, second))
        .status;
      assert.equal(revoked, 200);
    } finally {
      await cp.close();
    }
    cp = await start(dataDir);
    try {
      assert.equal(cp.adminToken, undefined);
      assert.equal(await status(cp, first), 401);
      assert.equal(await status(cp, second), 200);
    } finally {
      await cp.close();
    }
  });
});
