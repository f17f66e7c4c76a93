import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ProxyNode, Snapshot } from '@weft/model';
import { seededRandom } from '@weft/testkit';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { CompileError, CompileErrors } from '../routing/compile-error.js';
import { createRequestView, type RequestViewInit } from '../routing/request-view.js';
import { findMatchingBlock } from '../routing/match-block.js';
import { checkSnapshot } from './check.js';
import { compileSnapshot } from './compile-snapshot.js';
import { intersectHosts } from './gateway.js';
import { summarizeRouteTable } from './summarize.js';
import type { CompiledVirtualHost, RouteTable } from './types.js';

// Two levels up from both src/compile and dist/compile is the package root.
const TESTDATA = new URL('../../src/compile/testdata/', import.meta.url);

const gatewayNode: ProxyNode = {
  id: 'gateway-1',
  role: 'gateway',
  namespace: 'istio-system',
  labels: { istio: 'ingressgateway', zone: 'a' },
};

function loadSnapshot(name: string): Snapshot {
  return JSON.parse(readFileSync(new URL(name, TESTDATA), 'utf8')) as Snapshot;
}

function compile(s: Snapshot, node: ProxyNode = gatewayNode): RouteTable {
  return compileSnapshot(s, { node, health: createHealthTracker() });
}

/** The route a request would take: the table's own lookups, without a server. */
function route(vh: CompiledVirtualHost | undefined, init: RequestViewInit) {
  if (!vh) return undefined;
  const view = createRequestView(init);
  for (const r of vh.routes) if (findMatchingBlock(r.blocks, view) >= 0) return r.id;
  return null;
}

describe('compileSnapshot golden files', () => {
  const files = readdirSync(fileURLToPath(TESTDATA)).filter((f) => f.endsWith('.snapshot.json'));
  it('finds its testdata from both src and dist', () => {
    assert.ok(files.length > 0, `no *.snapshot.json in ${fileURLToPath(TESTDATA)}`);
  });
  for (const file of files) {
    it(`${file} -> ${file.replace('.snapshot.json', '.golden.json')}`, () => {
      const got = JSON.stringify(summarizeRouteTable(compile(loadSnapshot(file))), null, 2) + '\n';
      const goldenUrl = new URL(file.replace('.snapshot.json', '.golden.json'), TESTDATA);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenUrl, got);
      let want: string;
      try {
        want = readFileSync(goldenUrl, 'utf8');
      } catch {
        assert.fail(
          `missing golden file; run with UPDATE_GOLDEN=1 to create ${fileURLToPath(goldenUrl)}`,
        );
      }
      assert.equal(
        got,
        want,
        'compiled table differs from the golden file (UPDATE_GOLDEN=1 refreshes it)',
      );
    });
  }
});

