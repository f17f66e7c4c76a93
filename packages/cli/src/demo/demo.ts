// `weft demo`: the seed's mesh on one machine. A control plane, a gateway, and the three
// services user, order and stock with two instances each, every instance behind its own
// sidecar; order calls user and stock through its sidecar. All are real processes.
//
// Locked and encrypted by default, as issue 7 asks: the control plane serves HTTPS and wants
// tokens; each service's sidecars get a bootstrap token for that service only, the gateway its
// own; a mesh-wide PeerAuthentication STRICT makes every sidecar accept mTLS only. The control
// plane writes a CLI context (~/.weft, or $WEFT_HOME) so `weft get ...` finds it with no flags.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createApi, type Api } from '../api-client.js';
import { freePort, spawnReady, stopChild, type Child } from './processes.js';

const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
export const SEED_DIR = fileURLToPath(new URL('../../../../examples/seed/', import.meta.url));

export const SEED_SERVICES = [
  { service: 'user', calls: [] as string[] },
  { service: 'stock', calls: [] as string[] },
  { service: 'order', calls: ['user', 'stock'] },
];

export interface DemoOptions {
  port: number;
  host?: string;
  dataDir?: string;
  /** The control plane's store URL (`weft control --store`); default: embedded in dataDir. */
  store?: string;
  /** With an etcd store: where Weft's keys live in etcd. */
  etcdPrefix?: string;
  instancesPerService?: number;
  /** One JSON access-log line per request in <dataDir>/logs/<proxy>.access.log; default on. */
  accessLog?: boolean;
  say?: (line: string) => void;
  /** Every proxy of the demo sends spans to this OTLP/HTTP collector (`--otlp-endpoint`). */
  tracing?: { otlpEndpoint: string; samplingPercent?: number };
  /** Who may read the control plane (`weft control --reads`); default: open on loopback. */
  reads?: 'open' | 'token';
}

/** The gateway's mesh identity (its bootstrap token's service), as Istio names it. */
const GATEWAY_IDENTITY = 'istio-ingressgateway';

export interface DemoProcess {
  name: string;
  role: 'control' | 'gateway' | 'sidecar' | 'app';
  pid: number;
  service?: string;
  instance?: string;
}

