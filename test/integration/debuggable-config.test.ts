// Config a person can debug, against real parts on 127.0.0.1: admission on apply, `apply
// --wait` with a real gateway connected, `weft analyze` on fixture folders, `weft explain`
// offline and live, and the `x-weft-explain` header through the gateway.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import type { ControlMessage } from '@weft/model';
import { checkSnapshot, startGateway, type RunningGateway } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WEFT = join(ROOT, 'packages/cli/bin/weft.js');
const FIXTURES = join(ROOT, 'test/fixtures/analyze');
const GOOD = join(FIXTURES, 'good');
const DANGLING = join(FIXTURES, 'dangling');
const REJECTED = join(FIXTURES, 'rejected');

function runWeft(
  args: string[],
  control = 'http://127.0.0.1:1',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [WEFT, '--control', control, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ROOT,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function get(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const file = (dir: string, name: string) => ({
  path: name,
  content: readFileSync(join(dir, name), 'utf8'),
});

/** A proxy on the snapshot stream that never ACKs (silent) or NACKs everything. */
function fakeProxy(url: string, id: string, mode: 'silent' | 'nack'): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as ControlMessage;
    if (mode === 'nack')
      ws.send(JSON.stringify({ type: 'nack', version: m.version, error: 'test proxy says no' }));
  });
  return new Promise((resolve) =>
    ws.once('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          node: { id, role: 'gateway', namespace: 'default', labels: {} },
          ...(mode === 'silent' ? { version: 0 } : {}),
        }),
      );
      resolve(ws);
    }),
  );
}

