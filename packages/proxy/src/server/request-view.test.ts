import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { NodeRequestView } from './request-view.js';

const fake = (url: string, rawHeaders: string[] = [], localPort = 8080) =>
  ({
    method: 'GET',
    url,
    rawHeaders,
    headers: {},
    socket: { localPort },
  }) as unknown as IncomingMessage;

describe('NodeRequestView', () => {
  it('origin-form: path, query and Host', () => {
    const v = new NodeRequestView(
      fake('/a/b?x=1&y', ['HOST', 'Shop.Example.com:8443']),
      false,
      'http',
    );
    assert.equal(v.path, '/a/b');
    assert.equal(v.query, 'x=1&y');
    assert.equal(v.pathAndQuery, '/a/b?x=1&y');
    assert.equal(v.rawAuthority, 'Shop.Example.com:8443');
    assert.equal(v.authority, 'shop.example.com');
    assert.equal(v.port, 8443);
    assert.equal(v.queryParam('y'), '');
  });

  it('absolute-form: the target authority wins over Host, userinfo is dropped', () => {
    const v = new NodeRequestView(
      fake('http://bob@User:9080/u/1?q', ['Host', 'other']),
      false,
      'http',
    );
    assert.equal(v.rawAuthority, 'User:9080');
    assert.equal(v.authority, 'user');
    assert.equal(v.pathAndQuery, '/u/1?q');
    assert.equal(v.port, 9080);
    const bare = new NodeRequestView(fake('http://user'), false, 'http');
    assert.equal(bare.pathAndQuery, '/');
    const q = new NodeRequestView(fake('http://user?x=1'), false, 'http');
    assert.equal(q.pathAndQuery, '/?x=1');
  });

  it('port comes from the listener on the gateway', () => {
    assert.equal(new NodeRequestView(fake('/', ['Host', 'a:1']), true, 'http').port, 8080);
  });

  it('flags a target it cannot understand', () => {
    assert.equal(new NodeRequestView(fake('nonsense'), false, 'http').valid, false);
    assert.equal(new NodeRequestView(fake('*'), false, 'http').valid, true);
  });
});
