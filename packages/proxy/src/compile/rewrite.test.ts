// uriRegexRewrite and the redirect fields beyond uri/authority/scheme/port
// (istio-semantics 1.4); the older cases are in actions.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileUriRegexRewrite, redirectLocation } from './rewrite.js';
import type { RedirectRouteAction } from './types.js';

describe('compileUriRegexRewrite (Envoy regex_rewrite)', () => {
  it("substitutes \\1-style groups, reordered (Envoy's documented example)", () => {
    const rw = compileUriRegexRewrite('^/service/([^/]+)(/.*)$', '\\2/instance/\\1');
    assert.equal(rw('/service/foo/v1/api'), '/v1/api/instance/foo');
    assert.equal(rw('/other/path'), '/other/path', 'no match leaves the path alone');
    // Istio's docs show `/customprefix/\\2/\\1` giving /customprefix/v1/api/update, but \\2
    // captured the slash: RE2 (and Envoy) give a double slash.
    const istio = compileUriRegexRewrite('^/service/([^/]+)(/.*)$', '/customprefix/\\2/\\1');
    assert.equal(istio('/service/update/v1/api'), '/customprefix//v1/api/update');
  });

  it('replaces every match; \\0 is the match, \\\\ a backslash, $ is plain text', () => {
    assert.equal(compileUriRegexRewrite('a', 'b')('/a/a/c'), '/b/b/c');
    assert.equal(compileUriRegexRewrite('v[0-9]', '[\\0]')('/v1/x/v2'), '/[v1]/x/[v2]');
    assert.equal(compileUriRegexRewrite('x', '\\\\')('/x'), '/\\');
    assert.equal(compileUriRegexRewrite('(x)', '$1$$')('/x'), '/$1$$');
  });

  it('an optional group that did not take part is empty', () => {
    assert.equal(compileUriRegexRewrite('^/a(/b)?(/c)$', '/z\\1\\2')('/a/c'), '/z/c');
  });

  it('rejects RE2 it cannot compile, escapes RE2 refuses and groups the regex lacks', () => {
    assert.throws(() => compileUriRegexRewrite('a(?=b)', 'x'), /invalid RE2/);
    assert.throws(() => compileUriRegexRewrite('(a)', '\\2'), /group \\2/);
    assert.throws(() => compileUriRegexRewrite('(a)', '\\n'), /backslash/);
  });
});

describe('redirectLocation: prefixRewrite and derivePort', () => {
  const r = (over: Partial<RedirectRouteAction>): RedirectRouteAction => ({
    type: 'redirect',
    code: 301,
    uri: undefined,
    authority: undefined,
    scheme: undefined,
    port: undefined,
    ...over,
  });
  const req = { scheme: 'http', host: 'shop.example.com:8080', path: '/old/a/b', query: 'x=1' };

  it('prefixRewrite replaces the matched prefix and keeps the query', () => {
    assert.equal(
      redirectLocation(r({ prefixRewrite: '/new/' }), { ...req, prefixLength: 5 }),
      'http://shop.example.com:8080/new/a/b?x=1',
    );
    assert.equal(
      redirectLocation(r({ prefixRewrite: '/v2' }), { ...req, prefixLength: 1, query: '' }),
      'http://shop.example.com:8080/v2old/a/b',
      'no uri match is the implicit prefix /',
    );
    assert.equal(
      redirectLocation(r({ prefixRewrite: '/x' }), { ...req, prefixLength: -1 }),
      'http://shop.example.com:8080/x?x=1',
    );
  });

  it('FROM_PROTOCOL_DEFAULT leaves the port out; FROM_REQUEST_PORT takes the request’s', () => {
    assert.equal(
      redirectLocation(r({ derivePort: 'FROM_PROTOCOL_DEFAULT' }), req),
      'http://shop.example.com/old/a/b?x=1',
    );
    assert.equal(
      redirectLocation(r({ scheme: 'https', derivePort: 'FROM_PROTOCOL_DEFAULT' }), req),
      'https://shop.example.com/old/a/b?x=1',
    );
    assert.equal(
      redirectLocation(r({ authority: 'b.com', derivePort: 'FROM_REQUEST_PORT' }), {
        ...req,
        port: 9090,
      }),
      'http://b.com:9090/old/a/b?x=1',
    );
    assert.equal(
      redirectLocation(r({ derivePort: 'FROM_REQUEST_PORT' }), { ...req, port: 80 }),
      'http://shop.example.com/old/a/b?x=1',
    );
  });
});
