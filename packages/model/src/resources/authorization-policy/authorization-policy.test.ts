import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../../violation.js';
import { authorizationPolicyKind } from './index.js';

const check = (spec: unknown, namespace = 'shop') =>
  authorizationPolicyKind.validateSpec(spec, { namespace });
const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);
const errors = (spec: unknown) => show(check(spec).violations, 'error');
const warnings = (spec: unknown) => show(check(spec).violations, 'warning');

describe('AuthorizationPolicy', () => {
  it("accepts Istio's documented examples without a word", () => {
    const spec = {
      action: 'ALLOW',
      selector: { matchLabels: { app: 'httpbin' } },
      rules: [
        {
          from: [
            { source: { principals: ['cluster.local/ns/default/sa/sleep'] } },
            { source: { namespaces: ['test'], notIpBlocks: ['203.0.113.4'] } },
          ],
          to: [
            { operation: { methods: ['GET'], paths: ['/info*'] } },
            {
              operation: {
                methods: ['POST'],
                paths: ['/data', '/api/{*}/x/{**}'],
                ports: ['8080'],
              },
            },
          ],
          when: [
            { key: 'request.headers[x-token]', values: ['abc'] },
            { key: 'source.ip', notValues: ['10.0.0.0/8'] },
            { key: 'destination.port', values: ['9080'] },
          ],
        },
      ],
    };
    const r = check(spec);
    assert.deepEqual(r.violations, []);
    assert.ok(r.spec);
    assert.deepEqual(check({}).violations, [], 'allow-nothing');
    assert.deepEqual(check({ rules: [{}] }).violations, [], 'allow-all');
  });

  it('accepts snake_case proto names', () => {
    const r = check({ rules: [{ from: [{ source: { not_principals: ['a'] } }] }] });
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.spec?.rules?.[0]?.from?.[0]?.source, { notPrincipals: ['a'] });
  });

  it('rejects what Istio rejects', () => {
    assert.deepEqual(
      errors({
        selector: { matchLabels: { app: 'a' } },
        targetRefs: [{ kind: 'Service', name: 'a', namespace: 'other' }],
        provider: { name: 'x' },
        rules: [
          {
            from: [{ source: {} }, { source: { ipBlocks: ['10.0.0.300', '10.0.0.0/33', ''] } }],
            to: [{}, { operation: { ports: ['http', '0'], paths: ['/a/{**}/{*}'] } }],
            when: [
              { key: 'source.ip' },
              { key: 'request.magic', values: ['x'] },
              { key: 'remote.ip', values: ['nope'] },
            ],
          },
        ],
      }),
      [
        'spec.selector: set at most one of selector and targetRef(s)',
        `spec.targetRefs[0].namespace: must be the policy's own namespace "shop" (cross-namespace targets are not allowed)`,
        'spec.provider: only allowed with action CUSTOM',
        'spec.rules[0].from[0].source: must not be empty: set at least one field, or leave out the from entry',
        'spec.rules[0].from[1].source.ipBlocks[2]: empty value not allowed',
        'spec.rules[0].from[1].source.ipBlocks[0]: invalid IP address or CIDR block "10.0.0.300"',
        'spec.rules[0].from[1].source.ipBlocks[1]: invalid IP address or CIDR block "10.0.0.0/33"',
        'spec.rules[0].to[0].operation: must not be empty: set at least one field, or leave out the to entry',
        'spec.rules[0].to[1].operation.ports[0]: invalid port "http": expected 1-65535',
        'spec.rules[0].to[1].operation.ports[1]: invalid port "0": expected 1-65535',
        'spec.rules[0].to[1].operation.paths[0]: the {**} operator must be the last operator in the path',
        'spec.rules[0].when[0]: set at least one of values and notValues',
        'spec.rules[0].when[1].key: unknown attribute "request.magic"; expected request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, destination.port (or another Istio attribute)',
        'spec.rules[0].when[2].values[0]: invalid IP address or CIDR block "nope"',
      ],
    );
    assert.deepEqual(errors({ action: 'CUSTOM' }), [
      'spec.provider.name: required with action CUSTOM',
    ]);
    assert.deepEqual(errors({ action: 'REJECT' }).length, 1);
  });

  it('warns about what Weft cannot evaluate, saying how it is treated', () => {
    assert.deepEqual(
      warnings({
        action: 'DENY',
        rules: [
          {
            from: [{ source: { requestPrincipals: ['*'] } }],
            to: [{ operation: { paths: ['/a*b'] } }],
            when: [{ key: 'request.auth.claims[iss]', values: ['x'] }],
          },
        ],
      }),
      [
        'spec.rules[0].from[0].source.requestPrincipals: request principals come from JWTs, which Weft does not verify yet; in an ALLOW policy the rule never matches, in a DENY policy this condition counts as matched',
        'spec.rules[0].to[0].operation.paths[0]: "*" only works at the start (suffix match) or end (prefix match) of a value; "/a*b" is compared as it is written',
        'spec.rules[0].when[0].key: "request.auth.claims[iss]" is not supported by Weft yet; in an ALLOW policy the rule never matches, in a DENY policy this condition counts as matched',
      ],
    );
    assert.deepEqual(warnings({ action: 'AUDIT' }), [
      'spec.rules: a AUDIT policy without rules never matches; to deny everything use rules: [{}]',
    ]);
    assert.deepEqual(warnings({ action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] }), [
      'spec.action: CUSTOM (external authorization) is not supported by Weft: requests this policy matches are denied (403), as Istio does when a provider cannot be used',
    ]);
    assert.deepEqual(
      warnings({ targetRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 'x' }] }),
      [
        'spec.targetRefs[0].kind: target networking.istio.io/ServiceEntry is not supported by Weft (only Service and Gateway); this reference selects nothing',
      ],
    );
    assert.deepEqual(warnings({ rules: [{}], trustDomains: ['x'] }), [
      'spec.trustDomains: unknown field "trustDomains"; ignored',
    ]);
  });
});
