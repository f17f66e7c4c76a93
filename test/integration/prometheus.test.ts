// A real Prometheus scrapes the seed demo's proxies and control plane, found through the
// configuration `weft prometheus-config` prints (HTTP service discovery on the control
// plane). A known number of requests goes through the gateway, and Prometheus's HTTP API must
// count exactly those: the raw counters exactly, increase() within what its extrapolation can
// add, and histogram_quantile() as computed from the proxy's own buckets.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { bucketQuantile, startDemo, type RunningDemo } from '@weft/cli';
import {
  promtoolProblems,
  runWeft,
  startPrometheus,
  until,
  type RunningPrometheus,
} from './prometheus-support.js';

const N = 50;
const SRC =
  'reporter="source",source_workload="istio-ingressgateway",destination_service_name="user",destination_service_namespace="default"';
const DST = 'reporter="destination",destination_service_name="user",destination_app="user"';

interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One request through the gateway; resolves with its status and client-side latency. */
function get(port: number, path: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: 'my-service' }, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('Prometheus scraping the demo mesh', { timeout: 180_000 }, () => {
  let demo: RunningDemo;
  let prom: RunningPrometheus | undefined;
  let dir: string;
  let targets: TargetGroup[];

  const scalar = async (expr: string, time?: number): Promise<number | undefined> => {
    const r = await prom!.query(expr, time);
    return r.length === 0 ? undefined : Number(r[0]!.value[1]);
  };
  /** Resolves once Prometheus's latest sample of `expr` equals `want`. */
  const untilValue = (expr: string, want: number) =>
    until(`${expr} == ${want} in Prometheus`, async () =>
      (await scalar(expr)) === want ? true : undefined,
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-prometheus-'));
    demo = await startDemo({ port: 0, instancesPerService: 1, dataDir: join(dir, 'demo') });
    const cfg = await runWeft(demo.controlUrl, [
      'prometheus-config',
      '--scrape-interval',
      '1s',
      '--refresh',
      '1s',
    ]);
    assert.equal(cfg.code, 0, cfg.stderr);
    writeFileSync(join(dir, 'prometheus.yml'), cfg.stdout);
    // The demo's API is HTTPS with the mesh root (the CLI above found it through its context).
    targets = await demo.api.request<TargetGroup[]>('GET', '/v1/prometheus/targets');
    prom = await startPrometheus(join(dir, 'prometheus.yml'), dir);
  });

  after(async () => {
    agent.destroy();
    await prom?.stop();
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every proxy as a target, and promtool accepts every endpoint', async () => {
    // Gateway + one sidecar per service.
    assert.equal(targets.length, 4, JSON.stringify(targets));
    const endpoints = [
      ...targets.map((t) => `http://${t.targets[0]}${t.labels.__metrics_path__}`),
      `${demo.controlUrl}/metrics`,
    ];
    for (const url of endpoints) {
      const res = url.startsWith(demo.controlUrl)
        ? await demo.api.fetch(url.slice(demo.controlUrl.length))
        : await fetch(url);
      assert.equal(res.status, 200, url);
      const problems = await promtoolProblems(await res.text());
      assert.deepEqual(problems, [], `promtool check metrics on ${url}`);
    }
  });

  it('scrapes every proxy and the control plane', async () => {
    const up = await until('every target up', async () => {
      const r = await fetch(`${prom!.url}/api/v1/targets?state=active`);
      const body = (await r.json()) as {
        data: { activeTargets: { health: string; labels: Record<string, string> }[] };
      };
      const active = body.data.activeTargets;
      return active.length === targets.length + 1 && active.every((t) => t.health === 'up')
        ? active
        : undefined;
    });
    assert.deepEqual(
      up.map((t) => t.labels.job).sort(),
      ['weft-control-plane', ...targets.map(() => 'weft-proxies')].sort(),
    );
    await untilValue('sum(weft_control_plane_connected_proxies)', targets.length);
  });

  it('counts the requests sent, exactly in the raw counter and within extrapolation in increase()', async () => {
    // One request first, so the series exists and has been scraped before the measured ones:
    // increase() cannot see what a series counted before its first sample.
    const warm = await get(demo.gatewayPort, '/user');
    assert.equal(warm.status, 200);
    await untilValue(`sum(istio_requests_total{${SRC},response_code="200"})`, 1);
    await untilValue(`sum(istio_requests_total{${DST},response_code="200"})`, 1);
    // Two more scrapes of the warm-up value, so the window holds samples before the traffic.
    const t0 = await until('a first sample timestamp', () =>
      scalar(`max(timestamp(istio_requests_total{${SRC}}))`),
    );
    await until('two more scrapes', async () => {
      const t = await scalar(`max(timestamp(istio_requests_total{${SRC}}))`);
      return t !== undefined && t >= t0 + 1.5 ? true : undefined;
    });

    const latencies = [warm.ms];
    for (let i = 0; i < N; i++) {
      const r = await get(demo.gatewayPort, '/user');
      assert.equal(r.status, 200);
      latencies.push(r.ms);
    }

    // The raw counters, on both sides of the hop: exactly what was sent.
    await untilValue(`sum(istio_requests_total{${SRC},response_code="200"})`, N + 1);
    await untilValue(`sum(istio_requests_total{${DST},response_code="200"})`, N + 1);
    // The destination side knows its caller (peer metadata over mutual TLS), as in Istio.
    assert.equal(
      await scalar(
        `sum(istio_requests_total{${DST},source_workload="istio-ingressgateway",source_principal="spiffe://cluster.local/ns/default/sa/istio-ingressgateway",connection_security_policy="mutual_tls"})`,
      ),
      N + 1,
    );
    assert.equal(await scalar(`sum(istio_request_bytes_count{${SRC}})`), N + 1);
    assert.equal(await scalar(`sum(istio_response_bytes_count{${DST}})`), N + 1);
    assert.ok((await scalar(`sum(istio_response_bytes_sum{${SRC}})`))! > 0);

    // increase() evaluated at the last sample's timestamp: nothing is extrapolated at the
    // end, and at the start at most the span back to the counter's zero point, which for a
    // series at 1 that rose by N is 1/N of the sampled interval. So N <= increase <= N + 1.
    const last = (await scalar(`max(timestamp(istio_requests_total{${SRC}}))`))!;
    const inc = (await scalar(`sum(increase(istio_requests_total{${SRC}}[1m]))`, last))!;
    assert.ok(inc >= N - 1e-9 && inc <= N + 1 + 1e-9, `increase() = ${inc}, sent ${N}`);

    // The quantile Prometheus computes from the stored buckets is the one computed from the
    // gateway's own exposition (which no longer changes: no other traffic reaches it).
    const gateway = targets.find((t) => t.labels.weft_role === 'gateway')!;
    const json = (await (
      await fetch(
        `http://${gateway.targets[0]}/stats/json?name=istio_request_duration_milliseconds`,
      )
    ).json()) as {
      values: { metricName?: string; labels: Record<string, string | number>; value: number }[];
    }[];
    const buckets: [number, number][] = json[0]!.values
      .filter(
        (v) => v.metricName?.endsWith('_bucket') && v.labels.destination_service_name === 'user',
      )
      .map((v) => [v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value]);
    // The proxy measures a subset of what the client does: every bucket holds at least the
    // requests the client saw finish within its bound.
    for (const [le, count] of buckets) {
      const clientWithin = latencies.filter((ms) => ms <= le).length;
      assert.ok(count >= clientWithin, `bucket le=${le}: ${count} < ${clientWithin} client-side`);
    }
    assert.equal(buckets.find(([le]) => le === Infinity)?.[1], N + 1);
    for (const q of [0.5, 0.9, 0.99]) {
      const expected = bucketQuantile(q, buckets);
      const got = await scalar(
        `histogram_quantile(${q}, sum by (le) (istio_request_duration_milliseconds_bucket{${SRC}}))`,
      );
      assert.ok(expected !== null && got !== undefined);
      assert.ok(
        Math.abs(got - expected) < 1e-6,
        `p${q * 100}: Prometheus ${got}, expected ${expected}`,
      );
    }
    // Over the window, as dashboards ask it: a finite latency within the buckets' range.
    const p99 = await scalar(
      `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${SRC}}[1m])))`,
      last,
    );
    assert.ok(p99 !== undefined && p99 > 0 && p99 <= 3_600_000, `p99 over 1m: ${p99}`);
  });

  it('reports push latency and snapshot versions from the control plane and proxies', async () => {
    assert.ok((await scalar('sum(weft_control_plane_push_latency_seconds_count)'))! > 0);
    const cpVersion = await scalar('max(weft_control_plane_snapshot_version)');
    await until('every proxy on the control plane version', async () =>
      (await scalar(`count(weft_snapshot_version == ${cpVersion})`)) === targets.length
        ? true
        : undefined,
    );
  });
});
