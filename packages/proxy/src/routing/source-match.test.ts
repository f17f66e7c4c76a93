import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceMismatch } from './source-match.js';

describe('sourceMismatch (sourceLabels, sourceNamespace)', () => {
  const node = { labels: { app: 'web', version: 'v1' }, namespace: 'shop' };

  it('selects a proxy whose labels include every pair, in the namespace asked', () => {
    assert.equal(sourceMismatch({}, node), undefined);
    assert.equal(sourceMismatch({ sourceLabels: { app: 'web' } }, node), undefined);
    assert.equal(sourceMismatch({ sourceLabels: { app: 'web', version: 'v1' } }, node), undefined);
    assert.equal(sourceMismatch({ sourceNamespace: 'shop' }, node), undefined);
  });

  it('says why a block is for other proxies', () => {
    assert.deepEqual(sourceMismatch({ sourceLabels: { app: 'web', version: 'v2' } }, node), {
      field: 'sourceLabels',
      reason: '{app=web, version=v2} do not select this proxy (its labels: {app=web, version=v1})',
    });
    assert.equal(
      sourceMismatch({ sourceLabels: { team: 'a' } }, { labels: {}, namespace: 'x' })?.reason,
      '{team=a} do not select this proxy (its labels: {})',
    );
    assert.deepEqual(sourceMismatch({ sourceNamespace: 'other' }, node), {
      field: 'sourceNamespace',
      reason: '"other" is not this proxy\'s namespace "shop"',
    });
  });
});
