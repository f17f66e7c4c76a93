import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Violation } from '../../violation.js';
import { virtualServiceKind } from './index.js';

const ctx = { namespace: 'default' };
const check = (spec: unknown) => virtualServiceKind.validateSpec(spec, ctx);
const show = (vs: Violation[], severity: Violation['severity']) =>
  vs.filter((v) => v.severity === severity).map((v) => `${v.field}: ${v.message}`);
const errors = (spec: unknown) => show(check(spec).violations, 'error');
const warnings = (spec: unknown) => show(check(spec).violations, 'warning');

const to = (host: string, extra: Record<string, unknown> = {}) => ({
  destination: { host },
  ...extra,
});
const withRule = (rule: Record<string, unknown>) => ({ hosts: ['reviews'], http: [rule] });

describe('VirtualService', () => {
  it('types and accepts everything Weft implements without a word', () => {
    const spec = {
      hosts: ['reviews', '*.example.com', '10.0.0.1'],
      gateways: ['mesh', 'istio-system/ingress'],
      http: [
        {
          name: 'jason',
          match: [
            {
              name: 'm',
              uri: { prefix: '/api' },
              ignoreUriCase: true,
              method: { exact: 'GET' },
              authority: { regex: '(?i)reviews(:\\d+)?' },
              scheme: { exact: 'http' },
              headers: { 'end-user': { exact: 'jason' }, 'x-present': {}, 'x-any': { regex: '*' } },
              withoutHeaders: { 'x-skip': { prefix: 'y' } },
              queryParams: { v: { regex: '\\d+$' } },
              port: 9080,
            },
          ],
          route: [
            to('reviews', { weight: 80 }),
            {
              destination: { host: 'reviews', subset: 'v2', port: { number: 9080 } },
              weight: 20,
              headers: { request: { set: { a: 'b' } } },
            },
          ],
          rewrite: { uri: '/v1', authority: 'other' },
          fault: {
            delay: { fixedDelay: '5s', percentage: { value: 0.1 } },
            abort: { httpStatus: 503, percentage: { value: 50 } },
          },
          mirror: { host: 'reviews', subset: 'v3' },
          mirrorPercentage: { value: 25 },
          corsPolicy: {
            allowOrigins: [{ exact: 'https://a.example' }, { regex: 'https://.*\\.b\\.example' }],
            allowOrigin: ['https://old.example'],
            allowMethods: ['GET', 'POST'],
            allowHeaders: ['x-custom', 'Content-Type'],
            exposeHeaders: ['x-served-by'],
            maxAge: '24h',
            allowCredentials: true,
            unmatchedPreflights: 'IGNORE',
          },
          timeout: '1.5s',
          retries: {
            attempts: 3,
            perTryTimeout: '100ms',
            retryOn: 'gateway-error,connect-failure,503',
          },
          headers: {
            request: { set: { x: '1' }, add: { y: '2' }, remove: ['z'] },
            response: { remove: ['foo'] },
          },
        },
        {
          match: [{ uri: { exact: '/old' } }],
          redirect: { uri: '/new', authority: 'a', scheme: 'https', port: 8443, redirectCode: 308 },
        },
        {
          match: [{ uri: { prefix: '/legacy/' } }, { headers: { x: { exact: 'y' } } }],
          redirect: { prefixRewrite: '/v2/', derivePort: 'FROM_PROTOCOL_DEFAULT' },
        },
        {
          match: [{ uri: { prefix: '/service/' } }],
          route: [to('reviews')],
          rewrite: {
            uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '/customprefix/\\2/\\1' },
          },
          mirrors: [
            { destination: { host: 'shadow-a' }, percentage: { value: 10 } },
            { destination: { host: 'shadow-b', port: { number: 8080 } } },
          ],
          fault: { delay: { fixedDelay: '100ms', percent: 5 } },
        },
        {
          match: [{ uri: { exact: '/down' } }],
          directResponse: { status: 503, body: { string: 'down' } },
        },
      ],
    };
    const r = check(spec);
    assert.deepEqual(r.violations, []);
    assert.equal(r.spec?.http?.[0]?.route?.[1]?.destination.port?.number, 9080);
    assert.equal(r.spec?.http?.[1]?.redirect?.redirectCode, 308);
  });

  it('warns about each Istio field Weft does not implement yet, at its path', () => {
    const spec = {
      hosts: ['reviews'],
      exportTo: ['.'],
      http: [
        {
          match: [{ uri: { prefix: '/' }, sourceLabels: { app: 'a' }, gateways: ['mesh'] }],
          route: [to('reviews')],
          fault: {
            delay: { exponentialDelay: '1s', percentage: { value: 1 } },
            abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 10 } },
          },
          retries: { attempts: 1, retryRemoteLocalities: true },
        },
        { match: [{ uri: { prefix: '/r' } }], redirect: { derivePort: 'FROM_REQUEST_PORT' } },
        {
          match: [{ uri: { prefix: '/d' } }],
          directResponse: { status: 200, body: { bytes: 'aGk=' } },
        },
      ],
      tcp: [{ route: [to('mongo')] }],
      tls: [{ match: [{ sniHosts: ['a.example.com'] }], route: [to('a')] }],
    };
    assert.deepEqual(errors(spec), []);
    assert.deepEqual(warnings(spec), [
      'spec.exportTo: not supported by Weft yet; ignored',
      'spec.http[0].match[0].gateways: not supported by Weft yet; ignored',
      'spec.http[0].fault.delay.exponentialDelay: not supported by Weft yet; ignored',
      'spec.http[0].fault.abort.grpcStatus: not supported by Weft yet; ignored',
      'spec.http[0].retries.retryRemoteLocalities: not supported by Weft yet; ignored',
      'spec.http[2].directResponse.body.bytes: not supported by Weft yet; ignored',
      'spec.tcp: not supported by Weft yet; ignored',
      'spec.tls: not supported by Weft yet; ignored',
    ]);
    assert.ok(check(spec).spec, 'warnings alone keep the resource');
  });

  it('warns about unknown fields at any depth and still applies the rest', () => {
    const spec = withRule({
      route: [{ destination: { host: 'r', hots: 'x' }, wieght: 5 }],
      colour: 'red',
    });
    assert.deepEqual(warnings(spec).sort(), [
      'spec.http[0].colour: unknown field "colour"; ignored',
      'spec.http[0].route[0].destination.hots: unknown field "hots"; ignored',
      'spec.http[0].route[0].wieght: unknown field "wieght"; ignored',
    ]);
    const r = check(spec);
    assert.deepEqual(r.spec?.http?.[0], { route: [{ destination: { host: 'r' } }] });
  });

  it('accepts protobuf field names (snake_case) and names them as written', () => {
    const spec = withRule({
      match: [{ uri: { exact: '/a' } }],
      redirect: { uri: '/b', redirect_code: 302, derive_port: 'FROM_REQUEST_PORT' },
    });
    const r = check(spec);
    assert.equal(r.spec?.http?.[0]?.redirect?.redirectCode, 302);
    assert.equal(r.spec?.http?.[0]?.redirect?.derivePort, 'FROM_REQUEST_PORT');
    assert.deepEqual(show(r.violations, 'warning'), []);
    assert.deepEqual(
      errors(
        withRule({
          match: [{ uri: { exact: '/a' } }],
          redirect: { uri: '/b', prefix_rewrite: '/' },
        }),
      ),
      [
        'spec.http[0].redirect.prefix_rewrite: cannot be combined with uri',
        'spec.http[0].redirect.prefix_rewrite: needs a uri prefix match, but match[0].uri is not a prefix match',
      ],
    );
    assert.deepEqual(errors(withRule({ route: [to('a')], timeout: '1s', per_try: 1 })), []);
  });

  it('rejects a fault on a redirect or a direct response, as Istio does', () => {
    const fault = { abort: { httpStatus: 503, percentage: { value: 10 } } };
    assert.deepEqual(errors(withRule({ redirect: { uri: '/b' }, fault })), [
      'spec.http[0].fault: cannot be combined with redirect',
    ]);
    assert.deepEqual(errors(withRule({ directResponse: { status: 200 }, fault })), [
      'spec.http[0].fault: cannot be combined with directResponse',
    ]);
    assert.deepEqual(errors(withRule({ route: [to('a')], fault })), []);
  });

  it('reports schema errors with full paths', () => {
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a', { weight: 'ten' }), { destination: {} }],
          timeout: '5',
          retries: { perTryTimeout: 2 },
        }),
      ),
      [
        'spec.http[0].route[0].weight: Invalid input: expected number, received string',
        'spec.http[0].route[1].destination.host: required',
        'spec.http[0].timeout: invalid duration: expected a number with a unit, e.g. 1s, 0.5s, 100ms, 3m, 24h',
        'spec.http[0].retries.perTryTimeout: Invalid input: expected string, received number',
      ],
    );
    assert.deepEqual(errors(withRule({ match: [{ port: 70000 }], route: [to('a')] })), [
      'spec.http[0].match[0].port: port must be between 1 and 65535',
    ]);
  });

  it('rejects negative weights and an all-zero split', () => {
    assert.deepEqual(
      errors(withRule({ route: [to('a', { weight: -1 }), to('b', { weight: 5 })] })),
      ['spec.http[0].route[0].weight: must not be negative'],
    );
    assert.deepEqual(errors(withRule({ route: [to('a'), to('b', { weight: 0 })] })), [
      'spec.http[0].route: with more than one destination, at least one weight must be greater than 0',
    ]);
    assert.deepEqual(
      errors(withRule({ route: [to('a', { weight: 0 })] })),
      [],
      'one destination takes everything',
    );
  });

  it('checks regexes with RE2', () => {
    assert.deepEqual(
      errors(
        withRule({
          match: [{ uri: { regex: '/a(' }, headers: { h: { regex: '[z-a]' } } }],
          route: [to('a')],
        }),
      ).map((e) => e.replace(/: invalid RE2 regular expression: .*/, '')),
      ['spec.http[0].match[0].uri.regex', 'spec.http[0].match[0].headers.h.regex'],
    );
    // Lookahead is valid JavaScript but not RE2.
    assert.equal(
      errors(withRule({ match: [{ uri: { regex: 'a(?=b)' } }], route: [to('a')] })).length,
      1,
    );
  });

  it('requires StringMatch to be a oneof', () => {
    assert.deepEqual(
      errors(
        withRule({ match: [{ uri: { exact: '/a', prefix: '/a' }, method: {} }], route: [to('a')] }),
      ),
      [
        'spec.http[0].match[0].uri: set only one of exact, prefix, regex (found exact, prefix)',
        'spec.http[0].match[0].method: set one of exact, prefix, regex',
      ],
    );
  });

  it('keeps route, redirect, directResponse and delegate apart', () => {
    assert.deepEqual(errors(withRule({ route: [to('a')], redirect: { uri: '/b' } })), [
      'spec.http[0].redirect: cannot be combined with route',
    ]);
    assert.deepEqual(
      errors(
        withRule({
          redirect: { uri: '/b' },
          directResponse: { status: 200 },
          rewrite: { uri: '/c' },
        }),
      ),
      [
        'spec.http[0].directResponse: cannot be combined with redirect',
        'spec.http[0].rewrite: cannot be combined with redirect',
      ],
    );
    assert.deepEqual(errors(withRule({ name: 'nothing' })), [
      'spec.http[0]: one of route, redirect, directResponse or delegate is required',
    ]);
  });

  it('checks status codes', () => {
    assert.deepEqual(errors(withRule({ redirect: { uri: '/b', redirectCode: 200 } })), [
      'spec.http[0].redirect.redirectCode: must be a 3xx status code',
    ]);
    assert.deepEqual(errors(withRule({ directResponse: { status: 600 } })), [
      'spec.http[0].directResponse.status: must be between 200 and 599',
    ]);
    assert.deepEqual(errors(withRule({ directResponse: {} })), [
      'spec.http[0].directResponse.status: required',
    ]);
  });

  it('checks retries', () => {
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a')],
          retries: { attempts: -1, perTryTimeout: '0s', retryOn: '5xx,bogus,42' },
        }),
      ),
      [
        'spec.http[0].retries.attempts: must not be negative',
        'spec.http[0].retries.perTryTimeout: must be at least 1ms',
        'spec.http[0].retries.retryOn: unknown retry policy "bogus"',
        'spec.http[0].retries.retryOn: unknown retry policy "42"',
      ],
    );
  });

  it('checks fault injection', () => {
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a')],
          fault: { abort: { httpStatus: 700 }, delay: { percentage: { value: 101 } } },
        }),
      ),
      [
        'spec.http[0].fault.delay.percentage.value: percentage must be 0-100',
        'spec.http[0].fault.delay: set exactly one of fixedDelay, exponentialDelay',
        'spec.http[0].fault.abort.httpStatus: must be between 200 and 599',
      ],
    );
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a')],
          fault: { delay: { fixedDelay: '0s', percent: 101 }, abort: { percentage: { value: 1 } } },
        }),
      ),
      [
        'spec.http[0].fault.delay.fixedDelay: must be at least 1ms',
        'spec.http[0].fault.delay.percent: percentage must be 0-100',
        'spec.http[0].fault.abort: set exactly one of httpStatus, grpcStatus, http2Error',
      ],
    );
    assert.deepEqual(errors(withRule({ route: [to('a')], fault: {} })), [
      'spec.http[0].fault: set delay, abort or both',
    ]);
    // Istio's default for an absent percentage is 0%, which surprises: say so.
    assert.deepEqual(
      warnings(
        withRule({
          route: [to('a')],
          fault: { delay: { fixedDelay: '1s' }, abort: { httpStatus: 503 } },
        }),
      ),
      [
        'spec.http[0].fault.delay: no percentage: Istio delays no request (an absent percentage is 0%)',
        'spec.http[0].fault.abort: no percentage: Istio aborts no request (an absent percentage is 0%)',
      ],
    );
    assert.deepEqual(
      warnings(
        withRule({
          route: [to('a')],
          fault: { abort: { http2Error: 'REFUSED_STREAM', percentage: { value: 1 } } },
        }),
      ),
      ['spec.http[0].fault.abort.http2Error: not supported by Weft yet; ignored'],
    );
  });

  it('checks mirrors', () => {
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a')],
          mirror: { host: 'b_c' },
          mirrors: [{ destination: { host: 'd' }, percentage: { value: 120 } }],
          mirrorPercent: 150,
        }),
      ),
      [
        'spec.http[0].mirrors[0].percentage.value: percentage must be 0-100',
        'spec.http[0].mirror.host: invalid host "b_c": expected a DNS name, optionally with a "*." prefix, or "*"',
        'spec.http[0].mirrors: cannot be combined with mirror',
        'spec.http[0].mirrorPercent: percentage must be 0-100',
      ],
    );
    assert.deepEqual(
      warnings(withRule({ route: [to('a')], mirrorPercentage: { value: 5 }, mirrorPercent: 5 })),
      [
        'spec.http[0].mirrorPercentage: has no effect without mirror',
        'spec.http[0].mirrorPercent: has no effect without mirror',
      ],
    );
  });

  it('checks corsPolicy as Istio does', () => {
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a')],
          corsPolicy: {
            allowOrigins: [{ exact: '' }, { regex: '(' }, {}],
            allowMethods: ['GET', 'get', 'FETCH'],
            allowHeaders: ['x-ok', 'bad header'],
            exposeHeaders: ['*'],
            maxAge: '1.5s',
            unmatchedPreflights: 'DROP',
          },
        }),
      ).map((e) => e.replace(/: invalid RE2 regular expression: .*/, ': invalid RE2')),
      [
        'spec.http[0].corsPolicy.unmatchedPreflights: Invalid option: expected one of "UNSPECIFIED"|"FORWARD"|"IGNORE"',
        'spec.http[0].corsPolicy.allowOrigins[0].exact: must not be empty',
        'spec.http[0].corsPolicy.allowOrigins[1].regex: invalid RE2',
        'spec.http[0].corsPolicy.allowOrigins[2]: set one of exact, prefix, regex',
        'spec.http[0].corsPolicy.allowMethods[1]: "get" is not a supported HTTP method',
        'spec.http[0].corsPolicy.allowMethods[2]: "FETCH" is not a supported HTTP method',
        'spec.http[0].corsPolicy.allowHeaders[1]: "bad header" is not a valid header name',
        'spec.http[0].corsPolicy.exposeHeaders[0]: "*" is not a valid header name',
        'spec.http[0].corsPolicy.maxAge: is accurate only to seconds; use a whole number of seconds',
      ],
    );
  });

  it('checks uriRegexRewrite with RE2 and its capture references', () => {
    const rw = (match: string, rewrite: string) =>
      errors(withRule({ route: [to('a')], rewrite: { uriRegexRewrite: { match, rewrite } } })).map(
        (e) => e.replace(/: invalid RE2 regular expression: .*/, ': invalid RE2'),
      );
    assert.deepEqual(rw('^/a/(.*)$', '/b/\\1'), []);
    assert.deepEqual(rw('^/a/(.*)$', '/b\\\\\\0'), [], 'a doubled backslash is a backslash');
    assert.deepEqual(rw('^/a/(?=x)', '/b'), [
      'spec.http[0].rewrite.uriRegexRewrite.match: invalid RE2',
    ]);
    assert.deepEqual(rw('^/a/(.*)$', '/b/\\2'), [
      'spec.http[0].rewrite.uriRegexRewrite.rewrite: refers to group \\2, but match has 1 capture group',
    ]);
    assert.deepEqual(rw('^/a/(.*)$', '/b/$1\\x'), [
      'spec.http[0].rewrite.uriRegexRewrite.rewrite: a backslash must be followed by a digit (a capture group) or another backslash',
    ]);
    assert.deepEqual(
      errors(
        withRule({
          route: [to('a')],
          rewrite: { uri: '/x', uriRegexRewrite: { match: 'a', rewrite: 'b' } },
        }),
      ),
      ['spec.http[0].rewrite.uriRegexRewrite: cannot be combined with uri'],
    );
  });

  it('checks redirect prefixRewrite and derivePort', () => {
    assert.deepEqual(
      errors(
        withRule({
          match: [
            { uri: { prefix: '/a' } },
            { uri: { regex: '/b.*' } },
            { method: { exact: 'GET' } },
          ],
          redirect: { prefixRewrite: '/c', port: 8080, derivePort: 'FROM_REQUEST_PORT' },
        }),
      ),
      [
        'spec.http[0].redirect.derivePort: cannot be combined with port',
        'spec.http[0].redirect.prefixRewrite: needs a uri prefix match, but match[1].uri is not a prefix match',
      ],
    );
    assert.deepEqual(errors(withRule({ redirect: { prefixRewrite: '/c' } })), []);
    assert.deepEqual(errors(withRule({ redirect: { derivePort: 'SOMEWHERE' } })), [
      'spec.http[0].redirect.derivePort: Invalid option: expected one of "FROM_PROTOCOL_DEFAULT"|"FROM_REQUEST_PORT"',
    ]);
  });

  it('requires hosts, except on a delegate, which it warns about', () => {
    assert.deepEqual(errors({ http: [{ route: [to('a')] }] }), []);
    assert.deepEqual(warnings({ http: [{ route: [to('a')] }] }), [
      'spec.hosts: no hosts: this is a delegate VirtualService; delegation is not supported by Weft yet; ignored',
    ]);
    assert.deepEqual(errors({ gateways: ['gw'], http: [{ route: [to('a')] }] }), [
      'spec.gateways: a delegate VirtualService (no hosts) must not set gateways',
    ]);
    assert.deepEqual(errors({ hosts: ['a'] }), [
      'spec: at least one of http, tcp or tls is required',
    ]);
    assert.deepEqual(errors({ hosts: ['a_b', ''], http: [{ route: [to('a')] }] }), [
      'spec.hosts[0]: invalid host "a_b": expected a DNS name, optionally with a "*." prefix, or "*"',
      'spec.hosts[1]: host must not be empty',
    ]);
  });

  it('warns that rules after a catch-all are unreachable', () => {
    assert.deepEqual(
      warnings({ hosts: ['a'], http: [{ route: [to('a')] }, { route: [to('b')] }] }),
      ['spec.http[1]: unreachable: spec.http[0] has no match and takes every request'],
    );
  });

  it('reports semantic errors next to schema errors in one pass', () => {
    assert.deepEqual(
      errors(withRule({ route: [to('a', { weight: -1 }), to('b')], timeout: 'soon' })),
      [
        'spec.http[0].timeout: invalid duration: expected a number with a unit, e.g. 1s, 0.5s, 100ms, 3m, 24h',
        'spec.http[0].route[0].weight: must not be negative',
        'spec.http[0].route: with more than one destination, at least one weight must be greater than 0',
      ],
    );
    assert.equal(check(withRule({ route: [to('a')], timeout: 'soon' })).spec, undefined);
  });

  it('rejects a retry policy with attempts 0 that sets anything else, and a zero backoff', () => {
    const spec = {
      hosts: ['r'],
      http: [
        {
          route: [{ destination: { host: 'r' } }],
          retries: { attempts: 0, perTryTimeout: '1s', retryOn: '5xx', backoff: '0s' },
        },
      ],
    };
    assert.deepEqual(errors(spec), [
      'spec.http[0].retries.backoff: must be at least 1ms',
      'spec.http[0].retries.perTryTimeout: set while attempts is 0 (retries disabled); remove it or set attempts',
      'spec.http[0].retries.retryOn: set while attempts is 0 (retries disabled); remove it or set attempts',
      'spec.http[0].retries.backoff: set while attempts is 0 (retries disabled); remove it or set attempts',
    ]);
    assert.equal(check(spec).spec, undefined, 'nothing stored');
  });
});
