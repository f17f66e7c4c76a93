import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatViolation } from '@weft/model';
import { loadSources } from '../sources/yaml.js';
import type { TranslateInput } from '../translate/input.js';
import { translate } from '../translate/translate.js';
import { prospectiveInput, runAdmission } from './admission.js';
import { analyzeSources, EMPTY_INPUT } from './analyze.js';
import { referenceWarnings } from './references.js';

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  gateways: [mesh, edge]
  http:
    - match:
        - headers:
            end-user:
              exact: jason
      route:
        - destination:
            host: reviews
            subset: v2
    - route:
        - destination:
            host: ratings
`;

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
    - name: v1
      labels:
        version: v1
`;

describe('admission', () => {
  it('builds the prospective input: applied resources replace stored ones, new ones are newest', () => {
    const { resources } = loadSources([{ path: 'vs.yaml', text: VS }]);
    const base: TranslateInput = {
      ...EMPTY_INPUT,
      version: 10,
      virtualServices: [
        { metadata: { name: 'reviews', namespace: 'default', createRevision: 3 }, spec: {} },
        { metadata: { name: 'other', namespace: 'default', createRevision: 4 }, spec: {} },
      ],
    };
    const next = prospectiveInput(base, resources);
    assert.equal(next.virtualServices.length, 2);
    assert.equal(next.virtualServices[0]?.metadata.createRevision, 3, 'keeps its age');
    assert.deepEqual(next.virtualServices[0]?.spec.hosts, ['reviews']);
    const fresh = prospectiveInput(EMPTY_INPUT, resources);
    assert.equal(fresh.virtualServices[0]?.metadata.createRevision, 1);
  });

  it('turns a rejected snapshot field into a violation at the resource it came from', () => {
    const { resources } = loadSources([{ path: 'vs.yaml', text: VS }]);
    const snapshot = translate(prospectiveInput(EMPTY_INPUT, resources));
    const [v, ...more] = runAdmission(
      () => {
        throw Object.assign(new Error('mesh.virtualHosts[0].routes[1].action: no'), {
          path: 'mesh.virtualHosts[0].routes[1].action',
        });
      },
      snapshot,
      resources,
    );
    assert.ok(v);
    assert.equal(more.length, 0);
    assert.equal(v.field, 'spec.http[1]');
    assert.equal(v.resource, 'VirtualService default/reviews');
    assert.deepEqual(v.position, { file: 'vs.yaml', line: 17, col: 7 });
    assert.match(v.message, /proxies would reject the resulting snapshot: mesh\.virtualHosts/);
    assert.deepEqual(
      runAdmission(() => undefined, snapshot, resources),
      [],
    );
  });

  it('reports every compile error of an apply, each at its own position', () => {
    const { resources } = loadSources([{ path: 'vs.yaml', text: VS }]);
    const snapshot = translate(prospectiveInput(EMPTY_INPUT, resources));
    const fail = (path: string) => Object.assign(new Error(`${path}: no`), { path });
    const vs = runAdmission(
      () => {
        // The shape of the proxy's CompileErrors: an Error with `errors`.
        throw Object.assign(new Error('two'), {
          errors: [
            fail('mesh.virtualHosts[0].routes[0].matches[0]'),
            fail('mesh.virtualHosts[0].routes[1].action'),
          ],
        });
      },
      snapshot,
      resources,
    );
    assert.deepEqual(
      vs.map((v) => formatViolation(v)),
      [
        `vs.yaml:9:7: error: VirtualService default/reviews: spec.http[0]: proxies would reject the resulting snapshot: mesh.virtualHosts[0].routes[0].matches[0]: no`,
        `vs.yaml:17:7: error: VirtualService default/reviews: spec.http[1]: proxies would reject the resulting snapshot: mesh.virtualHosts[0].routes[1].action: no`,
      ],
    );
  });

  it('warns about references nothing defines, with positions; offline and live', () => {
    const r = analyzeSources([{ path: 'vs.yaml', text: VS }]);
    const lines = r.violations.map(formatViolation);
    assert.deepEqual(lines, [
      'vs.yaml:7:20: warning: VirtualService default/reviews: spec.gateways[1]: Gateway default/edge is not defined in these files; the routes bound to it serve no gateway until it is',
      'vs.yaml:16:13: warning: VirtualService default/reviews: spec.http[0].route[0].destination.subset: subset "v2" of reviews.default.svc.cluster.local is defined by no DestinationRule in these files; requests routed to it get 503 NC',
      'vs.yaml:19:13: warning: VirtualService default/reviews: spec.http[1].route[0].destination.host: host ratings.default.svc.cluster.local is not known in these files: no VirtualService or DestinationRule names it (fine if the service registers with the mesh; until then requests get 503 NC)',
    ]);
    // With the DestinationRule in the set, only the subset it lacks is left.
    const both = analyzeSources([
      { path: 'vs.yaml', text: VS },
      { path: 'dr.yaml', text: DR },
    ]);
    assert.equal(
      both.violations.filter((v) => v.field.endsWith('.subset')).length,
      1,
      'v2 is still missing',
    );
    // Live: a registered instance makes a host known.
    const { resources } = loadSources([{ path: 'vs.yaml', text: VS }]);
    const live = prospectiveInput(
      {
        ...EMPTY_INPUT,
        instances: [
          {
            id: 'ratings-1',
            service: 'ratings',
            namespace: 'default',
            address: '127.0.0.1',
            port: 1,
            labels: {},
            healthy: true,
            weight: 1,
          },
        ],
      } as TranslateInput,
      resources,
    );
    const warnings = referenceWarnings(resources, live, { offline: false });
    assert.deepEqual(
      warnings.map((w) => w.field),
      ['spec.gateways[1]', 'spec.http[0].route[0].destination.subset'],
    );
    assert.match(warnings[0]!.message, /not defined in the mesh/);
  });
});