describe('compileSnapshot', () => {
  const table = compile(loadSnapshot('gateway-and-mesh.snapshot.json'));

  it('serves only the gateways whose selector the node satisfies', () => {
    assert.deepEqual(table.gateways, ['istio-system/public']);
    const sidecar = compile(loadSnapshot('gateway-and-mesh.snapshot.json'), {
      id: 'user-1.sidecar',
      role: 'sidecar',
      namespace: 'default',
      labels: { app: 'user' },
    });
    assert.deepEqual(sidecar.gateways, []);
    assert.equal(sidecar.gateway.lookup('shop.example.com'), undefined);
  });

  it('narrows virtual host domains to the hosts the gateway servers accept', () => {
    assert.equal(table.gateway.lookup('shop.example.com')?.name, 'default/shop');
    assert.equal(table.gateway.lookup('v1.api.example.com')?.name, 'default/wide');
    assert.equal(
      table.gateway.lookup('other.org'),
      undefined,
      '"*" is narrowed to the server hosts',
    );
    assert.ok(table.warnings.some((w) => w.includes('default/elsewhere')));
  });

  it('routes by host and first matching rule', () => {
    const shop = table.gateway.lookup('shop.example.com');
    assert.equal(route(shop, { path: '/healthz' }), 'default/shop#0');
    assert.equal(route(shop, { path: '/old/x' }), 'default/shop#1');
    assert.equal(route(shop, { path: '/USER/1' }), 'default/shop#2');
    assert.equal(route(shop, { path: '/orders' }), 'default/shop#3');
    assert.equal(route(shop, { path: '/nothing' }), null);
    const order = table.mesh.lookup('order');
    assert.equal(route(order, { headers: { 'end-user': 'jason' } }), 'default/order#0');
    assert.equal(route(order, {}), 'default/order#1');
    const stock = table.mesh.lookup('stock.default.svc.cluster.local');
    assert.equal(route(stock, { path: '/items/12' }), 'default/stock#1');
    assert.equal(route(stock, { path: '/items/12', method: 'POST' }), null);
  });

  it('resolves clusters at compile time and leaves missing ones for 503 NC', () => {
    const stock = table.mesh.lookup('stock')!;
    const a = stock.routes[1]!.action;
    assert.equal(a.type, 'route');
    if (a.type !== 'route') return;
    assert.equal(a.destinations[0]!.cluster, undefined);
    assert.equal(
      a.destinations[0]!.clusterName,
      'outbound|9080|v9|stock.default.svc.cluster.local',
    );
  });

  it('picks weighted destinations in proportion, without random for one destination', () => {
    const order = table.mesh.lookup('order')!;
    const a = order.routes[1]!.action;
    if (a.type !== 'route') return assert.fail('expected a route action');
    const random = seededRandom(3);
    let v1 = 0;
    for (let i = 0; i < 10_000; i++) if (a.pick(random).clusterName.includes('|v1|')) v1++;
    assert.ok(Math.abs(v1 / 100 - 90) < 1.5, `v1 got ${v1 / 100}%`);
    const single = order.routes[0]!.action;
    if (single.type !== 'route') return assert.fail('expected a route action');
    assert.match(single.pick(() => assert.fail('random called')).clusterName, /\|v2\|/);
  });

  it('drops weight-0 destinations when there are several', () => {
    const a = table.gateway.lookup('shop.example.com')!.routes[3]!.action;
    if (a.type !== 'route') return assert.fail('expected a route action');
    assert.equal(a.destinations.length, 2);
  });

  it('shares outlier records with the previous table so ejections survive a swap', () => {
    const health = createHealthTracker({ baseEjectionMs: 10_000 });
    const s = loadSnapshot('gateway-and-mesh.snapshot.json');
    const t1 = compileSnapshot(s, { node: gatewayNode, health });
    const user1 = t1.clusters.get('outbound|9080||user.default.svc.cluster.local')!.endpoints[0]!;
    health.reportFailure(user1.outlier, 1000);
    const t2 = compileSnapshot({ ...s, version: 43 }, { node: gatewayNode, health });
    const again = t2.clusters.get('outbound|9080||user.default.svc.cluster.local')!;
    assert.equal(again.endpoints[0]!.outlier, user1.outlier);
    const picks = new Set<string>();
    for (let i = 0; i < 10; i++)
      picks.add(again.lb.pick({ random: seededRandom(i), now: 2000 })!.id);
    assert.deepEqual([...picks], ['user-2']);
  });

  it('formats IPv6 endpoint keys with brackets', () => {
    const v2 = table.clusters.get('outbound|9080|v2|order.default.svc.cluster.local')!;
    assert.equal(v2.endpoints[0]!.key, '[fd00::3]:9080');
  });
});

