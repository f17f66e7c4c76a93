import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cluster, Route, Snapshot, VirtualHost } from '@weft/model';
import { compileSnapshot } from '../compile/compile-snapshot.js';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { compileMatchBlock, findMatchingBlock } from '../routing/match-block.js';
import { explainRequest, nodeFor, requestViewOf, type ExplainInput } from './explain.js';
import { compactExplain, formatExplain } from './format.js';
import { whyBlockFails } from './why-not.js';

const fqdn = (s: string) => `${s}.default.svc.cluster.local`;
const to = (host: string, subset?: string): Route['action'] => ({
  type: 'route',
  destinations: [
    {
      cluster: `outbound||${subset ?? ''}|${fqdn(host)}`,
      weight: 1,
      host: fqdn(host),
      ...(subset ? { subset } : {}),
    },
  ],
});

const shop: VirtualHost = {
  name: 'default/shop',
  domains: ['shop.example.com'],
  routes: [
    {
      id: 'default/shop#0',
      name: 'users',
      matches: [{ uri: { prefix: '/user' } }, { headers: { 'end-user': { exact: 'jason' } } }],
      action: to('user'),
    },
    {
      id: 'default/shop#1',
      matches: [{ uri: { exact: '/order' }, method: { exact: 'POST' } }],
      action: { ...to('order', 'v2'), timeoutMs: 1500 } as Route['action'],
    },
    {
      id: 'default/shop#2',
      matches: [{ uri: { regex: '/stock/[0-9]+' }, queryParams: { v: { exact: '1' } } }],
      action: to('stock'),
      fault: { abort: { httpStatus: 503, percent: 10 } },
    },
    {
      id: 'default/shop#3',
      matches: [{ withoutHeaders: { 'x-debug': { present: true } }, port: 8080 }],
      action: { type: 'direct', status: 200, body: 'hello' },
    },
    {
      id: 'default/shop#4',
      matches: [],
      action: { type: 'redirect', code: 301, uri: '/home' },
    },
  ],
};

const ep = (id: string, port: number, healthy = true) => ({
  id,
  address: '127.0.0.1',
  port,
  labels: {},
  healthy,
  weight: 1,
});

const clusters: Cluster[] = [
  {
    name: `outbound|||${fqdn('user')}`,
    service: fqdn('user'),
    lb: 'ROUND_ROBIN',
    endpoints: [ep('user-1', 9001), ep('user-2', 9002, false)],
  },
  {
    name: `outbound|||${fqdn('order')}`,
    service: fqdn('order'),
    lb: 'ROUND_ROBIN',
    endpoints: [ep('order-1', 9101)],
  },
  {
    name: `outbound|||${fqdn('stock')}`,
    service: fqdn('stock'),
    lb: 'RANDOM',
    endpoints: [ep('stock-1', 9201, false)],
  },
];

const snapshot: Snapshot = {
  version: 42,
  gateways: [
    {
      name: 'default/shop-gateway',
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: 80, protocol: 'HTTP' }, hosts: ['*'] }],
      virtualHosts: [shop],
    },
  ],
  mesh: {
    virtualHosts: [
      {
        name: `default|${fqdn('user')}`,
        domains: ['user', fqdn('user')],
        routes: [{ id: 'default', matches: [], action: to('user') }],
      },
    ],
  },
  clusters,
};

const gatewayView = { view: { kind: 'gateway' as const } };
const ask = (input: ExplainInput) => explainRequest(snapshot, input, gatewayView);

