import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizationPolicyConfig, ProxyNode } from '@weft/model';
import {
  compileAuthorization,
  evaluateAuthorization,
  namespaceOf,
  type AuthzRequest,
} from './index.js';
import { normalizePath } from './normalize-path.js';

const NODE: ProxyNode = {
  id: 'orders-1.sidecar',
  role: 'sidecar',
  namespace: 'shop',
  labels: { app: 'orders', version: 'v1' },
  service: 'orders',
};

interface Caller {
  name: string;
  principal?: string;
  ip?: string;
  remoteIp?: string;
  method?: string;
  path?: string;
  host?: string;
  port?: number;
  headers?: Record<string, string>;
}

function request(c: Caller): AuthzRequest {
  const headers = c.headers ?? {};
  return {
    method: c.method ?? 'GET',
    path: normalizePath(c.path ?? '/'),
    host: c.host ?? 'orders.shop',
    port: c.port ?? 9080,
    sourceIp: c.ip ?? '10.0.0.9',
    remoteIp: c.remoteIp ?? c.ip ?? '10.0.0.9',
    principal: c.principal,
    header: (n) => headers[n],
  };
}

function decide(policies: AuthorizationPolicyConfig[], c: Caller, node = NODE): number {
  const authz = compileAuthorization(policies, { node, gateways: [] });
  if (authz === undefined) return 200;
  return evaluateAuthorization(authz, request(c)).allowed ? 200 : 403;
}

function policy(p: Partial<AuthorizationPolicyConfig>): AuthorizationPolicyConfig {
  return { name: 'shop/p', action: 'ALLOW', scope: { namespace: 'shop' }, rules: [], ...p };
}

/** The matrix: exactly the callers named in `allowed` get 200, every other caller 403. */
function matrix(policies: AuthorizationPolicyConfig[], callers: Caller[], allowed: string[]) {
  const got = callers.map((c) => `${c.name}:${decide(policies, c)}`);
  const want = callers.map((c) => `${c.name}:${allowed.includes(c.name) ? 200 : 403}`);
  assert.deepEqual(got, want);
}

const SLEEP = 'cluster.local/ns/shop/sa/sleep';
const CALLERS: Caller[] = [
  { name: 'sleep', principal: SLEEP },
  { name: 'sleep-post', principal: SLEEP, method: 'POST' },
  { name: 'sleep-admin', principal: SLEEP, path: '/admin/users' },
  { name: 'web', principal: 'cluster.local/ns/web/sa/frontend' },
  { name: 'other-td', principal: 'example.org/ns/shop/sa/sleep' },
  { name: 'plaintext', principal: undefined },
  { name: 'office-ip', ip: '192.168.10.7' },
  { name: 'header', headers: { 'x-token': 'letmein' } },
];

describe('authorization: Istio evaluation order', () => {
  it('no policy for the workload: everyone is allowed', () => {
    const other = policy({ scope: { namespace: 'other' }, rules: [{}] });
    assert.equal(compileAuthorization([other], { node: NODE, gateways: [] }), undefined);
    matrix(
      [other],
      CALLERS,
      CALLERS.map((c) => c.name),
    );
  });

  it('ALLOW by principal: only that caller', () => {
    matrix([policy({ rules: [{ from: [{ principals: [SLEEP] }] }] })], CALLERS, [
      'sleep',
      'sleep-post',
      'sleep-admin',
    ]);
  });

  it('ALLOW by namespace comes from the principal; plaintext never matches it', () => {
    matrix([policy({ rules: [{ from: [{ namespaces: ['web'] }] }] })], CALLERS, ['web']);
  });

  it('spec: {} allows nothing; rules: [{}] allows everything', () => {
    matrix([policy({})], CALLERS, []);
    matrix(
      [policy({ rules: [{}] })],
      CALLERS,
      CALLERS.map((c) => c.name),
    );
  });

  it('DENY wins over ALLOW, and a DENY without rules never matches', () => {
    const allowAll = policy({ name: 'shop/all', rules: [{}] });
    const denyPost = policy({
      name: 'shop/no-post',
      action: 'DENY',
      rules: [{ to: [{ methods: ['POST'] }] }],
    });
    const denyNothing = policy({ name: 'shop/empty', action: 'DENY', rules: [] });
    matrix(
      [allowAll, denyPost, denyNothing],
      CALLERS,
      CALLERS.filter((c) => c.method !== 'POST').map((c) => c.name),
    );
    const authz = compileAuthorization([allowAll, denyPost], { node: NODE, gateways: [] })!;
    const d = evaluateAuthorization(authz, request({ name: 'x', method: 'POST' }));
    assert.deepEqual(d, { allowed: false, policy: 'shop/no-post', audit: undefined });
  });

  it('AUDIT never decides, but is reported', () => {
    const audit = policy({
      name: 'shop/audit',
      action: 'AUDIT',
      rules: [{ to: [{ paths: ['/admin*'] }] }],
    });
    matrix(
      [audit],
      CALLERS,
      CALLERS.map((c) => c.name),
    );
    const authz = compileAuthorization([audit], { node: NODE, gateways: [] })!;
    assert.equal(
      evaluateAuthorization(authz, request({ name: 'a', path: '/admin/x' })).audit,
      'shop/audit',
    );
    assert.equal(evaluateAuthorization(authz, request({ name: 'a', path: '/x' })).audit, undefined);
  });

  it('a dry-run policy (istio.io/dry-run) never changes a decision', () => {
    const dry = policy({ action: 'DENY', rules: [{}], dryRun: true });
    assert.equal(compileAuthorization([dry], { node: NODE, gateways: [] }), undefined);
    matrix(
      [dry],
      CALLERS,
      CALLERS.map((c) => c.name),
    );
  });

  it('CUSTOM cannot be asked, so a request it matches is denied', () => {
    const custom = policy({ action: 'CUSTOM', rules: [{ to: [{ paths: ['/admin/*'] }] }] });
    matrix(
      [custom],
      CALLERS,
      CALLERS.filter((c) => c.name !== 'sleep-admin').map((c) => c.name),
    );
  });

  it('one source (OR between sources, AND inside one), one operation, all conditions', () => {
    const p = policy({
      rules: [
        {
          from: [{ principals: [SLEEP] }, { ipBlocks: ['192.168.0.0/16'] }],
          to: [{ methods: ['GET'], notPaths: ['/admin*'] }],
        },
        { when: [{ key: 'request.headers[x-token]', values: ['letmein'] }] },
      ],
    });
    matrix([p], CALLERS, ['sleep', 'office-ip', 'header']);
  });
});

