// Property-based fuzzing of the YAML loader: whatever text arrives (garbage, YAML of any
// shape, Istio documents with random edits), loadSources returns violations and never throws,
// every violation has a message, and every error-free resource passed validation. Bounded
// runs with a fixed seed, so the test is quick and any failure replays.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadSources } from './yaml.js';

const RUNS = { numRuns: 100, seed: 0x7e57 };
/** Each run of these loads a whole multi-document file. */
const FILE_RUNS = { numRuns: 60, seed: 0x7e57 };

const SEED_YAML = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
    - match:
        - headers:
            end-user: { exact: jason }
          uri: { prefix: /api }
      route:
        - destination: { host: reviews, subset: v2 }
          weight: 80
        - destination: { host: reviews, subset: v1 }
          weight: 20
      timeout: 2s
      retries: { attempts: 3, perTryTimeout: 1s, retryOn: 5xx }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/default/sa/productpage]
      to:
        - operation:
            methods: [GET]
            paths: [/reviews/*]
      when:
        - key: request.headers[x-id]
          values: ['*']
`;

function check(text: string) {
  const out = loadSources([{ path: 'fuzz.yaml', text }]);
  assert.ok(Array.isArray(out.resources));
  for (const v of out.violations) {
    assert.equal(typeof v.message, 'string');
    assert.ok(v.message.length > 0);
    assert.ok(v.severity === 'error' || v.severity === 'warning');
  }
  return out;
}

/** A random edit: delete, insert or replace a span of the text. */
const edit = fc.record({
  at: fc.nat(),
  len: fc.nat({ max: 12 }),
  insert: fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(':', '-', ' ', '\n', '[', '{', '}', ']', '"', "'", '*', '&a', '!!', '0x', '~'),
  ),
});

describe('YAML loader (fuzz)', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        check(text);
      }),
      RUNS,
    );
  });

  it('never throws on YAML of any shape', () => {
    fc.assert(
      fc.property(fc.array(fc.anything({ maxDepth: 3, maxKeys: 6 }), { maxLength: 3 }), (docs) => {
        check(docs.map((d) => stringify(d)).join('---\n'));
      }),
      RUNS,
    );
  });

  it('never throws on Istio documents with random fields', () => {
    const kind = fc.constantFrom(
      'VirtualService',
      'DestinationRule',
      'Gateway',
      'ServiceEntry',
      'AuthorizationPolicy',
      'PeerAuthentication',
    );
    const group = fc.constantFrom(
      'networking.istio.io/v1',
      'networking.istio.io/v1alpha3',
      'security.istio.io/v1',
      'v1',
    );
    fc.assert(
      fc.property(
        group,
        kind,
        fc.anything({ maxDepth: 4, maxKeys: 6 }),
        fc.anything({ maxDepth: 2 }),
        (g, k, spec, meta) => {
          check(stringify({ apiVersion: g, kind: k, metadata: meta, spec }));
          check(stringify({ apiVersion: g, kind: k, metadata: { name: 'x' }, spec }));
        },
      ),
      RUNS,
    );
  });

  it('never throws on a real file with random edits', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        let text = SEED_YAML;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.insert + text.slice(at + e.len);
        }
        check(text);
      }),
      FILE_RUNS,
    );
  });

  it('the unedited seed file loads without errors (the fuzz starts from valid input)', () => {
    const out = check(SEED_YAML);
    assert.deepEqual(
      out.violations.filter((v) => v.severity === 'error'),
      [],
    );
    assert.equal(out.resources.length, 3);
  });
});
