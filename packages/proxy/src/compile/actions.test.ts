import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyHeaderOps, compileHeaderOps, NO_HEADER_OPS } from './header-ops.js';
import {
  compileRetryPolicy,
  isRetriableResponse,
  retryBackoffMs,
  retryPolicyFor,
} from './retry-policy.js';
import { redirectLocation, rewritePath } from './rewrite.js';
import type { RedirectRouteAction } from './types.js';

describe('rewritePath (Envoy prefix_rewrite)', () => {
  it('replaces the matched prefix', () => {
    assert.equal(rewritePath('/foo/x', 4, '/bar'), '/bar/x');
    assert.equal(
      rewritePath('/foo/x', 4, '/'),
      '//x',
      'prefix /foo + rewrite / gives //x, as Istio',
    );
    assert.equal(rewritePath('/foo/x', 5, '/'), '/x');
  });
  it('replaces the whole path after exact or regex matches', () => {
    assert.equal(rewritePath('/exact', -1, '/new'), '/new');
  });
  it('implicit prefix "/" + rewrite /v1 turns /abc into /v1abc', () => {
    assert.equal(rewritePath('/abc', 1, '/v1'), '/v1abc');
  });
});

describe('redirectLocation', () => {
  const r = (over: Partial<RedirectRouteAction>): RedirectRouteAction => ({
    type: 'redirect',
    code: 301,
    uri: undefined,
    authority: undefined,
    scheme: undefined,
    port: undefined,
    ...over,
  });
  const req = { scheme: 'http', host: 'shop.example.com:8080', path: '/old/a', query: 'x=1' };

  it('defaults to the request and keeps the query', () => {
    assert.equal(redirectLocation(r({}), req), 'http://shop.example.com:8080/old/a?x=1');
    assert.equal(redirectLocation(r({ uri: '/new' }), req), 'http://shop.example.com:8080/new?x=1');
    assert.equal(
      redirectLocation(r({ uri: '/new?y=2' }), req),
      'http://shop.example.com:8080/new?y=2',
    );
    assert.equal(
      redirectLocation(r({ uri: '/new' }), { ...req, query: '' }),
      'http://shop.example.com:8080/new',
    );
  });

  it('authority, scheme and port', () => {
    assert.equal(redirectLocation(r({ authority: 'b.com' }), req), 'http://b.com/old/a?x=1');
    assert.equal(
      redirectLocation(r({ port: 9443, scheme: 'https' }), req),
      'https://shop.example.com:9443/old/a?x=1',
    );
    assert.equal(
      redirectLocation(r({ port: 443, scheme: 'https' }), req),
      'https://shop.example.com/old/a?x=1',
    );
    assert.equal(
      redirectLocation(r({ scheme: 'https' }), { ...req, host: 'shop.example.com:80' }),
      'https://shop.example.com/old/a?x=1',
      'the old default port is dropped when the scheme changes',
    );
    assert.equal(
      redirectLocation(r({ scheme: 'https' }), req),
      'https://shop.example.com:8080/old/a?x=1',
    );
    assert.equal(
      redirectLocation(r({ port: 81 }), { ...req, host: '[::1]:8080' }),
      'http://[::1]:81/old/a?x=1',
    );
  });
});

describe('compileHeaderOps', () => {
  const warnings: string[] = [];
  const warn = (m: string) => void warnings.push(m);

  it('no ops compile to the shared empty value', () => {
    assert.equal(compileHeaderOps([{ path: 'h', ops: undefined }], 'request', warn), NO_HEADER_OPS);
    assert.equal(compileHeaderOps([{ path: 'h', ops: {} }], 'request', warn), NO_HEADER_OPS);
  });

  it('remove, then set (overwrite), then add (append)', () => {
    const ops = compileHeaderOps(
      [
        {
          path: 'h',
          ops: { remove: ['X-Secret'], set: { 'X-Env': 'prod' }, add: { 'x-tag': 'b' } },
        },
      ],
      'request',
      warn,
    );
    const out = applyHeaderOps(
      ['X-Secret', 's', 'x-env', 'dev', 'X-Tag', 'a', 'Accept', '*/*'],
      ops,
    );
    assert.deepEqual(out, ['X-Tag', 'a', 'Accept', '*/*', 'x-env', 'prod', 'x-tag', 'b']);
  });

  it('destination level applies after route level: its set wins, its remove removes', () => {
    const ops = compileHeaderOps(
      [
        {
          path: 'route',
          ops: { set: { 'x-a': 'route', 'x-b': 'route' }, add: { 'x-c': 'route' } },
        },
        { path: 'dest', ops: { set: { 'x-a': 'dest' }, remove: ['x-c'] } },
      ],
      'request',
      warn,
    );
    assert.deepEqual(ops.append, ['x-b', 'route', 'x-a', 'dest']);
    assert.deepEqual([...ops.drop].sort(), ['x-a', 'x-b', 'x-c']);
  });

  it('set host becomes an authority rewrite; Host cannot be removed or added; pseudo-headers ignored', () => {
    warnings.length = 0;
    const ops = compileHeaderOps(
      [
        {
          path: 'h',
          ops: { set: { Host: 'b.internal', ':path': '/x' }, remove: ['host'], add: { host: 'c' } },
        },
      ],
      'request',
      warn,
    );
    assert.equal(ops.authority, 'b.internal');
    assert.equal(ops.empty, true);
    assert.equal(warnings.length, 3);
  });

  it('rejects invalid names and values', () => {
    assert.throws(
      () => compileHeaderOps([{ path: 'h', ops: { set: { 'bad name': 'x' } } }], 'request', warn),
      /h\.set/,
    );
    assert.throws(
      () => compileHeaderOps([{ path: 'h', ops: { add: { 'x-a': 'a\nb' } } }], 'response', warn),
      /h\.add\.x-a/,
    );
  });
});

