// Property-based fuzzing of route matching: snapshots with random (often invalid) match
// blocks either compile or are refused with a CompileError naming the field (the NACK path);
// nothing else may be thrown. A table that compiled then matches random requests, and
// resolves random Host headers, without ever throwing. Fixed seed, bounded runs.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ProxyNode, Snapshot } from '@weft/model';
import { compileSnapshot } from '../compile/compile-snapshot.js';
import { createHealthTracker } from '../outlier/health-tracker.js';
import { CompileError, CompileErrors } from './compile-error.js';
import { findMatchingBlock } from './match-block.js';
import { createRequestView } from './request-view.js';

const RUNS = { numRuns: 200, seed: 0x5eed };
const node: ProxyNode = { id: 'fuzz', role: 'sidecar', namespace: 'default', labels: {} };

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '',
    '/',
    '/api',
    '*',
    '.*',
    '(',
    '[a-',
    '\\',
    '(?i)x',
    'a{99999}',
    '%zz',
    '\u0000',
  ),
);
const stringMatch = fc.oneof(
  fc.record({ exact: text }),
  fc.record({ prefix: text }),
  fc.record({ regex: text }),
  fc.constant({ present: true }),
  fc.record({ exact: text, regex: text }),
  fc.constant({}),
  fc.anything({ maxDepth: 1 }),
);
const block = fc.record(
  {
    uri: stringMatch,
    method: stringMatch,
    authority: stringMatch,
    scheme: stringMatch,
    ignoreUriCase: fc.oneof(fc.boolean(), fc.anything({ maxDepth: 0 })),
    headers: fc.dictionary(text, stringMatch, { maxKeys: 3 }),
    withoutHeaders: fc.dictionary(text, stringMatch, { maxKeys: 2 }),
    queryParams: fc.dictionary(text, stringMatch, { maxKeys: 2 }),
    port: fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.anything({ maxDepth: 0 })),
  },
  { requiredKeys: [] },
);
const domain = fc.oneof(
  fc.domain(),
  fc.constantFrom('*', '*.example.com', 'UPPER.example.com', '', '*.', 'a..b'),
  text,
);

function snapshotOf(domains: string[][], blocks: unknown[][]): Snapshot {
  return {
    version: 1,
    gateways: [],
    clusters: [{ name: 'c', service: 'c', lb: 'ROUND_ROBIN', endpoints: [] }],
    mesh: {
      virtualHosts: domains.map((d, i) => ({
        name: `vh${i}`,
        domains: d,
        routes: (blocks[i] ?? []).map((b, j) => ({
          id: `r${i}.${j}`,
          matches: [b],
          action: { type: 'route', destinations: [{ cluster: 'c', weight: 1, host: 'c' }] },
        })),
      })),
    },
  } as Snapshot;
}

const request = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'get'), text),
  path: fc.oneof(fc.webPath(), text),
  query: fc.oneof(
    fc.constant(''),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('a=%zz', '=&&=', 'a'),
  ),
  authority: domain,
  scheme: fc.constantFrom('http', 'https', ''),
  port: fc.integer({ min: 0, max: 70000 }),
  headers: fc.dictionary(text, fc.string({ maxLength: 10 }), { maxKeys: 4 }),
});

describe('route matching (fuzz)', () => {
  it('compiles or refuses with a CompileError; a compiled table never throws on a request', () => {
    let compiled = 0;
    fc.assert(
      fc.property(
        fc.array(fc.array(domain, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.array(block, { maxLength: 3 }), { maxLength: 3 }),
        fc.array(request, { minLength: 1, maxLength: 5 }),
        (domains, blocks, requests) => {
          let table;
          try {
            table = compileSnapshot(snapshotOf(domains, blocks), {
              node,
              health: createHealthTracker(),
            });
          } catch (err) {
            assert.ok(err instanceof CompileError || err instanceof CompileErrors, String(err));
            return;
          }
          compiled++;
          for (const r of requests) {
            const view = createRequestView(r);
            const vhost = table.mesh.lookup(r.authority);
            if (vhost === undefined) continue;
            for (const route of vhost.routes) findMatchingBlock(route.blocks, view);
          }
        },
      ),
      RUNS,
    );
    // The generator must reach the matching half too, or the test proves little.
    assert.ok(compiled > RUNS.numRuns / 10, `only ${compiled} snapshots compiled`);
  });
});
