// The seed's mesh for the chaos suite, as real processes on 127.0.0.1: a control plane on a
// fixed port (so it can be killed and started again where the proxies look for it), the
// gateway, three instances of `order` and one each of `user` and `stock`, every app started by
// its sidecar (`weft sidecar ... -- node examples/seed/service.mjs`) in its own process group.

import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
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
export const ORDER_IDS = ['order-1', 'order-2', 'order-3'];

/**
 * What a user would apply for a service that must stay up: retries on what is safe to repeat
 * (GETs; a POST route has none), a per-try timeout so a hung instance costs one try, a route
 * timeout, and outlier detection that ejects an instance after a few errors in a row.
 */
export const POLICY_YAML = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: my-service}
spec:
  hosts: [my-service]
  gateways: [my-gateway]
  http:
    - name: order-post
      match: [{uri: {prefix: /order}, method: {exact: POST}}]
      route: [{destination: {host: order}}]
      timeout: 5s
      retries: {attempts: 0}
    - name: order
      match: [{uri: {prefix: /order}}]
      route: [{destination: {host: order}}]
      timeout: 15s
      retries:
        attempts: 3
        perTryTimeout: 3s
        retryOn: 5xx,reset,connect-failure,refused-stream,gateway-error
    - match: [{uri: {prefix: /user}}]
      route: [{destination: {host: user}}]
    - match: [{uri: {prefix: /stock}}]
      route: [{destination: {host: stock}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: order}
spec:
  host: order
  trafficPolicy:
    # A fresh instance starts cold (its JIT, its pools): it gets a growing share over 10 s.
    loadBalancer: {warmupDurationSecs: 10s}
    outlierDetection:
      consecutive5xxErrors: 3
      consecutiveGatewayErrors: 3
      interval: 1s
      baseEjectionTime: 10s
      # Never more than one of the three out at once.
      maxEjectionPercent: 33
`;

/**
 * The per-try timeout and outlier-detection interval above: the hung-instance target. The
 * per-try timeout is the one that notices a hung instance (the route timeout bounds the whole
 * request with its retries).
 */
export const PER_TRY_TIMEOUT_MS = 3_000;
export const OUTLIER_INTERVAL_MS = 1_000;

export interface MeshInstance {
  id: string;
  service: string;
  appPort: number;
  p: WeftProcess;
}

export class ChaosMesh {
  control!: WeftProcess;
  controlUrl = '';
  controlPort = 0;
  gateway!: WeftProcess;
  gatewayPort = 0;
  readonly instances = new Map<string, MeshInstance>();
  readonly dataDir = mkdtempSync(join(tmpdir(), 'weft-chaos-'));
  readonly logDir = join(this.dataDir, 'logs');
  private readonly all: WeftProcess[] = [];

  async start(): Promise<void> {
    mkdirSync(this.logDir, { recursive: true });
    this.controlPort = await freePort();
    this.controlUrl = `http://127.0.0.1:${this.controlPort}`;
    await this.startControl();
    for (const file of [join(SEED, 'virtual-service.yaml')])
      await this.apply(file, readFileSync(file, 'utf8'));
    await this.apply('chaos-policy.yaml', POLICY_YAML);
    this.gateway = this.track(
      startWeft(
        'gateway',
        ['--control', this.controlUrl, 'gateway', '--port', '0', '--id', 'gateway'],
        {
          logFile: join(this.logDir, 'gateway.log'),
          env: { WEFT_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn' },
        },
      ),
    );
    const ready = await this.gateway.event((e) => e.event === 'ready');
    this.gatewayPort = Number(ready.port);
    await Promise.all([
      this.startInstance('user', 'user-1'),
      this.startInstance('stock', 'stock-1'),
      ...ORDER_IDS.map((id) => this.startInstance('order', id)),
    ]);
    // Eight processes start at once here (apps, sidecars, first health checks): on a loaded
    // 2-core machine that took close to 30 s once, so the first settle gets a longer bound.
    await this.settled(60_000);
  }

  async startControl(): Promise<void> {
    this.control = this.track(
      startWeft(
        'control',
        [
          'control',
          '--insecure',
          '--port',
          String(this.controlPort),
          '--data-dir',
          join(this.dataDir, 'store'),
        ],
        {
          logFile: join(this.logDir, 'control.log'),
          env: { WEFT_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn' },
        },
      ),
    );
    await this.control.event((e) => e.event === 'ready');
  }

  async apply(path: string, content: string): Promise<void> {
    await getJson(`${this.controlUrl}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path, content }] }),
    });
  }

  /** Starts (or starts again) an instance: its sidecar, which starts the app. */
  async startInstance(service: string, id: string): Promise<MeshInstance> {
    const appPort = await freePort();
    const p = this.track(
      startWeft(
        id,
        [
          '--control',
          this.controlUrl,
          'sidecar',
          '--service',
          service,
          '--id',
          id,
          '--app-port',
          String(appPort),
          '--label',
          'version=v1',
          '--ttl',
          '5',
          '--health-path',
          '/healthz',
          '--health-interval',
          '1s',
          '--health-timeout',
          '1s',
          '--unhealthy-threshold',
          '3',
          '--drain-timeout',
          '5s',
          '--app-stop-grace',
          '5s',
          // CHAOS_ACCESS_LOGS=1: one access-log file per instance beside the logs (debugging).
          ...(process.env.CHAOS_ACCESS_LOGS === '1'
            ? ['--access-log', join(this.logDir, `${id}.access.log`)]
            : []),
          '--',
          process.execPath,
          join(SEED, 'service.mjs'),
        ],
        {
          env: {
            SERVICE: service,
            INSTANCE: id,
            VERSION: 'v1',
            CALLS: service === 'order' ? 'user,stock' : '',
            SEED_ADMIN: '1',
            WEFT_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
          },
          logFile: join(this.logDir, `${id}.log`),
        },
      ),
    );
    await p.event((e) => e.event === 'registered', 30_000);
    const inst = { id, service, appPort, p };
    this.instances.set(id, inst);
    return inst;
  }

  instance(id: string): MeshInstance {
    const i = this.instances.get(id);
    if (!i) throw new Error(`no instance ${id}`);
    return i;
  }

  /** Calls a fault hook of the seed app (SEED_ADMIN=1), on the app's own port. */
  async fault(id: string, path: string): Promise<void> {
    await getJson(`http://127.0.0.1:${this.instance(id).appPort}${path}`, { method: 'POST' });
  }

  async registry(): Promise<Instance[]> {
    return (await getJson<{ items: Instance[] }>(`${this.controlUrl}/v1/instances`)).items;
  }

  /** Until all five instances are registered and healthy and every proxy runs the latest snapshot. */
  async settled(timeoutMs = 30_000): Promise<void> {
    const want = this.instances.size;
    await until(
      'the mesh to settle (every instance healthy, every proxy on the latest snapshot)',
      async () => {
        const inst = await this.registry();
        if (inst.filter((i) => i.healthy).length < want) return undefined;
        const st = await getJson<{ version?: number; items: { ackedVersion?: number }[] }>(
          `${this.controlUrl}/v1/proxies`,
        );
        const synced =
          st.items.length === want + 1 && st.items.every((i) => i.ackedVersion === st.version);
        return synced ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }

  private track(p: WeftProcess): WeftProcess {
    this.all.push(p);
    return p;
  }

  async stop(): Promise<void> {
    // Sidecars first, gracefully where they still run; whatever is left is killed.
    const live = (p: WeftProcess) => p.child.exitCode === null && p.child.signalCode === null;
    const sidecars = this.all.filter((p) => p !== this.control && p !== this.gateway && live(p));
    for (const p of sidecars) p.signalGroup('SIGCONT');
    await Promise.all(
      sidecars.map(async (p) => {
        p.child.kill('SIGTERM');
        const t = setTimeout(() => p.signalGroup('SIGKILL'), 15_000);
        await p.exited;
        clearTimeout(t);
      }),
    );
    await Promise.all(this.all.map(killGroup));
  }
}
