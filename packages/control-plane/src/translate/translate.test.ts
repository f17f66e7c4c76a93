// Golden tests for the first compiler: YAML (+ registered instances) -> snapshot JSON. Each
// case is testdata/<name>.yaml with an instances list in testdata/<name>.instances.json (and
// DNS answers for DNS ServiceEntries in testdata/<name>.dns.json); the expected snapshot is
// testdata/<name>.golden.json. Refresh with UPDATE_GOLDEN=1 and review
// the diff: it shows exactly what a change does to what proxies receive.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Instance } from '@weft/model';
import { loadSources } from '../sources/yaml.js';
import type { TranslateInput } from './input.js';
import { dryRunOf } from './authorization.js';
import { translate } from './translate.js';

// Same depth from src/translate and dist/translate, so this resolves from both.
const TESTDATA = fileURLToPath(new URL('../../src/translate/testdata/', import.meta.url));

function inputFor(name: string): TranslateInput {
  const path = `${TESTDATA}${name}.yaml`;
  const { resources, violations } = loadSources([{ path, text: readFileSync(path, 'utf8') }]);
  const errors = violations.filter((v) => v.severity === 'error');
  assert.deepEqual(errors, [], `${name}.yaml must be valid`);
  const instPath = `${TESTDATA}${name}.instances.json`;
  const dnsPath = `${TESTDATA}${name}.dns.json`;
  const instances = existsSync(instPath)
    ? (JSON.parse(readFileSync(instPath, 'utf8')) as Instance[])
    : [];
  const pick = (kind: string) =>
    resources
      .filter((r) => r.resource.kind === kind)
      .map((r, i) => ({
        metadata: {
          ...r.resource.metadata,
          createRevision: r.index + i + 1,
          ...dryRunOf(r.resource.metadata.annotations),
        },
        spec: r.resource.spec,
      }));
  return {
    version: 7,
    virtualServices: pick('VirtualService') as TranslateInput['virtualServices'],
    destinationRules: pick('DestinationRule') as TranslateInput['destinationRules'],
    gateways: pick('Gateway') as TranslateInput['gateways'],
    authorizationPolicies: pick('AuthorizationPolicy') as TranslateInput['authorizationPolicies'],
    instances,
    serviceEntries: pick('ServiceEntry') as TranslateInput['serviceEntries'],
    // What the elected control plane's DNS resolution stored, for DNS ServiceEntries.
    ...(existsSync(dnsPath)
      ? { dnsAddresses: JSON.parse(readFileSync(dnsPath, 'utf8')) as Record<string, string[]> }
      : {}),
  };
}

describe('translate golden files', () => {
  const cases = readdirSync(TESTDATA)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length));
  assert.ok(cases.length > 0);
  for (const name of cases) {
    it(name, () => {
      const got = `${JSON.stringify(translate(inputFor(name)), null, 2)}\n`;
      const golden = `${TESTDATA}${name}.golden.json`;
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, got);
      assert.ok(existsSync(golden), `missing ${golden}; run with UPDATE_GOLDEN=1`);
      assert.equal(got, readFileSync(golden, 'utf8'));
    });
  }
});

describe('translate', () => {
  it('is deterministic: the same input in another order gives the same snapshot', () => {
    const input = inputFor('seed');
    const shuffled: TranslateInput = {
      ...input,
      instances: [...input.instances].reverse(),
      virtualServices: [...input.virtualServices].reverse(),
      gateways: [...input.gateways].reverse(),
    };
    assert.deepEqual(translate(shuffled), translate(input));
  });

  it('gives a service with no VirtualService a default route to all its endpoints', () => {
    const snap = translate(inputFor('seed'));
    const vh = snap.mesh.virtualHosts.find((v) => v.domains.includes('user'));
    assert.ok(vh);
    assert.equal(vh.routes.length, 1);
    assert.deepEqual(vh.routes[0]?.matches, []);
    const cluster = snap.clusters.find(
      (c) => c.name === 'outbound|||user.default.svc.cluster.local',
    );
    assert.equal(cluster?.endpoints.length, 2);
  });

  it('drops zero-weight destinations and keeps relative weights', () => {
    const snap = translate(inputFor('weights-subsets'));
    const vh = snap.mesh.virtualHosts.find((v) => v.domains.includes('reviews'));
    const action = vh?.routes[0]?.action;
    assert.equal(action?.type, 'route');
    if (action?.type !== 'route') return;
    assert.deepEqual(
      action.destinations.map((d) => [d.subset, d.weight]),
      [
        ['v1', 90],
        ['v2', 10],
      ],
    );
  });

  it('builds one cluster per subset with only the endpoints whose labels match', () => {
    const snap = translate(inputFor('weights-subsets'));
    const v2 = snap.clusters.find(
      (c) => c.name === 'outbound||v2|reviews.default.svc.cluster.local',
    );
    assert.deepEqual(
      v2?.endpoints.map((e) => e.id),
      ['reviews-v2-a'],
    );
    assert.equal(v2?.lb, 'RANDOM');
  });

  it('on sidecars, the oldest VirtualService for a host wins', () => {
    const snap = translate(inputFor('duplicate-hosts'));
    const vh = snap.mesh.virtualHosts.find((v) => v.domains.includes('ratings'));
    assert.equal(vh?.name, 'default/ratings-first');
  });
});
