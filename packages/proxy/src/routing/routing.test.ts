import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MatchBlock } from '@weft/model';
import { at, CompileError } from './compile-error.js';
import { authorityPort, createHostTable, normalizeHost } from './host-table.js';
import { compileMatchBlock, compileMatchBlocks, findMatchingBlock } from './match-block.js';
import { createRequestView, parseQuery, type RequestViewInit } from './request-view.js';
import { compileStringMatch } from './string-match.js';

const matches = (block: MatchBlock, init: RequestViewInit) =>
  compileMatchBlock(block).matches(createRequestView(init));

describe('compileStringMatch', () => {
  it('exact is case-sensitive unless ignoreCase', () => {
    const m = compileStringMatch({ exact: '/Foo' });
    assert.equal(m('/Foo'), true);
    assert.equal(m('/foo'), false);
    assert.equal(m('/Foo/'), false);
    assert.equal(m(undefined), false);
    const i = compileStringMatch({ exact: '/Foo' }, { ignoreCase: true });
    assert.equal(i('/fOO'), true);
    assert.equal(i('/fOO/'), false);
  });

  it('prefix is a plain string prefix', () => {
    const m = compileStringMatch({ prefix: '/static' });
    assert.equal(m('/static'), true);
    assert.equal(m('/staticfoo'), true);
    assert.equal(m('/static/x'), true);
    assert.equal(m('/Static'), false);
    assert.equal(m('/stat'), false);
    assert.equal(
      compileStringMatch({ prefix: '/static' }, { ignoreCase: true })('/STATIC/a'),
      true,
    );
    assert.equal(compileStringMatch({ prefix: '' })(''), true);
  });

  it('regex must match the whole value (RE2 full match)', () => {
    const m = compileStringMatch({ regex: '\\d+$' });
    assert.equal(m('123'), true);
    assert.equal(m('a123'), false);
    const p = compileStringMatch({ regex: '/user/[0-9]+' });
    assert.equal(p('/user/42'), true);
    assert.equal(p('/user/42/orders'), false);
    assert.equal(p('/api/user/42'), false);
    assert.equal(compileStringMatch({ regex: '(?i)/USER/.*' })('/user/x'), true);
  });

  it('regex "*" means presence, as in Istio', () => {
    const m = compileStringMatch({ regex: '*' });
    assert.equal(m(''), true);
    assert.equal(m(undefined), false);
  });

  it('rejects an invalid regex and a malformed match', () => {
    assert.throws(() => compileStringMatch({ regex: '(' }), /invalid RE2 regex "\("/);
    assert.throws(() => compileStringMatch({ regex: '(?<=a)b' }), /invalid RE2 regex/);
    assert.throws(
      () => compileStringMatch({ exact: 'a', prefix: 'b' } as never),
      /exactly one of exact, prefix, regex/,
    );
    assert.throws(() => compileStringMatch({} as never), /exactly one/);
  });
});

