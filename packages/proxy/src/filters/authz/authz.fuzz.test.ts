// Property-based fuzzing of policy evaluation: random policies (valid and not) compile or are
// refused with a CompileError, and evaluation never throws on random requests. Plus the
// algebra Istio's semantics promise: a rule that makes an ALLOW policy allow makes the same
// DENY policy deny, and path normalization is idempotent. Fixed seed, bounded runs.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AuthorizationPolicyConfig, ProxyNode } from '@weft/model';
import { CompileError } from '../../routing/compile-error.js';
import { trustedClientAddress } from '../../server/client-address.js';
import { compileAuthorization, evaluateAuthorization, type AuthzRequest } from './index.js';
import { normalizePath } from './normalize-path.js';

const RUNS = { numRuns: 200, seed: 0xa07 };
const node: ProxyNode = {
  id: 'fuzz',
  role: 'sidecar',
  namespace: 'ns',
  labels: { app: 'a' },
  service: 'a',
};

const value = fc.oneof(
  fc.constantFrom('*', 'a*', '*a', '/x', '/x*', '/{*}/y', '/{**}', 'GET', 'cluster.local/*', ''),
  fc.string({ maxLength: 8 }),
);
const ip = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((a) => `${a}/${a.length % 33}`),
  fc.constantFrom('10.0.0.0/8', '::/0', 'garbage', '1.2.3.4/99', ''),
);
const list = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { maxLength: 3 });
const source = fc.record(
  {
    principals: list(value),
    notPrincipals: list(value),
    namespaces: list(value),
    notNamespaces: list(value),
    serviceAccounts: list(value),
    ipBlocks: list(ip),
    notIpBlocks: list(ip),
    remoteIpBlocks: list(ip),
    notRemoteIpBlocks: list(ip),
  },
  { requiredKeys: [] },
);
const operation = fc.record(
  {
    hosts: list(value),
    notHosts: list(value),
    methods: list(value),
    notMethods: list(value),
    paths: list(value),
    notPaths: list(value),
    ports: list(fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), value)),
  },
  { requiredKeys: [] },
);
const condition = fc.record({
  key: fc.constantFrom(
    'request.headers[x-a]',
    'source.ip',
    'remote.ip',
    'source.namespace',
    'source.principal',
    'destination.port',
  ),
  values: list(fc.oneof(value, ip)),
  notValues: list(fc.oneof(value, ip)),
});
const rule = fc.record(
  { from: list(source), to: list(operation), when: list(condition) },
  { requiredKeys: [] },
);
const request = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST'), fc.string({ maxLength: 5 })),
  path: fc.oneof(fc.webPath(), fc.string({ maxLength: 20 })),
  host: fc.oneof(fc.domain(), fc.string({ maxLength: 10 })),
  port: fc.integer({ min: 0, max: 70000 }),
  sourceIp: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 6 })),
  remoteIp: fc.oneof(fc.ipV4(), fc.string({ maxLength: 6 })),
  principal: fc.option(
    fc.oneof(fc.constant('cluster.local/ns/ns/sa/x'), fc.string({ maxLength: 20 })),
    {
      nil: undefined,
    },
  ),
  xa: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
});

type RequestInput = typeof request extends fc.Arbitrary<infer T> ? T : never;

function requestOf(r: RequestInput): AuthzRequest {
  return { ...r, path: normalizePath(r.path), header: (n) => (n === 'x-a' ? r.xa : undefined) };
}

const policy = (action: AuthorizationPolicyConfig['action'], rules: unknown[]) =>
  ({
    name: `ns/${action}`,
    action,
    scope: { namespace: 'ns' },
    rules,
  }) as AuthorizationPolicyConfig;

describe('policy evaluation (fuzz)', () => {
  it('random policies compile, and evaluation never throws', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT', 'CUSTOM'),
            rules: list(rule),
          }),
          { maxLength: 4 },
        ),
        fc.array(request, { minLength: 1, maxLength: 4 }),
        (policies, requests) => {
          const authz = compileAuthorization(
            policies.map((p, i) => ({ ...policy(p.action, p.rules), name: `ns/p${i}` })),
            { node, gateways: [] },
          );
          if (authz === undefined) return;
          for (const r of requests) {
            const d = evaluateAuthorization(authz, requestOf(r));
            assert.equal(typeof d.allowed, 'boolean');
          }
        },
      ),
      RUNS,
    );
  });

  it('malformed policies are refused with a CompileError, never another error', () => {
    fc.assert(
      fc.property(fc.array(fc.anything({ maxDepth: 4 }), { maxLength: 3 }), (junk) => {
        try {
          compileAuthorization(junk as AuthorizationPolicyConfig[], { node, gateways: [] });
        } catch (err) {
          assert.ok(err instanceof CompileError, String(err));
        }
      }),
      RUNS,
    );
  });

  it('ALLOW with rules R allows exactly what DENY with rules R denies', () => {
    fc.assert(
      fc.property(list(rule), request, (rules, r) => {
        const allow = compileAuthorization([policy('ALLOW', rules)], { node, gateways: [] })!;
        const deny = compileAuthorization([policy('DENY', rules)], { node, gateways: [] })!;
        const req = requestOf(r);
        assert.equal(
          evaluateAuthorization(allow, req).allowed,
          !evaluateAuthorization(deny, req).allowed,
        );
      }),
      RUNS,
    );
  });

  it('path normalization is idempotent and keeps paths absolute', () => {
    const segment = fc.oneof(
      fc.constantFrom('.', '..', '%2e', '%2E%2e', '%41', '%2f', '', 'a'),
      fc.string({ maxLength: 6 }),
    );
    const path = fc.array(segment, { maxLength: 8 }).map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(fc.oneof(path, fc.string({ maxLength: 30 })), (p) => {
        const once = normalizePath(p);
        assert.equal(normalizePath(once), once);
        if (p.startsWith('/')) assert.ok(once.startsWith('/'), once);
      }),
      RUNS,
    );
  });

  it('the trusted client address is the peer or one of the X-Forwarded-For entries', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.integer({ min: 0, max: 5 }),
        fc.boolean(),
        (xff, hops, edge) => {
          const got = trustedClientAddress(xff, 'peer', hops, edge);
          const entries = xff.split(',').map((e) => e.trim());
          assert.ok(got === 'peer' || entries.includes(got), got);
        },
      ),
      RUNS,
    );
  });
});
