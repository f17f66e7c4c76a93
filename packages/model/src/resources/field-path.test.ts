import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFieldPath, parseFieldPath } from './field-path.js';

describe('field paths', () => {
  it('formats keys and indices as users read them', () => {
    assert.equal(
      formatFieldPath(['spec', 'http', 0, 'route', 1, 'weight']),
      'spec.http[0].route[1].weight',
    );
    assert.equal(
      formatFieldPath(['spec', 'http', 0, 'match', 0, 'headers', 'end-user']),
      'spec.http[0].match[0].headers.end-user',
    );
    assert.equal(
      formatFieldPath(['metadata', 'labels', 'app.kubernetes.io/name']),
      'metadata.labels["app.kubernetes.io/name"]',
    );
    assert.equal(formatFieldPath([]), '');
  });

  it('parses back what it formats', () => {
    for (const segs of [
      ['spec', 'http', 0, 'route', 12, 'weight'],
      ['metadata', 'labels', 'app.kubernetes.io/name'],
      ['spec', 'x', '@request.auth.claims[groups]', 'exact'],
      ['spec', 'x', 'a"b\\c'],
    ]) {
      assert.deepEqual(parseFieldPath(formatFieldPath(segs)), segs);
    }
  });

  it('refuses malformed paths', () => {
    assert.equal(parseFieldPath('spec.http[x]'), undefined);
    assert.equal(parseFieldPath('spec.http[0'), undefined);
    assert.equal(parseFieldPath('spec["a]'), undefined);
  });
});
