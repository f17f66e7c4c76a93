// Integration: what the upstream and the client actually see.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { cluster, forwardTo, snapshot, startProxy, vhost, type ProxyHarness } from './testing.js';

describe('header handling through the gateway', () => {
  let up: FakeUpstream;
  let gw: ProxyHarness;

  before(async () => {
    up = await startFakeUpstream('app', {
      behavior: { headers: { 'x-upstream-hop': 'secret', connection: 'x-upstream-hop' } },
    });
    gw = await startProxy(
      'gateway',
      snapshot(
        1,
        [vhost('default/app', ['app'], [forwardTo('all', [], [['c-app', 1]])])],
        [cluster('c-app', [{ port: up.port }])],
      ),
    );
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  it('removes hop-by-hop headers both ways and sets X-Forwarded-For, -Proto and X-Request-Id', async () => {
    const r = await gw.send({
      host: 'app',
      headers: [
        ['Connection', 'keep-alive, X-Custom-Hop'],
        ['X-Custom-Hop', 'drop me'],
        ['Keep-Alive', 'timeout=30'],
        ['Proxy-Authorization', 'Basic Zm9vOmJhcg=='],
        ['TE', 'trailers'],
        ['X-Keep', 'keep me'],
      ].flat(),
    });
    const seen = r.json<FakeUpstreamReply>().headers;
    assert.equal(seen['x-custom-hop'], undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen.te, 'trailers');
    assert.equal(seen['x-keep'], 'keep me');
    assert.equal(seen.host, 'app');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.match(String(seen['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(r.headers['x-upstream-hop'], undefined, 'named by the upstream Connection header');
    assert.equal(r.headers['x-upstream'], 'app');
  });

  it('passes an existing X-Request-Id through and appends to X-Forwarded-For', async () => {
    const r = await gw.send({
      host: 'app',
      headers: { 'x-request-id': 'req-1', 'x-forwarded-for': '203.0.113.9' },
    });
    const seen = r.json<FakeUpstreamReply>().headers;
    assert.equal(seen['x-request-id'], 'req-1');
    assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  });
});
