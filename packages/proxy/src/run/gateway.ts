// `weft gateway`: the edge proxy. It serves every Gateway resource whose selector its labels
// satisfy (Istio's default gateway labels are istio=ingressgateway), routing by the
// VirtualServices bound to those Gateways.

import type { ProxyNode } from '@weft/model';
import { connectSnapshotStream } from '../client/stream.js';
import { createDataPlane } from '../data-plane.js';
import { listen } from '../server/listen.js';
import { createLog } from './log.js';

export interface GatewayOptions {
  control: string;
  host?: string;
  port?: number;
  id?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export interface RunningGateway {
  port: number;
  id: string;
  /** Resolves once the first snapshot is live. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const id = opts.id ?? `gateway-${process.pid}`;
  const log = createLog(id);
  const node: ProxyNode = {
    id,
    role: 'gateway',
    namespace: opts.namespace ?? 'default',
    labels: opts.labels ?? { istio: 'ingressgateway' },
  };
  const dp = createDataPlane({ node, log });
  const listener = await listen(dp.gatewayHandler(), {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 8080,
  });
  const stream = connectSnapshotStream({
    control: opts.control,
    node,
    apply: (s) => dp.apply(s),
    version: () => dp.version(),
    log,
  });
  log('info', 'gateway listening', { port: listener.port });
  return {
    port: listener.port,
    id,
    ready: stream.ready,
    async close() {
      stream.close();
      await listener.close();
      await dp.close();
    },
  };
}