describe('authorization: values and attributes', () => {
  const one = (rule: AuthorizationPolicyConfig['rules'][number], c: Caller) =>
    decide([policy({ rules: [rule] })], c) === 200;

  it('exact, prefix, suffix and presence', () => {
    const paths = (p: string, path: string) => one({ to: [{ paths: [p] }] }, { name: 'x', path });
    assert.equal(paths('/info', '/info'), true);
    assert.equal(paths('/info', '/info/x'), false);
    assert.equal(paths('/info*', '/info/x'), true);
    assert.equal(paths('*.json', '/a/b.json'), true);
    assert.equal(paths('*.json', '/a/b.xml'), false);
    const principal = (p: string, principal: string | undefined) =>
      one({ from: [{ principals: [p] }] }, { name: 'x', principal });
    assert.equal(principal('*', SLEEP), true);
    assert.equal(principal('*', undefined), false, 'presence needs a principal (mTLS)');
    assert.equal(principal('*/ns/shop/sa/sleep', 'other.td/ns/shop/sa/sleep'), true);
    assert.equal(principal('cluster.local/*', 'example.org/ns/shop/sa/sleep'), false);
  });

  it('path templates: {*} one segment, {**} the rest', () => {
    const t = (p: string, path: string) => one({ to: [{ paths: [p] }] }, { name: 'x', path });
    assert.equal(t('/api/{*}/items', '/api/v1/items'), true);
    assert.equal(t('/api/{*}/items', '/api/v1/v2/items'), false);
    assert.equal(t('/api/{**}', '/api/v1/v2/items'), true);
    assert.equal(t('/api/{**}', '/other'), false);
  });

  it('paths are compared after normalization, so dot segments and escapes do not bypass a rule', () => {
    const deny = policy({ action: 'DENY', rules: [{ to: [{ paths: ['/admin*'] }] }] });
    for (const path of ['/admin', '/./admin', '/public/../admin/x', '/%61dmin', '/a/%2e%2e/admin'])
      assert.equal(decide([deny], { name: 'x', path }), 403, path);
    assert.equal(decide([deny], { name: 'x', path: '/public' }), 200);
  });

  it('hosts are case-insensitive and include the port as sent', () => {
    const h = (host: string) =>
      one({ to: [{ hosts: ['orders.example.com'] }] }, { name: 'x', host });
    assert.equal(h('Orders.Example.COM'), true);
    assert.equal(h('orders.example.com:8080'), false);
  });

  it('ports, ipBlocks, remoteIpBlocks and their negations', () => {
    assert.equal(one({ to: [{ ports: ['9080'] }] }, { name: 'x', port: 9080 }), true);
    assert.equal(one({ to: [{ notPorts: ['9080'] }] }, { name: 'x', port: 9080 }), false);
    assert.equal(
      one({ from: [{ ipBlocks: ['10.0.0.0/8'] }] }, { name: 'x', ip: '10.1.2.3' }),
      true,
    );
    assert.equal(
      one({ from: [{ notIpBlocks: ['10.1.2.3'] }] }, { name: 'x', ip: '10.1.2.3' }),
      false,
    );
    assert.equal(
      one({ from: [{ ipBlocks: ['2001:db8::/32'] }] }, { name: 'x', ip: '2001:db8::1' }),
      true,
    );
    assert.equal(
      one(
        { from: [{ remoteIpBlocks: ['203.0.113.0/24'] }] },
        { name: 'x', ip: '10.0.0.1', remoteIp: '203.0.113.7' },
      ),
      true,
    );
    assert.equal(
      one({ from: [{ remoteIpBlocks: ['203.0.113.0/24'] }] }, { name: 'x', remoteIp: 'garbage' }),
      false,
    );
  });

  it('when: headers, source.ip, source.namespace, source.principal, destination.port', () => {
    const w = (c: { key: string; values?: string[]; notValues?: string[] }, caller: Caller) =>
      one({ when: [c] }, caller);
    assert.equal(
      w(
        { key: 'request.headers[X-Token]', values: ['a*'] },
        { name: 'x', headers: { 'x-token': 'abc' } },
      ),
      true,
    );
    assert.equal(w({ key: 'request.headers[x-token]', values: ['a*'] }, { name: 'x' }), false);
    assert.equal(w({ key: 'request.headers[x-token]', notValues: ['bad'] }, { name: 'x' }), true);
    assert.equal(
      w({ key: 'source.ip', values: ['10.0.0.0/24'] }, { name: 'x', ip: '10.0.0.9' }),
      true,
    );
    assert.equal(
      w({ key: 'source.namespace', values: ['shop'] }, { name: 'x', principal: SLEEP }),
      true,
    );
    assert.equal(
      w({ key: 'source.namespace', notValues: ['shop'] }, { name: 'x', principal: SLEEP }),
      false,
    );
    assert.equal(
      w({ key: 'source.principal', values: [SLEEP] }, { name: 'x', principal: SLEEP }),
      true,
    );
    assert.equal(w({ key: 'destination.port', values: ['9080'] }, { name: 'x', port: 9080 }), true);
  });

  it('what Weft cannot evaluate fails closed: ALLOW rules do not match, DENY conditions do', () => {
    const jwt = { from: [{ requestPrincipals: ['*'] }] };
    assert.equal(decide([policy({ rules: [jwt] })], { name: 'x' }), 403);
    assert.equal(decide([policy({ action: 'DENY', rules: [jwt] })], { name: 'x' }), 403);
    const claim = { when: [{ key: 'request.auth.claims[iss]', values: ['x'] }] };
    assert.equal(decide([policy({ rules: [claim] })], { name: 'x' }), 403);
    assert.equal(decide([policy({ action: 'DENY', rules: [claim] })], { name: 'x' }), 403);
  });
});

