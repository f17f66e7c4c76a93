// A gateway's view of one service with one endpoint, and a request to it: what the metrics
// benches (metrics-record.mjs, metrics-read-cost.mjs) record, without a data plane.

export const CLUSTER = 'outbound|||user.default.svc.cluster.local';

/** Only what the metrics read of a route table: its version and clusters' endpoint labels. */
export const table = {
  version: 1,
  clusters: new Map([
    [
      CLUSTER,
      {
        name: CLUSTER,
        service: 'user.default.svc.cluster.local',
        endpoints: [
          {
            key: '10.0.0.1:80',
            labels: { app: 'user', version: 'v1' },
            outlier: { ejectedUntil: 0 },
          },
        ],
      },
    ],
  ]),
};

export const node = {
  id: 'gw',
  role: 'gateway',
  namespace: 'default',
  labels: { istio: 'ingressgateway' },
};

/** A finished request of `node` through `table` (a request-end event). */
export const event = {
  proxyId: 'gw',
  kind: 'gateway',
  method: 'GET',
  authority: 'shop',
  path: '/',
  routeId: 'default/shop#0',
  cluster: CLUSTER,
  endpoint: '10.0.0.1:80',
  status: 200,
  flag: undefined,
  durationMs: 0,
  attempts: 1,
  requestId: undefined,
  requestBytes: 120,
  responseBytes: 900,
};