describe('compileSnapshot errors name the field', () => {
  const base = (): Snapshot => loadSnapshot('gateway-and-mesh.snapshot.json');
  const fails = (mutate: (s: Snapshot) => void, pattern: RegExp) => {
    const s = base();
    mutate(s);
    assert.throws(
      () => compile(s),
      (err: unknown) => err instanceof CompileError && pattern.test(err.message),
    );
  };

  it('invalid regex', () =>
    fails((s) => {
      s.mesh.virtualHosts[2]!.routes[1]!.matches[0]!.uri = { regex: '/items/(' };
    }, /^mesh\.virtualHosts\[2\]\.routes\[1\]\.matches\[0\]\.uri: invalid RE2 regex/));

  it('duplicate cluster', () =>
    fails(
      (s) => void s.clusters.push({ ...s.clusters[0]! }),
      /^clusters\[4\]\.name: duplicate cluster/,
    ));

  it('unknown lb policy', () =>
    fails(
      (s) => void (s.clusters[0]!.lb = 'MAGLEV' as never),
      /^clusters\[0\]\.lb: unknown load balancer/,
    ));

  it('bad endpoint port', () =>
    fails(
      (s) => void (s.clusters[1]!.endpoints[0]!.port = 0),
      /^clusters\[1\]\.endpoints\[0\]\.port/,
    ));

  it('redirect code', () =>
    fails((s) => {
      const r = s.gateways[0]!.virtualHosts[0]!.routes[1]!;
      if (r.action.type === 'redirect') r.action.code = 305;
    }, /^gateways\[0\]\.virtualHosts\[0\]\.routes\[1\]\.action\.code: 305/));

  it('negative weight', () =>
    fails((s) => {
      const a = s.mesh.virtualHosts[1]!.routes[1]!.action;
      if (a.type === 'route') a.destinations[1]!.weight = -1;
    }, /destinations\[1\]\.weight: -1 must be a number >= 0/));

  it('unknown retry condition', () =>
    fails((s) => {
      const a = s.mesh.virtualHosts[1]!.routes[1]!.action;
      if (a.type === 'route') a.retries!.retryOn = ['sometimes'];
    }, /routes\[1\]\.action\.retries\.retryOn\[0\]: unknown retry condition "sometimes"/));

  it('invalid header value', () =>
    fails((s) => {
      s.mesh.virtualHosts[2]!.routes[0]!.headers!.request!.set = { 'x-a': 'a\r\nb' };
    }, /headers\.request\.set\.x-a/));

  it('all of them at once for admission (allErrors, checkSnapshot); the first one otherwise', () => {
    const s = base();
    s.mesh.virtualHosts[2]!.routes[1]!.matches[0]!.uri = { regex: '/items/(' };
    s.mesh.virtualHosts[2]!.routes[0]!.headers!.request!.set = { 'x-a': 'a\r\nb' };
    s.clusters[1]!.endpoints[0]!.port = 0;
    const r = s.gateways[0]!.virtualHosts[0]!.routes[1]!;
    if (r.action.type === 'redirect') r.action.code = 305;
    const expected = [
      /^clusters\[1\]\.endpoints\[0\]\.port/,
      /^mesh\.virtualHosts\[2\]\.routes\[0\]\.action\.headers\.request\.set\.x-a/,
      /^mesh\.virtualHosts\[2\]\.routes\[1\]\.matches\[0\]\.uri: invalid RE2 regex/,
      /^gateways\[0\]\.virtualHosts\[0\]\.routes\[1\]\.action\.code: 305/,
    ];
    const all = (err: unknown) => {
      assert.ok(err instanceof CompileErrors);
      assert.equal(err.errors.length, expected.length, err.message);
      err.errors.forEach((e, i) => assert.match(e.message, expected[i]!));
      return true;
    };
    assert.throws(
      () =>
        compileSnapshot(s, { node: gatewayNode, health: createHealthTracker(), allErrors: true }),
      all,
    );
    assert.throws(() => checkSnapshot(s), all);
    assert.throws(
      () => compile(s),
      (err: unknown) => err instanceof CompileError && expected[0]!.test(err.message),
    );
  });

  it('not a snapshot', () => {
    assert.throws(() => compile(null as never), /not an object/);
    assert.throws(
      () => compile({ version: 1, clusters: {} } as never),
      /clusters: must be an array/,
    );
  });
});

describe('intersectHosts', () => {
  it('keeps covered domains and narrows wider ones to the server host', () => {
    assert.deepEqual(intersectHosts(['a.example.com', 'user'], ['*.example.com']), [
      'a.example.com',
    ]);
    assert.deepEqual(intersectHosts(['*'], ['shop.example.com']), ['shop.example.com']);
    assert.deepEqual(intersectHosts(['*.example.com'], ['*']), ['*.example.com']);
    assert.deepEqual(intersectHosts(['*.a.example.com'], ['*.example.com']), ['*.a.example.com']);
    assert.deepEqual(intersectHosts(['*.example.com'], ['*.a.example.com']), ['*.a.example.com']);
    assert.deepEqual(intersectHosts(['example.com'], ['*.example.com']), []);
  });
});