describe('explain', () => {
  it('picks the route the compiled table picks, for every request', () => {
    const table = compileSnapshot(snapshot, {
      node: nodeFor(snapshot, { kind: 'gateway' }),
      health: createHealthTracker(),
    });
    const requests: ExplainInput[] = [
      { method: 'GET', url: 'http://shop.example.com/user/1' },
      { method: 'GET', url: 'http://shop.example.com/other', headers: { 'End-User': 'jason' } },
      { method: 'POST', url: 'http://shop.example.com/order' },
      { method: 'GET', url: 'http://shop.example.com/order' },
      { method: 'GET', url: 'http://shop.example.com/stock/12?v=1' },
      { method: 'GET', url: 'http://shop.example.com/stock/12?v=2' },
      { method: 'GET', url: 'http://shop.example.com:8080/anything' },
      { method: 'GET', url: 'http://shop.example.com:8080/x', headers: { 'x-debug': '' } },
      { method: 'GET', url: 'http://shop.example.com/' },
      { method: 'GET', url: 'http://nope.example.com/' },
    ];
    for (const input of requests) {
      const trace = ask(input);
      const { view } = requestViewOf(input, true);
      const vhost = table.gateway.lookup(view.authority);
      const real = vhost?.routes.find((r) => findMatchingBlock(r.blocks, view) >= 0);
      const picked = trace.matched !== undefined ? trace.routes[trace.matched]?.id : undefined;
      assert.equal(picked, real?.id, `${input.method} ${input.url}`);
      // Every route tried before the match says why it failed, one reason at least.
      for (const rt of trace.routes.filter((r) => !r.matched))
        assert.ok(rt.failures.length > 0, `${rt.id} for ${input.url}`);
      // And the field-by-field reasons agree with the compiled matcher on every block.
      for (const route of shop.routes)
        route.matches.forEach((b, i) =>
          assert.equal(
            whyBlockFails(b, i, view).length === 0,
            compileMatchBlock(b).matches(view),
            `${route.id} match[${i}] for ${input.url}`,
          ),
        );
    }
  });

  it('names the field of each block that failed', () => {
    const t = ask({ method: 'GET', url: 'http://shop.example.com/stock/12?v=2' });
    assert.deepEqual(t.routes[0]?.failures, [
      'match[0].uri: prefix "/user" does not match "/stock/12"',
      'match[1].headers.end-user: missing',
    ]);
    assert.deepEqual(t.routes[1]?.failures, [
      'match[0].uri: exact "/order" does not match "/stock/12"',
      'match[0].method: exact "POST" does not match "GET"',
    ]);
    assert.deepEqual(t.routes[2]?.failures, [
      'match[0].queryParams.v: exact "1" does not match "2"',
    ]);
    assert.deepEqual(t.routes[3]?.failures, ["match[0].port: 8080 is not the request's port 80"]);
    assert.equal(t.routes[4]?.matched, true);
    assert.deepEqual(t.action, {
      type: 'redirect',
      code: 301,
      location: 'http://shop.example.com/home?v=2',
    });
    const d = ask({
      method: 'GET',
      url: 'http://shop.example.com:8080/x',
      headers: { 'x-debug': '1', 'end-user': 'bob' },
    });
    assert.deepEqual(d.routes[0]?.failures, [
      'match[0].uri: prefix "/user" does not match "/x"',
      'match[1].headers.end-user: exact "jason" does not match "bob"',
    ]);
    assert.deepEqual(d.routes[3]?.failures, [
      'match[0].withoutHeaders.x-debug: present ("1") but must be absent',
    ]);
  });

  it('shows destinations, endpoints, lb, timeout, retries and fault', () => {
    const t = ask({ method: 'GET', url: 'http://shop.example.com/user/1' });
    assert.equal(t.virtualHost?.name, 'default/shop');
    assert.equal(t.routes.length, 1);
    assert.deepEqual(t.routes[0]?.virtualService, { namespace: 'default', name: 'shop', http: 0 });
    assert.equal(t.routes[0]?.name, 'users');
    assert.equal(t.action?.type, 'route');
    if (t.action?.type !== 'route') return;
    const d = t.action.destinations[0]!;
    assert.equal(d.cluster, `outbound|||${fqdn('user')}`);
    assert.deepEqual(d.lb, { policy: 'ROUND_ROBIN', algorithm: d.lb?.algorithm });
    assert.deepEqual(
      d.endpoints.map((e) => `${e.id} ${e.healthy}`),
      ['user-1 true', 'user-2 false'],
    );
    assert.equal(d.eligible, 1);
    assert.equal(t.action.retries.isDefault, true);
    assert.equal(t.action.retries.attempts, 2);
    assert.equal(t.outcome.kind, 'forward');

    const order = ask({ method: 'POST', url: 'http://shop.example.com/order' });
    assert.equal(order.action?.type === 'route' && order.action.timeoutMs, 1500);
    assert.equal(order.action?.type === 'route' && order.action.destinations[0]?.subset, 'v2');
    assert.deepEqual([order.outcome.status, order.outcome.flag], [503, 'NC']);

    const stock = ask({ method: 'GET', url: 'http://shop.example.com/stock/1?v=1' });
    assert.deepEqual([stock.outcome.status, stock.outcome.flag], [503, 'UH']);
    assert.deepEqual(stock.action?.type === 'route' && stock.action.fault, {
      abort: { httpStatus: 503, percent: 10 },
    });
    assert.match(stock.outcome.message, /fault injection aborts 10% with 503/);
  });

  it('answers NR for an unknown host, explains the sidecar view, and refuses unknown gateways', () => {
    const nr = ask({ method: 'GET', url: '/x', headers: { host: 'nope' } });
    assert.deepEqual([nr.outcome.status, nr.outcome.flag], [404, 'NR']);
    assert.equal(nr.routes.length, 0);
    const side = explainRequest(
      snapshot,
      { method: 'GET', url: 'http://user:8000/user/7' },
      { view: { kind: 'sidecar', from: 'order' } },
    );
    assert.equal(side.listener, 'sidecar-outbound');
    assert.equal(side.from, 'order');
    assert.equal(side.routes[0]?.id, 'default');
    assert.deepEqual(side.routes[0]?.conditions, ['any request']);
    assert.throws(
      () =>
        explainRequest(
          snapshot,
          { method: 'GET', url: 'http://a/' },
          { view: { kind: 'gateway', gateway: 'other' } },
        ),
      /no Gateway "other".*default\/shop-gateway/,
    );
    const named = explainRequest(
      snapshot,
      { method: 'GET', url: 'http://shop.example.com/user' },
      { view: { kind: 'gateway', gateway: 'shop-gateway' } },
    );
    assert.deepEqual(named.gateways, ['default/shop-gateway']);
  });

  it('leaves out blocks whose sourceLabels do not select the proxy, and says so', () => {
    // The order service's instances all have team=a; v1 and v2 differ.
    const orderEps = [
      { ...ep('order-1', 9101), labels: { app: 'order', team: 'a', version: 'v1' } },
      { ...ep('order-2', 9102), labels: { app: 'order', team: 'a', version: 'v2' } },
    ];
    const s: Snapshot = {
      ...snapshot,
      clusters: clusters.map((c) =>
        c.service === fqdn('order') ? { ...c, endpoints: orderEps } : c,
      ),
      mesh: {
        virtualHosts: [
          {
            name: 'default/user',
            domains: ['user', fqdn('user')],
            routes: [
              {
                id: 'default/user#0',
                matches: [
                  { uri: { prefix: '/a' } },
                  { sourceLabels: { version: 'v2' }, uri: { prefix: '/' } },
                ],
                action: to('user', 'canary'),
              },
              {
                id: 'default/user#1',
                matches: [{ sourceLabels: { team: 'b' } }],
                action: to('stock'),
              },
              { id: 'default/user#2', matches: [], action: to('user') },
            ],
          },
        ],
      },
    };
    const from = (labels?: Record<string, string>) =>
      explainRequest(
        s,
        { method: 'GET', url: 'http://user/x' },
        { view: { kind: 'sidecar', from: 'order', ...(labels ? { labels } : {}) } },
      );
    // As any order instance (app=order, team=a): both sourceLabels blocks are someone else's.
    const v1 = from();
    assert.equal(v1.matched, 2);
    assert.deepEqual(v1.routes[0]?.failures, [
      'match[0].uri: prefix "/a" does not match "/x"',
      'match[1].sourceLabels: {version=v2} do not select this proxy (its labels: {app=order, team=a})',
    ]);
    assert.deepEqual(v1.routes[0]?.conditions, [
      'uri prefix "/a"',
      'uri prefix "/", sourceLabels {version=v2}',
    ]);
    assert.deepEqual(v1.routes[1]?.failures, [
      'match[0].sourceLabels: {team=b} do not select this proxy (its labels: {app=order, team=a})',
    ]);
    // As a v2 instance: the second block is there, and it is the one that matched.
    const v2 = from({ version: 'v2' });
    assert.equal(v2.matched, 0);
    assert.equal(v2.routes[0]?.block, 1);
    // The compiled table itself: a route with no block for this proxy never matches.
    const table = compileSnapshot(s, {
      node: nodeFor(s, { kind: 'sidecar', from: 'order' }),
      health: createHealthTracker(),
    });
    const routes = table.mesh.lookup('user')!.routes;
    assert.equal(routes[0]?.blocks.length, 1);
    assert.equal(routes[1]?.blocks.length, 0);
  });

  it('renders text and a one-line header form', () => {
    const t = ask({ method: 'GET', url: 'http://shop.example.com/stock/12?v=2' });
    const line = compactExplain(t);
    assert.doesNotMatch(line, /[\r\n]/);
    assert.match(line, /^v42 vhost=default\/shop skipped=\[default\/shop#0: match\[0\]\.uri: /);
    assert.match(line, /route=default\/shop#4 redirect=301 /);
    const text = formatExplain(ask({ method: 'GET', url: 'http://shop.example.com/user/1' }));
    assert.match(text, /MATCHED by match\[0\]: uri prefix "\/user"/);
    assert.match(text, /endpoint user-2 127\.0\.0\.1:9002 UNHEALTHY/);
  });
});