describe('compileMatchBlock', () => {
  it('no uri is the implicit prefix "/": matches everything, rewrites after "/"', () => {
    const b = compileMatchBlock({});
    assert.equal(b.matches(createRequestView({ path: '/anything' })), true);
    assert.equal(b.rewritePrefixLength, 1);
  });

  it('records how a rewrite applies for each uri kind', () => {
    assert.equal(compileMatchBlock({ uri: { prefix: '/api/' } }).rewritePrefixLength, 5);
    assert.equal(compileMatchBlock({ uri: { exact: '/a' } }).rewritePrefixLength, -1);
    assert.equal(compileMatchBlock({ uri: { regex: '/a.*' } }).rewritePrefixLength, -1);
  });

  it('ignoreUriCase applies to exact and prefix but never to regex', () => {
    assert.equal(matches({ uri: { exact: '/A' }, ignoreUriCase: true }, { path: '/a' }), true);
    assert.equal(matches({ uri: { prefix: '/A' }, ignoreUriCase: true }, { path: '/ab' }), true);
    assert.equal(matches({ uri: { regex: '/A' }, ignoreUriCase: true }, { path: '/a' }), false);
    assert.equal(matches({ uri: { exact: '/A' } }, { path: '/a' }), false);
  });

  it('uri matches the path without the query string', () => {
    assert.equal(matches({ uri: { exact: '/a' } }, { path: '/a', query: 'x=1' }), true);
  });

  it('method, authority, scheme and port', () => {
    assert.equal(matches({ method: { exact: 'POST' } }, { method: 'POST' }), true);
    assert.equal(matches({ method: { exact: 'POST' } }, { method: 'GET' }), false);
    assert.equal(
      matches({ authority: { prefix: 'shop.' } }, { authority: 'shop.example.com' }),
      true,
    );
    assert.equal(matches({ authority: { exact: 'x' } }, { authority: 'y' }), false);
    assert.equal(matches({ scheme: { exact: 'https' } }, { scheme: 'http' }), false);
    assert.equal(matches({ port: 8080 }, { port: 8080 }), true);
    assert.equal(matches({ port: 8080 }, { port: 80 }), false);
  });

  it('fields inside a block are AND-ed', () => {
    const block: MatchBlock = {
      uri: { prefix: '/api' },
      method: { exact: 'GET' },
      headers: { 'x-user': { exact: 'jason' } },
    };
    assert.equal(matches(block, { path: '/api/x', headers: { 'x-user': 'jason' } }), true);
    assert.equal(
      matches(block, { path: '/api/x', method: 'PUT', headers: { 'x-user': 'jason' } }),
      false,
    );
    assert.equal(matches(block, { path: '/api/x' }), false);
    assert.equal(matches(block, { path: '/web', headers: { 'x-user': 'jason' } }), false);
    const four: MatchBlock = { ...block, scheme: { exact: 'http' } };
    assert.equal(matches(four, { path: '/api', headers: { 'x-user': 'jason' } }), true);
    assert.equal(
      matches(four, { path: '/api', scheme: 'https', headers: { 'x-user': 'jason' } }),
      false,
    );
  });

  it('blocks are OR-ed and the first matching block is reported', () => {
    const blocks = compileMatchBlocks([
      { uri: { prefix: '/a' } },
      { headers: { 'end-user': { exact: 'jason' } } },
    ]);
    const find = (init: RequestViewInit) => findMatchingBlock(blocks, createRequestView(init));
    assert.equal(find({ path: '/a/1' }), 0);
    assert.equal(find({ path: '/b', headers: { 'end-user': 'jason' } }), 1);
    assert.equal(find({ path: '/a', headers: { 'end-user': 'jason' } }), 0);
    assert.equal(find({ path: '/b' }), -1);
    assert.equal(compileMatchBlocks([]).length, 1, 'no match blocks: catch-all');
  });

  it('headers: value matchers, presence, and names are lower-cased', () => {
    assert.equal(
      matches({ headers: { 'X-Env': { exact: 'canary' } } }, { headers: { 'x-env': 'canary' } }),
      true,
    );
    assert.equal(
      matches({ headers: { 'x-env': { present: true } } }, { headers: { 'x-env': '' } }),
      true,
    );
    assert.equal(matches({ headers: { 'x-env': { present: true } } }, {}), false);
    assert.equal(
      matches({ headers: { 'x-env': { regex: '*' } } }, { headers: { 'x-env': 'a' } }),
      true,
    );
    assert.equal(matches({ headers: { 'x-env': { exact: '' } } }, {}), false, 'missing is not ""');
    assert.equal(
      matches({ headers: { 'x-v': { regex: 'v[12]' } } }, { headers: { 'x-v': 'v2' } }),
      true,
    );
    assert.equal(
      matches({ headers: { 'x-v': { regex: 'v[12]' } } }, { headers: { 'x-v': 'v22' } }),
      false,
    );
  });

  it('headers: pseudo-header keys are ignored as Istio does', () => {
    assert.equal(matches({ headers: { method: { exact: 'NOPE' } } }, {}), true);
  });

  it('withoutHeaders is inverted and a missing header counts as ""', () => {
    const noCanary: MatchBlock = { withoutHeaders: { 'x-env': { exact: 'canary' } } };
    assert.equal(matches(noCanary, { headers: { 'x-env': 'canary' } }), false);
    assert.equal(matches(noCanary, { headers: { 'x-env': 'prod' } }), true);
    assert.equal(matches(noCanary, {}), true);
    const notEmpty: MatchBlock = { withoutHeaders: { 'x-env': { exact: '' } } };
    assert.equal(matches(notEmpty, {}), false, 'missing = "" = excluded');
    assert.equal(matches(notEmpty, { headers: { 'x-env': 'a' } }), true);
    const absent: MatchBlock = { withoutHeaders: { 'x-debug': { present: true } } };
    assert.equal(matches(absent, {}), true);
    assert.equal(matches(absent, { headers: { 'x-debug': '' } }), false);
    const anyValue: MatchBlock = { withoutHeaders: { 'x-a': { regex: '.*' } } };
    assert.equal(matches(anyValue, {}), false, '"" matches .*');
  });

  it('queryParams: exact, regex full match, presence, `?key` = ""', () => {
    assert.equal(matches({ queryParams: { v: { exact: '2' } } }, { query: 'a=1&v=2' }), true);
    assert.equal(matches({ queryParams: { v: { exact: '2' } } }, { query: 'v=3' }), false);
    assert.equal(matches({ queryParams: { id: { regex: '\\d+$' } } }, { query: 'id=123' }), true);
    assert.equal(matches({ queryParams: { id: { regex: '\\d+$' } } }, { query: 'id=a123' }), false);
    assert.equal(matches({ queryParams: { debug: { exact: '' } } }, { query: 'debug' }), true);
    assert.equal(matches({ queryParams: { debug: { present: true } } }, { query: 'x=1' }), false);
    assert.equal(
      matches({ queryParams: { debug: {} as never } }, { query: 'debug=1' }),
      true,
      '{} = present',
    );
    assert.equal(compileMatchBlock({ queryParams: { v: { exact: '1' } } }).usesQuery, true);
    assert.equal(compileMatchBlock({ uri: { exact: '/' } }).usesQuery, false);
  });

  it('errors name the field', () => {
    assert.throws(
      () => compileMatchBlocks([{}, { headers: { 'x-a': { regex: '[' } } }]),
      (err: unknown) =>
        err instanceof CompileError &&
        err.message.startsWith('matches[1].headers.x-a: invalid RE2 regex'),
    );
    assert.throws(() => compileMatchBlock({ port: 0 }), /port: 0 is not a port number/);
  });
});