export interface RunningDemo {
  /** https://...: the API is locked (TLS with the mesh root, tokens). */
  controlUrl: string;
  /** The mesh root (PEM file) and the admin token file the control plane wrote. */
  caFile: string;
  adminTokenFile: string;
  /** The API with the admin credentials (tests configure the demo through it). */
  api: Api;
  gatewayPort: number;
  dataDir: string;
  processes: DemoProcess[];
  /** The child process handle for a name in `processes` (tests kill them). */
  child(name: string): Child | undefined;
  stop(): Promise<void>;
}

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const say = opts.say ?? (() => undefined);
  const host = opts.host ?? '127.0.0.1';
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'weft-demo-'));
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const children: {
    child: Child;
    role: DemoProcess['role'];
    service?: string;
    instance?: string;
  }[] = [];
  const node = process.execPath;
  const tracingArgs =
    opts.tracing === undefined
      ? []
      : [
          '--otlp-endpoint',
          opts.tracing.otlpEndpoint,
          ...(opts.tracing.samplingPercent !== undefined
            ? ['--trace-sampling', String(opts.tracing.samplingPercent)]
            : []),
        ];
  const weft = (name: string, args: string[]) =>
    spawnReady(name, node, [WEFT_BIN, ...args], {
      logFile: join(logDir, `${name}.log`),
      env: { WEFT_LOG_LEVEL: process.env.WEFT_LOG_LEVEL ?? 'info' },
    });

  const accessLog = (name: string) =>
    opts.accessLog === false ? [] : ['--access-log', join(logDir, `${name}.access.log`)];

  const stop = async () => {
    // Apps and sidecars first, so sidecars deregister while the control plane still answers.
    const order = [...children].reverse();
    await Promise.all(order.filter((c) => c.role === 'app').map((c) => stopChild(c.child.child)));
    await Promise.all(
      order.filter((c) => c.role === 'sidecar').map((c) => stopChild(c.child.child)),
    );
    await Promise.all(
      order.filter((c) => c.role === 'gateway').map((c) => stopChild(c.child.child)),
    );
    await Promise.all(
      order.filter((c) => c.role === 'control').map((c) => stopChild(c.child.child)),
    );
  };

  try {
    const control = await weft('control', [
      'control',
      '--host',
      host,
      '--port',
      '0',
      '--data-dir',
      join(dataDir, 'store'),
      ...(opts.store ? ['--store', opts.store] : []),
      ...(opts.etcdPrefix ? ['--etcd-prefix', opts.etcdPrefix] : []),
      ...(opts.reads ? ['--reads', opts.reads] : []),
    ]);
    children.push({ child: control, role: 'control' });
    const controlUrl = String(control.ready.url);
    const caFile = String(control.ready.caFile);
    const adminTokenFile = String(control.ready.adminTokenFile);
    say(`control plane   ${controlUrl}   (pid ${control.pid}; locked: HTTPS + tokens)`);

    const api = createApi(controlUrl, {
      ca: readFileSync(caFile, 'utf8'),
      token: readFileSync(adminTokenFile, 'utf8').trim(),
    });
    const files = ['virtual-service.yaml', 'mtls-strict.yaml'].map((f) => join(SEED_DIR, f));
    await api.request('POST', '/v1/apply', {
      files: files.map((f) => ({ path: f, content: readFileSync(f, 'utf8') })),
    });
    for (const f of files) say(`applied         ${f}`);

    // One bootstrap token per service (its sidecars may act as that service only) and one for
    // the gateway, each in a 0600 file the proxy reads, as a mounted secret would be.
    const tokenDir = join(dataDir, 'tokens');
    mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
    const tokenFile = async (service: string): Promise<string> => {
      const made = await api.request<{ token: string }>('POST', '/v1/tokens', {
        kind: 'bootstrap',
        service,
        description: `weft demo: ${service}`,
      });
      const f = join(tokenDir, `${service}.token`);
      writeFileSync(f, `${made.token}\n`, { mode: 0o600 });
      return f;
    };
    const credentials = async (service: string) => [
      '--ca',
      caFile,
      '--token-file',
      await tokenFile(service),
    ];

    const gateway = await weft('gateway', [
      'gateway',
      '--control',
      controlUrl,
      ...(await credentials(GATEWAY_IDENTITY)),
      '--host',
      host,
      '--port',
      String(opts.port),
      '--id',
      'gateway',
      ...tracingArgs,
      ...accessLog('gateway'),
    ]);
    children.push({ child: gateway, role: 'gateway' });
    const gatewayPort = Number(gateway.ready.port);
    say(`gateway         http://${host}:${gatewayPort}   (pid ${gateway.pid})`);

    const n = opts.instancesPerService ?? 2;
    for (const { service, calls } of SEED_SERVICES) {
      const serviceCredentials = await credentials(service);
      for (let i = 1; i <= n; i++) {
        const instance = `${service}-${i}`;
        const version = `v${i}`;
        const appPort = await freePort(host);
        const sidecar = await weft(`${instance}.sidecar`, [
          'sidecar',
          '--control',
          controlUrl,
          ...serviceCredentials,
          '--service',
          service,
          '--id',
          instance,
          '--app-port',
          String(appPort),
          '--host',
          host,
          '--label',
          `version=${version}`,
          '--ttl',
          '5',
          '--health-interval',
          '500ms',
          ...tracingArgs,
          ...accessLog(`${instance}.sidecar`),
        ]);
        children.push({ child: sidecar, role: 'sidecar', service, instance });
        const app = await spawnReady(instance, node, [join(SEED_DIR, 'service.mjs')], {
          logFile: join(logDir, `${instance}.log`),
          env: {
            SERVICE: service,
            INSTANCE: instance,
            VERSION: version,
            PORT: String(appPort),
            CALLS: calls.join(','),
            WEFT_OUTBOUND: `http://${host}:${String(sidecar.ready.outboundPort)}`,
          },
        });
        children.push({ child: app, role: 'app', service, instance });
        say(
          `${instance.padEnd(15)} app :${appPort} (pid ${app.pid}), sidecar in :${String(sidecar.ready.inboundPort)} out :${String(sidecar.ready.outboundPort)} (pid ${sidecar.pid})`,
        );
      }
    }
    await waitForMesh(api, SEED_SERVICES.length * n);
    return {
      controlUrl,
      caFile,
      adminTokenFile,
      api,
      gatewayPort,
      dataDir,
      processes: children.map((c) => ({
        name: c.child.name,
        role: c.role,
        pid: c.child.pid,
        ...(c.service ? { service: c.service } : {}),
        ...(c.instance ? { instance: c.instance } : {}),
      })),
      child: (name) => children.find((c) => c.child.name === name)?.child,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Until every instance is registered and every proxy runs the latest snapshot. */
async function waitForMesh(api: Api, instances: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [inst, proxies] = await Promise.all([
      api.request<{ items: unknown[] }>('GET', '/v1/instances'),
      api.request<{ version?: number; items: { ackedVersion?: number }[] }>('GET', '/v1/proxies'),
    ]);
    const synced =
      proxies.items.length > 0 && proxies.items.every((p) => p.ackedVersion === proxies.version);
    if (inst.items.length >= instances && synced) return;
    if (Date.now() > deadline)
      throw new Error(
        `the mesh did not settle: ${inst.items.length}/${instances} instances registered, proxies ${synced ? 'synced' : 'not synced'}`,
      );
    // The API has no push channel for "everything settled"; a short poll keeps this simple.
    await new Promise((r) => setTimeout(r, 100));
  }
}