describe('config a person can debug', { timeout: 120_000 }, () => {
  let cp: RunningControlPlane;
  let gw: RunningGateway;
  let user: FakeUpstream;
  let reviews: FakeUpstream;

  before(async () => {
    cp = await startControlPlane({
      dataDir: mkdtempSync(join(tmpdir(), 'weft-debug-test-')),
      port: 0,
      admit: (s) => void checkSnapshot(s),
    });
    user = await startFakeUpstream('user-1');
    reviews = await startFakeUpstream('reviews-v1');
    for (const [svc, id, up] of [
      ['user', 'user-1', user],
      ['reviews', 'reviews-v1', reviews],
    ] as const) {
      const r = await call(cp.url, 'POST', '/v1/instances', {
        service: svc,
        address: '127.0.0.1',
        port: up.port,
        id,
        labels: { version: 'v1' },
        ttlSeconds: 600,
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
    gw = await startGateway({ control: cp.url, port: 0, id: 'gw-debug' });
    await gw.ready;
  });

  after(async () => {
    await gw?.close();
    await cp?.close();
    await user?.close();
    await reviews?.close();
  });

  it('apply --wait returns once the gateway runs the config, which then serves', async () => {
    const r = await runWeft(['apply', '-f', GOOD, '--wait', '--timeout', '20s'], cp.url);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /virtualservice\/shop created/);
    assert.match(r.stdout, /^live on 1 of 1 proxies \(version >= \d+\)$/m);
    // No sleep: --wait promised the gateway already runs it.
    const res = await get(gw.port, '/user/7', { host: 'shop.example.com' });
    assert.equal(res.status, 200, res.body);
    assert.equal((JSON.parse(res.body) as { name: string }).name, 'user-1');
  });

  it('apply --wait names proxies that lag or NACK, and exits 1', async () => {
    const silent = await fakeProxy(cp.url, 'stuck-proxy', 'silent');
    const nacker = await fakeProxy(cp.url, 'nack-proxy', 'nack');
    try {
      const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: wait-probe
spec:
  hosts: [user]
  http:
    - route:
        - destination:
            host: user
`;
      const { writeFileSync } = await import('node:fs');
      const path = join(mkdtempSync(join(tmpdir(), 'weft-wait-')), 'probe.yaml');
      writeFileSync(path, vs);
      const started = Date.now();
      const r = await runWeft(['apply', '-f', path, '--wait', '--timeout', '1500ms'], cp.url);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /stuck-proxy \(gateway\) lags: runs version 0, not yet \d+/);
      assert.match(r.stderr, /nack-proxy \(gateway\) rejected version >= \d+: test proxy says no/);
      assert.match(r.stderr, /live on 1 of 3 proxies; 1 rejected the configuration; gave up/);
      assert.ok(Date.now() - started < 15_000);
    } finally {
      silent.close();
      nacker.close();
      await call(cp.url, 'DELETE', '/v1/resources/virtualservice/default/wait-probe');
    }
  });

  it('admission refuses config the proxies would NACK, names the file position, and stores nothing', async () => {
    const before = await cp.cp.store.revision();
    for (const dryRun of [false, true]) {
      const r = await call(cp.url, 'POST', '/v1/apply', {
        files: [file(REJECTED, 'redirect.yaml')],
        dryRun,
      });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      const err = r.json.error as {
        code: string;
        message: string;
        errors: { field: string; position?: { file: string; line: number } }[];
      };
      assert.equal(err.code, 'WEFT_ERR_ADMISSION');
      assert.match(err.message, /action\.code: 305 is not a redirect code/);
      assert.equal(err.errors[0]?.field, 'spec.http[0]');
      assert.deepEqual(err.errors[0]?.position, { file: 'redirect.yaml', line: 11, col: 7 });
    }
    assert.equal(await cp.cp.store.revision(), before, 'nothing stored');
    const got = await call(cp.url, 'GET', '/v1/resources/virtualservice/default/legacy');
    assert.equal(got.status, 404);
    const cli = await runWeft(['apply', '-f', join(REJECTED, 'redirect.yaml')], cp.url);
    assert.equal(cli.code, 1);
    assert.match(
      cli.stderr,
      /redirect\.yaml:11:7: error: VirtualService default\/legacy: spec\.http\[0\]: proxies would reject/,
    );
  });

  it('admission uses the admit it is given: one that throws refuses every apply', async () => {
    const strict = await startControlPlane({
      dataDir: mkdtempSync(join(tmpdir(), 'weft-admit-')),
      port: 0,
      admit: () => {
        throw new Error('clusters[0].lb: nope');
      },
    });
    try {
      const before = await strict.cp.store.revision();
      const r = await call(strict.url, 'POST', '/v1/apply', {
        files: [file(GOOD, 'reviews.yaml')],
      });
      assert.equal(r.status, 400);
      assert.equal((r.json.error as { code: string }).code, 'WEFT_ERR_ADMISSION');
      assert.match((r.json.error as { message: string }).message, /clusters\[0\]\.lb: nope/);
      assert.equal(await strict.cp.store.revision(), before);
      assert.equal(strict.cp.resources().length, 0);
    } finally {
      await strict.close();
    }
  });

  it('apply returns reference warnings with positions, knowing registered services', async () => {
    const r = await call(cp.url, 'POST', '/v1/apply', {
      files: [file(DANGLING, 'routes.yaml')],
      dryRun: true,
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const warnings = (
      r.json.warnings as { field: string; message: string; position?: { line: number } }[]
    ).map((w) => `${w.position?.line} ${w.field}: ${w.message}`);
    assert.deepEqual(warnings, [
      '10 spec.gateways[0]: Gateway default/missing-gateway is not defined in the mesh; the routes bound to it serve no gateway until it is',
      '18 spec.http[0].route[0].destination.subset: subset "v9" of reviews.default.svc.cluster.local is defined by no DestinationRule in the mesh; requests routed to it get 503 NC',
      '21 spec.http[1].route[0].destination.host: host ghost.default.svc.cluster.local is not known in the mesh: no instance has registered and no VirtualService or DestinationRule names it; requests get 503 NC until one registers',
    ]);
  });

  it('weft analyze checks fixture folders offline', async () => {
    const good = await runWeft(['analyze', '-f', GOOD]);
    assert.equal(good.code, 0, good.stdout);
    assert.equal(good.stdout, 'ok: 2 files, 5 resources: 0 errors, 0 warnings\n');

    const dangling = await runWeft(['analyze', '-f', 'test/fixtures/analyze/dangling']);
    assert.equal(dangling.code, 0, dangling.stdout);
    const lines = dangling.stdout.trim().split('\n');
    assert.equal(lines.length, 4, dangling.stdout);
    assert.match(
      lines[0]!,
      /^test\/fixtures\/analyze\/dangling\/routes\.yaml:10:7: warning: .*Gateway default\/missing-gateway is not defined in these files/,
    );
    assert.match(lines[1]!, /routes\.yaml:18:13: warning: .*subset "v9"/);
    assert.match(
      lines[2]!,
      /routes\.yaml:21:13: warning: .*host ghost\.default\.svc\.cluster\.local is not known in these files/,
    );
    assert.equal(lines[3], 'ok: 1 file, 2 resources: 0 errors, 3 warnings');

    const rejected = await runWeft(['analyze', '-f', 'test/fixtures/analyze/rejected']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stdout, /invalid\.yaml:13:11: error: .*weight: must not be negative/);
    assert.match(rejected.stdout, /redirect\.yaml:11:7: error: .*305 is not a redirect code/);
    assert.match(rejected.stdout, /FAIL: 2 files, 1 resource: 2 errors, 0 warnings\n$/);
  });

  it('weft explain, offline against files', async () => {
    const r = await runWeft([
      'explain',
      '--from',
      'productpage',
      'GET',
      'http://reviews/reviews/beta',
      '-H',
      'end-user: bob',
      '-f',
      GOOD,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sidecar outbound view \(from productpage\)/);
    assert.match(
      r.stdout,
      /#0 default\/reviews#0 \(VirtualService default\/reviews http\[0\], name jason\)\n\s+no: match\[0\]\.headers\.end-user: exact "jason" does not match "bob"/,
    );
    assert.match(
      r.stdout,
      /#1 default\/reviews#1 .*\n\s+MATCHED by match\[0\]: uri prefix "\/reviews\/beta"/,
    );
    assert.match(
      r.stdout,
      /subset v3 +100% +cluster outbound\|\|v3\|reviews\.default\.svc\.cluster\.local/,
    );
    assert.match(r.stdout, /retries +3 on 5xx, 500 ms per try/);
  });

  it('weft explain, live against the control plane, as text and JSON', async () => {
    const r = await runWeft(['explain', 'GET', 'http://shop.example.com/reviews/1'], cp.url);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /gateway view \(serves default\/shop-gateway\)/);
    assert.match(r.stdout, /no: match\[0\]\.uri: prefix "\/user" does not match "\/reviews\/1"/);
    assert.match(
      r.stdout,
      new RegExp(`endpoint reviews-v1 127\\.0\\.0\\.1:${reviews.port} healthy`),
    );
    assert.match(r.stdout, /timeout +3000 ms/);
    const j = await runWeft(
      [
        'explain',
        '--gateway',
        'shop-gateway',
        'GET',
        '/user/1',
        '-H',
        'Host: shop.example.com',
        '-o',
        'json',
      ],
      cp.url,
    );
    assert.equal(j.code, 0, j.stderr);
    const trace = JSON.parse(j.stdout) as {
      routes: { id: string; matched: boolean }[];
      action: {
        destinations: { cluster: string; lb: { policy: string }; endpoints: { id: string }[] }[];
      };
      outcome: { kind: string };
    };
    assert.deepEqual(
      trace.routes.map((x) => [x.id, x.matched]),
      [['default/shop#0', true]],
    );
    assert.equal(
      trace.action.destinations[0]?.cluster,
      'outbound|||user.default.svc.cluster.local',
    );
    assert.equal(trace.action.destinations[0]?.lb.policy, 'RANDOM');
    assert.deepEqual(
      trace.action.destinations[0]?.endpoints.map((e) => e.id),
      ['user-1'],
    );
    assert.equal(trace.outcome.kind, 'forward');
    const bad = await runWeft(['explain', '--gateway', 'nope', 'GET', 'http://a/'], cp.url);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /no Gateway "nope" in the configuration \(there are: default\/shop-gateway\)/,
    );
  });

  it('x-weft-explain: 1 through the gateway explains the route the gateway really took', async () => {
    const asked = await get(gw.port, '/reviews/1', {
      host: 'shop.example.com',
      'x-weft-explain': '1',
    });
    assert.equal(asked.status, 200, asked.body);
    const answered = JSON.parse(asked.body) as { name: string; headers: Record<string, string> };
    assert.equal(answered.name, 'reviews-v1');
    assert.equal(answered.headers['x-weft-explain'], undefined, 'not passed upstream');
    const line = String(asked.headers['x-weft-explain']);
    assert.match(line, /vhost=default\/shop /);
    assert.match(
      line,
      /skipped=\[default\/shop#0: match\[0\]\.uri: prefix "\/user" does not match "\/reviews\/1"\]/,
    );
    assert.match(line, /route=default\/shop#1\(reviews\)/);
    assert.match(line, /cluster=outbound\|\|\|reviews\.default\.svc\.cluster\.local/);
    assert.match(line, new RegExp(`endpoint=reviews-v1@127\\.0\\.0\\.1:${reviews.port} tries=1$`));

    const plain = await get(gw.port, '/reviews/1', { host: 'shop.example.com' });
    assert.equal(plain.headers['x-weft-explain'], undefined);

    const nr = await get(gw.port, '/x', { host: 'nowhere.example.com', 'x-weft-explain': '1' });
    assert.equal(nr.status, 404);
    assert.match(
      String(nr.headers['x-weft-explain']),
      /no virtual host for nowhere\.example\.com result=404 NR/,
    );
  });
});
