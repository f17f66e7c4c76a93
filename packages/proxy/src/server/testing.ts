// Test harness for the proxy's integration tests: snapshot builders and a proxy on
// 127.0.0.1 port 0 with a client that reports status, headers and body. Not exported by
// the package; tests import it directly.

import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type {
  Cluster,
  LbPolicy,
  MatchBlock,
  ProxyNode,
  Route,
  RouteAction,
  Snapshot,
  VirtualHost,
} from '@weft/model';
import { createDataPlane, type DataPlane, type DataPlaneOptions } from '../data-plane.js';
import { listen, type Listener } from './listen.js';

export const gatewayNode: ProxyNode = {
  id: 'gateway-1',
  role: 'gateway',
  namespace: 'istio-system',
  labels: { istio: 'ingressgateway' },
};

export const sidecarNode: ProxyNode = {
  id: 'app-1.sidecar',
  role: 'sidecar',
  namespace: 'default',
  labels: { app: 'app' },
  service: 'app',
};

export function cluster(
  name: string,
  endpoints: ReadonlyArray<{ port: number; address?: string; weight?: number; healthy?: boolean }>,
  lb: LbPolicy = 'ROUND_ROBIN',
): Cluster {
  return {
    name,
    service: `${name}.default.svc.cluster.local`,
    lb,
    endpoints: endpoints.map((e, i) => ({
      id: `${name}-${i + 1}`,
      address: e.address ?? '127.0.0.1',
      port: e.port,
      labels: {},
      healthy: e.healthy ?? true,
      weight: e.weight ?? 1,
    })),
  };
}

export function forwardTo(
  id: string,
  matches: MatchBlock[],
  destinations: Array<[cluster: string, weight: number]>,
  extra: Partial<Omit<RouteAction, 'type' | 'destinations'>> & Pick<Route, 'headers'> = {},
): Route {
  const { headers, ...action } = extra;
  return {
    id,
    matches,
    ...(headers ? { headers } : {}),
    action: {
      type: 'route',
      destinations: destinations.map(([c, weight]) => ({ cluster: c, weight, host: c })),
      ...action,
    },
  };
}

export function vhost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes };
}

/** A snapshot serving the same virtual hosts to the gateway (selector istio=ingressgateway) and to sidecars. */
export function snapshot(version: number, vhosts: VirtualHost[], clusters: Cluster[]): Snapshot {
  return {
    version,
    clusters,
    mesh: { virtualHosts: vhosts },
    gateways: [
      {
        name: 'istio-system/test-gateway',
        selector: { istio: 'ingressgateway' },
        servers: [{ port: { number: 80, protocol: 'HTTP' }, hosts: ['*'] }],
        virtualHosts: vhosts,
      },
    ],
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export interface SendOptions {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string> | string[];
  body?: string | Buffer;
}

export interface ProxyHarness {
  dp: DataPlane;
  listener: Listener;
  port: number;
  agent: Agent;
  send(opts?: SendOptions): Promise<Reply>;
  close(): Promise<void>;
}

export async function startProxy(
  kind: 'gateway' | 'outbound',
  snap: Snapshot | undefined,
  opts: Partial<DataPlaneOptions> = {},
): Promise<ProxyHarness> {
  const node = kind === 'gateway' ? gatewayNode : sidecarNode;
  const dp = createDataPlane({ node, ...opts });
  if (snap) dp.apply(snap);
  const handler = kind === 'gateway' ? dp.gatewayHandler() : dp.outboundHandler();
  const listener = await listen(handler, { proxyId: node.id, closeGraceMs: 200 });
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  return {
    dp,
    listener,
    port: listener.port,
    agent,
    send: (o = {}) => send(listener.port, agent, o),
    async close() {
      agent.destroy();
      await listener.close();
      await dp.close();
    },
  };
}

export function send(port: number, agent: Agent | undefined, o: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> | string[] = Array.isArray(o.headers)
      ? ['Host', o.host ?? 'app', ...o.headers]
      : { host: o.host ?? 'app', ...o.headers };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'GET',
        path: o.path ?? '/',
        headers,
        ...(agent ? { agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json<T>() {
              return JSON.parse(body) as T;
            },
          });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}
