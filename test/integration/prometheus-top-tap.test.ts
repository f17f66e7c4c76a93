// `weft top`, `weft tap` and the proxies' admin listeners and access logs, end to end: a real
// control plane, gateway and sidecar on 127.0.0.1 in this process, a fake app behind the
// sidecar, and the CLI as child processes. Everything waits for events (a line the CLI
// prints, a count reached), never for a fixed time.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import { startGateway, startSidecar, type RunningGateway, type RunningSidecar } from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { runWeft, until, WEFT } from './prometheus-support.js';

const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [shop]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop }
spec:
  hosts: [shop]
  gateways: [edge]
  http:
    - route: [{ destination: { host: ratings } }]
`;

const agent = new Agent({ keepAlive: true });

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: 'shop', ...headers }, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A CLI process whose stdout lines and stderr can be awaited. */
function spawnWeft(control: string, args: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
    WEFT,
    '--control',
    control,
    ...args,
  ]);
  const lines: string[] = [];
  let stderr = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    wake();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    wake();
  });
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(kill));
  /** Resolves once `cond` holds, checked on every output (bounded by the kill timer). */
  const until = (what: string, cond: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (cond()) return resolve();
        if (child.exitCode !== null)
          return reject(new Error(`weft ${args[0]} exited before ${what}: ${stderr}`));
        waiters.push(check);
      };
      void exited.then(() => waiters.length > 0 && wake());
      check();
    });
  return { child, lines, stderr: () => stderr, exited, until };
}

describe('weft top, weft tap and the admin listener', { timeout: 120_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let app: FakeUpstream;
  let sidecar: RunningSidecar;
  let gateway: RunningGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-top-tap-'));
    cp = await startControlPlane({ dataDir: dir, port: 0 });
    const applied = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'shop.yaml', content: YAML }] }),
    });
    assert.equal(applied.status, 200, await applied.text());
    app = await startFakeUpstream('ratings');
    sidecar = await startSidecar({
      control: cp.url,
      service: 'ratings',
      id: 'ratings-1',
      appPort: app.port,
      labels: { version: 'v1' },
      healthCheck: { intervalMs: 100 },
    });
    gateway = await startGateway({
      control: cp.url,
      port: 0,
      id: 'gateway',
      accessLog: join(dir, 'access.log'),
    });
    await Promise.all([sidecar.ready, sidecar.registered, gateway.ready]);
    // Until the gateway's table has the instance: a request gets through.
    await until('the gateway to reach ratings', async () =>
      (await get(gateway.port, '/warm')) === 200 ? true : undefined,
    );
  });

  after(async () => {
    agent.destroy();
    await gateway?.close();
    await sidecar?.close();
    await app?.close();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('taps only the 5xx requests to a service, from both sides of the hop, and stops at --max', async () => {
    const tap = spawnWeft(cp.url, [
      'tap',
      'ratings',
      '--status',
      '5xx',
      '--max',
      '4',
      '-o',
      'json',
    ]);
    await tap.until('the tap to start', () => tap.stderr().includes('tapping 2 proxies'));
    for (let i = 0; i < 3; i++) assert.equal(await get(gateway.port, `/ok/${i}`), 200);
    for (let i = 0; i < 2; i++)
      // 500: not a status the default retry policy retries (503 is), so one try per request.
      assert.equal(await get(gateway.port, `/fail/${i}`, { 'x-fake-status': '500' }), 500);
    assert.equal(await tap.exited, 0, tap.stderr());
    const records = tap.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 4);
    assert.ok(records.every((r) => r.status === 500 && String(r.path).startsWith('/fail/')));
    const outbound = records.filter((r) => r.direction === 'outbound');
    const inbound = records.filter((r) => r.direction === 'inbound');
    assert.equal(outbound.length, 2, JSON.stringify(records, null, 1));
    assert.equal(inbound.length, 2);
    // Where each went: the gateway to the sidecar's inbound port, the sidecar to the app.
    assert.ok(
      outbound.every(
        (r) => r.proxy === 'gateway' && r.upstreamHost === `127.0.0.1:${sidecar.inboundPort}`,
      ),
    );
    assert.ok(
      inbound.every(
        (r) => r.proxy === 'ratings-1.sidecar' && r.upstreamHost === `127.0.0.1:${app.port}`,
      ),
    );
    assert.ok(records.every((r) => typeof r.durationMs === 'number'));
  });

  it('taps by path prefix, and refuses a bad filter with a clear error', async () => {
    const tap = spawnWeft(cp.url, ['tap', 'ratings', '--path', '/slow', '--max', '1']);
    await tap.until('the tap to start', () => tap.stderr().includes('tapping 2 proxies'));
    await get(gateway.port, '/fast');
    await get(gateway.port, '/slow/1', { 'x-fake-delay': '20' });
    assert.equal(await tap.exited, 0);
    assert.equal(tap.lines.length, 1);
    assert.match(tap.lines[0]!, / GET shop\/slow\/1 200 - [\d.]+ms -> 127\.0\.0\.1:\d+/);

    const bad = await runWeft(cp.url, ['tap', 'ratings', '--status', '6xx']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /status filter "6xx" is not a status code \(503\) or class \(5xx\)/);
    const res = await fetch(`http://${gateway.adminAddress}/tap?status=6xx`);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-weft-error'), 'DPE');
    assert.equal(res.headers.get('x-weft-proxy'), 'gateway');
    assert.match(await res.text(), /WEFT_ERR_BAD_REQUEST\)\n$/);
    const missing = await fetch(`http://${gateway.adminAddress}/nothing`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /no admin endpoint at "\/nothing"/);
  });

  it('shows golden metrics per service and per route in weft top', async () => {
    const byService = spawnWeft(cp.url, ['top', '-o', 'json', '--interval', '300ms']);
    const byRoute = spawnWeft(cp.url, [
      'top',
      '--by',
      'route',
      '-o',
      'json',
      '--interval',
      '300ms',
    ]);
    try {
      await byService.until('the first sample', () =>
        byService.stderr().includes('sampling every'),
      );
      await byRoute.until('the first sample', () => byRoute.stderr().includes('sampling every'));
      for (let i = 0; i < 6; i++) await get(gateway.port, `/t/${i}`, { 'x-fake-delay': '30' });
      for (let i = 0; i < 2; i++) await get(gateway.port, `/t/f${i}`, { 'x-fake-status': '500' });
      type Row = { name: string; requests: number; failures: number; p50Ms: number | null };
      const total = (lines: string[], name: string) => {
        let requests = 0;
        let failures = 0;
        const p50s: number[] = [];
        for (const l of lines) {
          const row = (JSON.parse(l) as { rows: Row[] }).rows.find((r) => r.name === name);
          if (row === undefined) continue;
          requests += row.requests;
          failures += row.failures;
          if (row.p50Ms !== null) p50s.push(row.p50Ms);
        }
        return { requests, failures, p50s };
      };
      const service = 'ratings.default.svc.cluster.local';
      await byService.until(
        '8 requests counted',
        () => total(byService.lines, service).requests >= 8,
      );
      await byRoute.until(
        '8 requests counted',
        () => total(byRoute.lines, 'default/shop#0').requests >= 8,
      );
      const s = total(byService.lines, service);
      assert.equal(s.requests, 8);
      assert.equal(s.failures, 2);
      assert.ok(s.p50s.length > 0 && s.p50s.every((p) => p > 0));
      const r = total(byRoute.lines, 'default/shop#0');
      assert.equal(r.requests, 8);
      assert.equal(r.failures, 2);
    } finally {
      byService.child.kill('SIGTERM');
      byRoute.child.kill('SIGTERM');
      assert.equal(await byService.exited, 0);
      assert.equal(await byRoute.exited, 0);
    }
  });

  it('writes a JSON access log line per request, and the admin listener serves metrics', async () => {
    assert.equal(await get(gateway.port, '/logged', { 'x-request-id': 'req-logged' }), 200);
    const line = await until('the access log line', async () =>
      readFileSync(join(dir, 'access.log'), 'utf8')
        .split('\n')
        .find((l) => l.includes('req-logged')),
    );
    const rec = JSON.parse(line) as Record<string, unknown>;
    assert.equal(rec.path, '/logged');
    assert.equal(rec.response_code, 200);
    assert.equal(rec.upstream_host, `127.0.0.1:${sidecar.inboundPort}`);
    assert.equal(rec.upstream_cluster, 'outbound|||ratings.default.svc.cluster.local');
    assert.ok((rec.bytes_sent as number) > 0);
    const metrics = await (await fetch(`http://${sidecar.adminAddress}/stats/prometheus`)).text();
    assert.match(
      metrics,
      /^istio_requests_total\{reporter="destination",.*destination_workload="ratings-v1".*\} \d+$/m,
    );
    assert.match(metrics, /^weft_downstream_connections_active\{listener="inbound"\} \d+$/m);
    assert.match(metrics, /^weft_upstream_connections\{state="idle"\} \d+$/m);
    await assert.rejects(
      startGateway({
        control: cp.url,
        port: 0,
        accessLog: join(dir, 'x.log'),
        accessLogFormat: '%BOGUS%',
      }),
      /unknown access log operator %BOGUS%/,
    );
  });
});
