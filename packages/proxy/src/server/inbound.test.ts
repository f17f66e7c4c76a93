import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, it } from 'node:test';
import { PROXY_ERROR_HEADER } from '@weft/model';
import { refusedPort, startFakeUpstream, type FakeUpstreamReply } from '@weft/testkit';
import { createInboundHandler } from './inbound.js';
import { listen } from './listen.js';
import { send } from './testing.js';

describe('sidecar inbound', () => {
  it('forwards everything to the local app over keep-alive, Host and path unchanged', async () => {
    const app = await startFakeUpstream('app');
    const handler = createInboundHandler({
      appHost: '127.0.0.1',
      appPort: app.port,
      proxyId: 'app-1.sidecar',
    });
    const l = await listen(handler, { proxyId: 'app-1.sidecar' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 10; i++) {
        const r = await send(l.port, agent, {
          host: 'app.default.svc.cluster.local',
          path: `/items/${i}?full=1`,
          headers: { 'x-request-id': 'r1', connection: 'keep-alive' },
        });
        const echo = r.json<FakeUpstreamReply>();
        assert.equal(echo.path, `/items/${i}?full=1`);
        assert.equal(echo.headers.host, 'app.default.svc.cluster.local');
        assert.equal(echo.headers['x-request-id'], 'r1');
        assert.equal(
          echo.headers['x-forwarded-for'],
          undefined,
          'the calling proxy appends the client, not us',
        );
      }
      assert.equal(app.connections, 1);
    } finally {
      agent.destroy();
      await l.close();
      handler.close();
      await app.close();
    }
  });

  it('answers 503 UF naming the local app when it refuses connections', async () => {
    const port = await refusedPort();
    const handler = createInboundHandler({
      appHost: '127.0.0.1',
      appPort: port,
      proxyId: 'app-1.sidecar',
    });
    const l = await listen(handler, { proxyId: 'app-1.sidecar' });
    try {
      const r = await send(l.port, undefined, { host: 'app' });
      assert.equal(r.status, 503);
      assert.equal(r.headers[PROXY_ERROR_HEADER], 'UF');
      assert.equal(
        r.body,
        `weft app-1.sidecar: upstream connect error: could not connect to the local app at 127.0.0.1:${port} (1 try; last: 127.0.0.1:${port} ECONNREFUSED) (UF, WEFT_ERR_UPSTREAM_CONNECT)\n`,
      );
    } finally {
      await l.close();
      handler.close();
    }
  });
});