describe('compileRetryPolicy', () => {
  it("no policy is Weft's default: connect failures for all, reset/503 for idempotent methods", () => {
    const p = compileRetryPolicy(undefined);
    assert.equal(p.retries, 2);
    assert.equal(p.connectFailure, true);
    assert.equal(p.reset, false);
    assert.deepEqual(p.grpcCodes, []);
    assert.equal(isRetriableResponse(p, 503, -1), false, 'a POST that reached the app: never');
    const post = retryPolicyFor(p, 'POST');
    assert.equal(post, p);
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) {
      const q = retryPolicyFor(p, m);
      assert.equal(q.retries, 2, m);
      assert.equal(q.connectFailure && q.reset, true, m);
      assert.equal(isRetriableResponse(q, 503, -1), true, m);
      assert.equal(isRetriableResponse(q, 500, -1), false, m);
      assert.equal(q.perTryTimeoutRetriable, false, m);
    }
    assert.equal(retryPolicyFor(p, 'PATCH'), p);
  });

  it('a route that lists conditions gets them for every method, POST included', () => {
    const p = compileRetryPolicy({ attempts: 3, retryOn: ['5xx'], retriableStatusCodes: [] });
    assert.equal(retryPolicyFor(p, 'POST'), p);
    assert.equal(isRetriableResponse(p, 503, -1), true);
    assert.equal(p.idempotent, undefined);
  });

  it('retriable-headers and backoff', () => {
    const p = compileRetryPolicy({
      attempts: 1,
      retryOn: ['retriable-headers'],
      retriableStatusCodes: [],
      backoffBaseMs: 100,
    });
    assert.equal(p.retriableHeaders, true);
    assert.equal(p.backoffMaxMs, 1000);
    assert.throws(
      () =>
        compileRetryPolicy({
          attempts: 1,
          retryOn: [],
          retriableStatusCodes: [],
          backoffBaseMs: -1,
        }),
      /backoffBaseMs/,
    );
  });

  it('attempts 0 disables retries; attempts without retryOn uses the default conditions', () => {
    assert.equal(
      compileRetryPolicy({ attempts: 0, retryOn: [], retriableStatusCodes: [] }).retries,
      0,
    );
    const p = compileRetryPolicy({ attempts: 5, retryOn: [], retriableStatusCodes: [] });
    assert.equal(p.retries, 5);
    assert.equal(p.connectFailure, true);
  });

  it('5xx, gateway-error, retriable-4xx, codes', () => {
    const fivexx = compileRetryPolicy({ attempts: 1, retryOn: ['5xx'], retriableStatusCodes: [] });
    assert.equal(isRetriableResponse(fivexx, 500, -1), true);
    assert.equal(fivexx.reset && fivexx.connectFailure && fivexx.perTryTimeoutRetriable, true);
    const gw = compileRetryPolicy({
      attempts: 1,
      retryOn: ['gateway-error'],
      retriableStatusCodes: [],
    });
    assert.equal(isRetriableResponse(gw, 500, -1), false);
    assert.equal(isRetriableResponse(gw, 504, -1), true);
    const c4 = compileRetryPolicy({
      attempts: 1,
      retryOn: ['retriable-4xx', '429'],
      retriableStatusCodes: [],
    });
    assert.equal(isRetriableResponse(c4, 409, -1), true);
    assert.equal(isRetriableResponse(c4, 429, -1), true);
    assert.equal(isRetriableResponse(c4, 404, -1), false);
    assert.equal(c4.connectFailure, false);
    const codes = compileRetryPolicy({
      attempts: 1,
      retryOn: ['retriable-status-codes'],
      retriableStatusCodes: [503],
    });
    assert.equal(isRetriableResponse(codes, 503, -1), true);
  });

  it('backoff is full jitter over a growing window capped at 10x base', () => {
    const p = compileRetryPolicy(undefined);
    assert.equal(
      retryBackoffMs(p, 1, () => 0.999),
      24,
    );
    assert.equal(
      retryBackoffMs(p, 3, () => 0.5),
      50,
    );
    assert.equal(
      retryBackoffMs(p, 20, () => 0.999),
      249,
    );
  });
});