describe('authorization: scope', () => {
  const applies = (
    scope: AuthorizationPolicyConfig['scope'],
    node = NODE,
    gateways: string[] = [],
  ) => compileAuthorization([policy({ scope, rules: [{}] })], { node, gateways }) !== undefined;

  it('namespace, selector, root namespace, targetRefs', () => {
    assert.equal(applies({ namespace: 'shop' }), true);
    assert.equal(applies({ namespace: 'web' }), false);
    assert.equal(applies({}), true, 'root namespace: mesh-wide');
    assert.equal(applies({ selector: { app: 'orders' } }), true, 'root + selector: any namespace');
    assert.equal(applies({ namespace: 'shop', selector: { app: 'orders', version: 'v2' } }), false);
    assert.equal(applies({ namespace: 'shop', services: ['orders'] }), true);
    assert.equal(applies({ namespace: 'shop', services: ['billing'], gateways: [] }), false);
    const gw: ProxyNode = {
      id: 'gw',
      role: 'gateway',
      namespace: 'shop',
      labels: { istio: 'ingressgateway' },
    };
    assert.equal(applies({ namespace: 'shop', gateways: ['shop/edge'] }, gw, ['shop/edge']), true);
    assert.equal(
      applies({ namespace: 'shop', gateways: ['shop/edge'] }, gw, ['shop/other']),
      false,
    );
    assert.equal(
      applies({ namespace: 'shop', services: [], gateways: [] }),
      false,
      'unresolvable targets select nothing',
    );
  });

  it('namespaceOf reads the principal', () => {
    assert.equal(namespaceOf(SLEEP), 'shop');
    assert.equal(namespaceOf('nonsense'), '');
    assert.equal(namespaceOf(undefined), '');
  });
});

describe('normalizePath', () => {
  it('removes dot segments and decodes unreserved escapes only', () => {
    assert.equal(normalizePath('/a/./b/../c'), '/a/c');
    assert.equal(normalizePath('/../../a'), '/a');
    assert.equal(normalizePath('/a/b/..'), '/a/');
    assert.equal(normalizePath('/%7euser/%2f/%2F'), '/~user/%2F/%2F');
    assert.equal(normalizePath('/static/app.js'), '/static/app.js');
    assert.equal(normalizePath('/a%zz'), '/a%zz');
  });
});
