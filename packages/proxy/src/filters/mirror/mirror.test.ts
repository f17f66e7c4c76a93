import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@weft/testkit';
import type { RuntimeCluster } from '../../compile/types.js';
import { CompileError } from '../../routing/compile-error.js';
import { compileMirrors, shadowHost, shouldMirror } from './index.js';

// compileMirrors only looks clusters up; their insides do not matter here.
const clusters = new Map([['outbound|||b', { name: 'outbound|||b' } as RuntimeCluster]]);

describe('mirror filter', () => {
  it('resolves clusters, drops 0 % mirrors, warns about unknown clusters', () => {
    const warnings: string[] = [];
    const out = compileMirrors(
      [
        { cluster: 'outbound|||b', host: 'b', percent: 100 },
        { cluster: 'outbound|||b', host: 'b', percent: 0 },
        { cluster: 'outbound|||ghost', host: 'ghost', percent: 5 },
      ],
      clusters,
      (m) => void warnings.push(m),
    );
    assert.equal(out?.length, 2);
    assert.equal(out?.[0]?.cluster, clusters.get('outbound|||b'));
    assert.equal(out?.[0]?.perMillion, 1_000_000);
    assert.equal(out?.[1]?.cluster, undefined);
    assert.deepEqual(warnings, [
      'mirror to cluster "outbound|||ghost", which is not in the snapshot: not sent',
    ]);
    assert.equal(
      compileMirrors(undefined, clusters, () => undefined),
      undefined,
    );
    assert.equal(
      compileMirrors(
        [{ cluster: 'outbound|||b', host: 'b', percent: 0 }],
        clusters,
        () => undefined,
      ),
      undefined,
      'nothing left to mirror compiles to nothing',
    );
  });

  it('rejects bad entries with their index', () => {
    assert.throws(
      () => compileMirrors([{ cluster: 'c', host: 'c', percent: 120 }], clusters, () => undefined),
      (e: unknown) => e instanceof CompileError && e.path === 'mirrors[0].percent',
    );
  });

  it('copies the configured share (seeded)', () => {
    const [m] = compileMirrors(
      [{ cluster: 'outbound|||b', host: 'b', percent: 10 }],
      clusters,
      () => undefined,
    )!;
    const random = seededRandom(5);
    let n = 0;
    for (let i = 0; i < 2000; i++) if (shouldMirror(m!, random)) n++;
    assert.ok(Math.abs(n / 20 - 10) <= 3, `mirrored ${n / 20}%`);
  });

  it('adds -shadow to the host name, before the port', () => {
    assert.equal(shadowHost('httpbin:8000'), 'httpbin-shadow:8000');
    assert.equal(shadowHost('httpbin'), 'httpbin-shadow');
    assert.equal(
      shadowHost('reviews.default.svc.cluster.local'),
      'reviews.default.svc.cluster.local-shadow',
    );
    assert.equal(shadowHost('[::1]:8080'), '[::1]-shadow:8080');
  });
});
