import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CorsConfig } from '@weft/model';
import { compileHeaderOps, NO_HEADER_OPS } from '../../compile/header-ops.js';
import { CompileError } from '../../routing/compile-error.js';
import {
  checkCors,
  compileCors,
  corsResponseOps,
  CorsVerdict,
  isOriginAllowed,
  preflightHeaders,
} from './index.js';

const config = (over: Partial<CorsConfig> = {}): CorsConfig => ({
  allowOrigins: [
    { exact: 'https://shop.example.com' },
    { prefix: 'https://dev.' },
    { regex: 'https://[a-z]+\\.example\\.org' },
  ],
  allowMethods: ['GET', 'POST'],
  allowHeaders: ['x-custom', 'content-type'],
  exposeHeaders: ['x-served-by', 'x-trace'],
  maxAgeSeconds: 86400,
  allowCredentials: true,
  ...over,
});

describe('CORS filter', () => {
  it('matches origins with StringMatch, regexes on the whole value', () => {
    const c = compileCors(config());
    assert.ok(isOriginAllowed(c, 'https://shop.example.com'));
    assert.ok(isOriginAllowed(c, 'https://dev.anything'));
    assert.ok(isOriginAllowed(c, 'https://api.example.org'));
    assert.ok(!isOriginAllowed(c, 'https://api.example.org.evil.com'));
    assert.ok(!isOriginAllowed(c, 'https://evil.com'));
    assert.equal(c.allowAll, false);
  });

  it('lets every origin in when a matcher accepts "*" (Envoy)', () => {
    assert.ok(compileCors(config({ allowOrigins: [{ exact: '*' }] })).allowAll);
    assert.ok(compileCors(config({ allowOrigins: [{ regex: '.*' }] })).allowAll);
  });

  it('tells preflights, actual requests and the rest apart', () => {
    const c = compileCors(config());
    const ok = 'https://shop.example.com';
    assert.equal(checkCors(c, 'GET', undefined, undefined), CorsVerdict.None);
    assert.equal(checkCors(c, 'GET', '', undefined), CorsVerdict.None);
    assert.equal(checkCors(c, 'OPTIONS', ok, 'PUT'), CorsVerdict.Preflight);
    assert.equal(checkCors(c, 'OPTIONS', ok, undefined), CorsVerdict.Actual, 'plain OPTIONS');
    assert.equal(checkCors(c, 'GET', ok, undefined), CorsVerdict.Actual);
    assert.equal(checkCors(c, 'GET', 'https://evil.com', undefined), CorsVerdict.None);
    assert.equal(
      checkCors(c, 'OPTIONS', 'https://evil.com', 'GET'),
      CorsVerdict.None,
      'FORWARD (the default) passes an unmatched preflight upstream',
    );
    const ignore = compileCors(config({ unmatchedPreflights: 'IGNORE' }));
    assert.equal(
      checkCors(ignore, 'OPTIONS', 'https://evil.com', 'GET'),
      CorsVerdict.UnmatchedPreflight,
    );
  });

  it('answers a preflight with the origin and the policy', () => {
    const c = compileCors(config());
    assert.deepEqual(preflightHeaders(c, 'https://shop.example.com'), [
      'access-control-allow-origin',
      'https://shop.example.com',
      'access-control-allow-credentials',
      'true',
      'access-control-allow-methods',
      'GET,POST',
      'access-control-allow-headers',
      'x-custom,content-type',
      'access-control-max-age',
      '86400',
      'vary',
      'Origin',
    ]);
    const bare = compileCors({
      allowOrigins: [],
      allowMethods: [],
      allowHeaders: [],
      exposeHeaders: [],
    });
    assert.deepEqual(preflightHeaders(bare, 'o'), [
      'access-control-allow-origin',
      'o',
      'vary',
      'Origin',
    ]);
  });

  it('sets the CORS response headers over the route’s and the upstream’s', () => {
    const c = compileCors(config());
    const ops = corsResponseOps(c, NO_HEADER_OPS, 'https://shop.example.com');
    assert.deepEqual([...ops.drop].sort(), [
      'access-control-allow-credentials',
      'access-control-allow-origin',
      'access-control-expose-headers',
    ]);
    assert.deepEqual(ops.append, [
      'access-control-allow-origin',
      'https://shop.example.com',
      'access-control-allow-credentials',
      'true',
      'access-control-expose-headers',
      'x-served-by,x-trace',
      'vary',
      'Origin',
    ]);
    const base = compileHeaderOps(
      [
        {
          path: 'h',
          ops: {
            set: { 'access-control-allow-origin': '*', 'x-a': '1' },
            remove: ['server'],
          },
        },
      ],
      'response',
      () => undefined,
    );
    const merged = corsResponseOps(c, base, 'https://dev.x');
    assert.ok(merged.drop.has('server') && merged.drop.has('access-control-allow-origin'));
    assert.deepEqual(merged.append.slice(0, 4), [
      'x-a',
      '1',
      'access-control-allow-origin',
      'https://dev.x',
    ]);
  });

  it('rejects a policy it cannot apply', () => {
    assert.throws(
      () => compileCors(config({ allowOrigins: [{ regex: '(' }] })),
      (e: unknown) => e instanceof CompileError && e.path === 'allowOrigins[0]',
    );
    assert.throws(
      () => compileCors(config({ allowHeaders: ['a\r\nb'] })),
      (e: unknown) => e instanceof CompileError && e.path === 'allowHeaders[0]',
    );
    assert.throws(
      () => compileCors(config({ maxAgeSeconds: 1.5 })),
      (e: unknown) => e instanceof CompileError && e.path === 'maxAgeSeconds',
    );
  });
});