describe('parseQuery', () => {
  it('keeps the first value, decodes, handles bare keys', () => {
    const q = parseQuery('a=1&a=2&b&c=x%20y&d=p+q&&e=%zz');
    assert.equal(q.get('a'), '1');
    assert.equal(q.get('b'), '');
    assert.equal(q.get('c'), 'x y');
    assert.equal(q.get('d'), 'p q');
    assert.equal(q.get('e'), '%zz');
    assert.equal(parseQuery('').size, 0);
  });
});

describe('host table', () => {
  const { table, duplicates } = createHostTable([
    { domains: ['user.default.svc.cluster.local', 'user'], value: 'user' },
    { domains: ['*.example.com'], value: 'star-example' },
    { domains: ['*.api.example.com'], value: 'star-api' },
    { domains: ['shop.example.com', 'USER'], value: 'shop' },
    { domains: ['*'], value: 'any' },
    { domains: ['2001:db8::1', '10.1.2.3'], value: 'ip' },
  ]);

  it('exact beats wildcard, longest suffix wins, then *', () => {
    assert.equal(table.lookup('user'), 'user');
    assert.equal(table.lookup('shop.example.com'), 'shop');
    assert.equal(table.lookup('a.example.com'), 'star-example');
    assert.equal(table.lookup('a.b.example.com'), 'star-example');
    assert.equal(table.lookup('v1.api.example.com'), 'star-api');
    assert.equal(table.lookup('x.y.api.example.com'), 'star-api');
    assert.equal(table.lookup('example.com'), 'any', '*.example.com does not match example.com');
    assert.equal(table.lookup('other.org'), 'any');
  });

  it('first virtual host to claim a domain keeps it', () => {
    assert.equal(table.lookup('user'), 'user');
    assert.deepEqual(duplicates, ['user']);
  });

  it('without * an unknown host is undefined', () => {
    const t = createHostTable([{ domains: ['a'], value: 1 }]).table;
    assert.equal(t.lookup('b'), undefined);
  });

  it('matches IP literals, IPv6 included', () => {
    assert.equal(table.lookup(normalizeHost('[2001:DB8::1]:8443')), 'ip');
    assert.equal(table.lookup(normalizeHost('10.1.2.3:80')), 'ip');
  });

  it('rejects malformed wildcards', () => {
    assert.throws(() => createHostTable([{ domains: ['a.*.com'], value: 1 }]), /only a leading/);
    assert.throws(() => createHostTable([{ domains: ['*.'], value: 1 }]), /bad wildcard/);
  });
});

describe('normalizeHost / authorityPort', () => {
  it('lower-cases and strips the port', () => {
    assert.equal(normalizeHost('User.Default:9080'), 'user.default');
    assert.equal(normalizeHost('example.com.'), 'example.com');
    assert.equal(normalizeHost('[::1]:8080'), '::1');
    assert.equal(normalizeHost('[::1]'), '::1');
    assert.equal(normalizeHost('::1'), '::1');
    assert.equal(normalizeHost(''), '');
  });

  it('finds the port or falls back', () => {
    assert.equal(authorityPort('a:9080', 80), 9080);
    assert.equal(authorityPort('a', 80), 80);
    assert.equal(authorityPort('[::1]:8443', 80), 8443);
    assert.equal(authorityPort('[::1]', 443), 443);
    assert.equal(authorityPort('::1', 80), 80);
    assert.equal(authorityPort('a:x', 80), 80);
  });
});

describe('at()', () => {
  it('joins nested paths', () => {
    assert.throws(
      () =>
        at('routes[1]', () =>
          at('matches[0]', () =>
            at('uri', () => {
              throw new Error('bad');
            }),
          ),
        ),
      { message: 'routes[1].matches[0].uri: bad' },
    );
  });
});
