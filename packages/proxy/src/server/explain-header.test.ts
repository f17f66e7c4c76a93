import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asksForExplain, isLoopback } from './explain-header.js';

describe('x-weft-explain', () => {
  it('is asked for by the header in any case, unless its value is 0', () => {
    assert.equal(asksForExplain(['Host', 'a', 'X-Weft-Explain', '1']), true);
    assert.equal(asksForExplain(['x-weft-explain', 'yes']), true);
    assert.equal(asksForExplain(['x-weft-explain', '0']), false);
    assert.equal(asksForExplain(['Host', 'a', 'x-weft-explains', '1']), false);
  });

  it('is answered for loopback clients only, by default', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      assert.equal(isLoopback(a), true, a);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.127', undefined])
      assert.equal(isLoopback(a), false, String(a));
  });
});
