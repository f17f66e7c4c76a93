// The raw-socket suite: malformed requests, request smuggling, oversized input and slow
// clients against every listener (gateway, sidecar outbound, sidecar inbound), written byte
// by byte on a TCP socket so that no client library tidies them up. Each case asserts the
// status the proxy answers, that the reply is proxy-made (flag, proxy id, WEFT_ERR code),
// and that the fake upstreams never saw a request that was refused or smuggled.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type RunningControlPlane } from '@weft/control-plane';
import {
  startGateway,
  startSidecar,
  type ListenerLimits,
  type RunningGateway,
  type RunningSidecar,
} from '@weft/proxy';
import { startFakeUpstream, type FakeUpstream } from '@weft/testkit';
import { eventually, send } from './http-helpers.js';

const HOST = 'shop.example.com';
const LIMITS: Partial<ListenerLimits> = {
  maxHeaderBytes: 4096,
  maxHeaders: 20,
  maxUrlBytes: 512,
  maxBodyBytes: 1024,
  headersTimeoutMs: 400,
  requestTimeoutMs: 2_000,
  timeoutCheckIntervalMs: 100,
};

const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [${HOST}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
spec:
  hosts: [${HOST}]
  gateways: [edge]
  http:
    - route: [{ destination: { host: app } }]
`;

interface RawResult {
  /** Every byte the proxy sent before closing (or before the wait ran out). */
  text: string;
  /** The connection was closed by the proxy. */
  closed: boolean;
}

/**
 * Writes `payload` (in pieces, with a pause between them, when given a list) and collects
 * the answer until the proxy closes the connection or `waitMs` passes.
 */
function raw(port: number, payload: string | string[], waitMs = 1_500): Promise<RawResult> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => (text += d));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    const parts = Array.isArray(payload) ? payload : [payload];
    let i = 0;
    const next = () => {
      if (done || i >= parts.length) return;
      s.write(parts[i++]!, 'latin1');
      if (i < parts.length) setTimeout(next, 50);
    };
    s.on('connect', next);
  });
}

/** Status codes of every response in order. */
function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

function assertProxyMade(text: string, status: number, code: RegExp) {
  assert.deepEqual(statuses(text), [status], text);
  assert.match(text, /\r\nx-weft-error: [A-Z]+\r\n/i, text);
  assert.match(text, /\r\nx-weft-proxy: /i, text);
  assert.match(text, code, text);
}

describe('hardened listeners (raw sockets)', { timeout: 90_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let app: FakeUpstream;
  let local: FakeUpstream;
  let gw: RunningGateway;
  let sidecar: RunningSidecar;
  const listeners: Record<string, { port: number; host: string }> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-hardening-'));
    cp = await startControlPlane({ dataDir: join(dir, 'cp'), port: 0 });
    [app, local] = await Promise.all([startFakeUpstream('app'), startFakeUpstream('local')]);
    const reg = await fetch(`${cp.url}/v1/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: 'app',
        address: app.address,
        port: app.port,
        id: 'app-1',
        ttlSeconds: 60,
      }),
    });
    assert.equal(reg.status, 201, await reg.text());
    const res = await fetch(`${cp.url}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'shop.yaml', content: YAML }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    gw = await startGateway({ control: cp.url, port: 0, id: 'hard-gw', limits: LIMITS });
    sidecar = await startSidecar({
      control: cp.url,
      service: 'local',
      appPort: local.port,
      id: 'local-1',
      limits: LIMITS,
      probeIntervalMs: 60_000,
    });
    await Promise.all([gw.ready, sidecar.ready]);
    listeners.gateway = { port: gw.port, host: HOST };
    listeners.outbound = { port: sidecar.outboundPort, host: 'app' };
    listeners.inbound = { port: sidecar.inboundPort, host: 'local' };
    for (const [name, l] of Object.entries(listeners)) {
      await eventually(`the ${name} listener to answer`, async () => {
        const r = await send(l.port, '/', { host: l.host });
        return r.status === 200 ? r : undefined;
      });
    }
    app.reset();
    local.reset();
  });

  after(async () => {
    await gw?.close();
    await sidecar?.close();
    await Promise.all([app?.close(), local?.close()]);
    await cp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const upstreamRequests = () => app.received.length + local.received.length;
  const paths = () => [...app.received, ...local.received].map((r) => `${r.method} ${r.path}`);

  for (const name of ['gateway', 'outbound', 'inbound']) {
    describe(`${name} listener`, () => {
      const l = () => listeners[name]!;
      const h = () => `Host: ${l().host}\r\n`;

      it('CL.TE and TE.CL smuggling: 400, nothing forwarded, nothing smuggled', async () => {
        const before = upstreamRequests();
        const smuggled = `GET /smuggled HTTP/1.1\r\n${h()}\r\n`;
        const clte = await raw(
          l().port,
          `POST /a HTTP/1.1\r\n${h()}Content-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
        );
        assertProxyMade(clte.text, 400, /WEFT_ERR_BAD_REQUEST/);
        assert.ok(clte.closed);
        const tecl = await raw(
          l().port,
          `POST /a HTTP/1.1\r\n${h()}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${(smuggled.length + 2).toString(16)}\r\nxx${smuggled}\r\n0\r\n\r\n`,
        );
        assertProxyMade(tecl.text, 400, /WEFT_ERR_BAD_REQUEST/);
        assert.equal(upstreamRequests(), before, paths().join('; '));
      });

      it('oversized header block: 431; too many headers: 431; long target: 414', async () => {
        const before = upstreamRequests();
        const big = await raw(
          l().port,
          `GET / HTTP/1.1\r\n${h()}X-Big: ${'a'.repeat(5000)}\r\n\r\n`,
        );
        assertProxyMade(big.text, 431, /WEFT_ERR_HEADERS_TOO_LARGE/);
        const many = Array.from({ length: 25 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
        const count = await raw(l().port, `GET / HTTP/1.1\r\n${h()}${many}\r\n`);
        assertProxyMade(count.text, 431, /WEFT_ERR_HEADERS_TOO_LARGE/);
        const long = await raw(l().port, `GET /${'u'.repeat(600)} HTTP/1.1\r\n${h()}\r\n`);
        assertProxyMade(long.text, 414, /WEFT_ERR_URI_TOO_LONG/);
        const huge = await raw(l().port, `GET /${'u'.repeat(6000)} HTTP/1.1\r\n${h()}\r\n`);
        assertProxyMade(huge.text, 414, /WEFT_ERR_URI_TOO_LONG/);
        assert.equal(upstreamRequests(), before);
      });

      it('body over the limit: 413 by Content-Length and while chunks stream; under it passes whole', async () => {
        const before = upstreamRequests();
        const declared = await raw(
          l().port,
          `POST / HTTP/1.1\r\n${h()}Content-Length: 2000\r\n\r\n${'b'.repeat(2000)}`,
        );
        assertProxyMade(declared.text, 413, /WEFT_ERR_BODY_TOO_LARGE/);
        assert.equal(upstreamRequests(), before);
        const chunk = 'c'.repeat(600);
        const streamed = await raw(l().port, [
          `POST /chunked HTTP/1.1\r\n${h()}Transfer-Encoding: chunked\r\n\r\n`,
          `258\r\n${chunk}\r\n`,
          `258\r\n${chunk}\r\n`,
          `258\r\n${chunk}\r\n0\r\n\r\n`,
        ]);
        assertProxyMade(streamed.text, 413, /WEFT_ERR_BODY_TOO_LARGE/);
        assert.ok(streamed.closed);
        // The upstream may have seen the start of that body, never a complete request.
        const complete = [...app.received, ...local.received].filter((r) => r.path === '/chunked');
        assert.deepEqual(complete, []);
        const ok = await raw(
          l().port,
          `POST /small HTTP/1.1\r\n${h()}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
        );
        assert.deepEqual(statuses(ok.text), [200], ok.text);
        const got = [...app.received, ...local.received].find((r) => r.path === '/small');
        assert.equal(got?.body, chunk);
      });

      it('slowloris: headers that trickle in are cut with 408 and the connection freed', async () => {
        const before = upstreamRequests();
        const pieces = ['GET / HTTP/1.1\r\n', h(), 'X-A: 1\r\n'];
        for (let i = 0; i < 30; i++) pieces.push(`X-${i}: ${i}\r\n`);
        const slow = await raw(l().port, pieces, 10_000);
        assert.ok(slow.closed, 'the proxy closed the connection');
        assertProxyMade(slow.text, 408, /WEFT_ERR_REQUEST_TIMEOUT/);
        assert.equal(upstreamRequests(), before);
      });
    });
  }

  describe('gateway listener, the rest of the suite', () => {
    const port = () => listeners.gateway!.port;
    const H = `Host: ${HOST}\r\n`;
    const bad: Array<[string, string]> = [
      ['space in the target', `GET /a b HTTP/1.1\r\n${H}\r\n`],
      ['unknown method', `FOO / HTTP/1.1\r\n${H}\r\n`],
      ['lower-case method', `get / HTTP/1.1\r\n${H}\r\n`],
      ['HTTP/9.9', `GET / HTTP/9.9\r\n${H}\r\n`],
      ['HTTP/0.9 request line', `GET /\r\n\r\n`],
      ['LF line endings', `GET / HTTP/1.1\nHost: ${HOST}\n\n`],
      ['NUL in the target', `GET /\0 HTTP/1.1\r\n${H}\r\n`],
      ['TLS bytes on a plain port', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
      ['space in a header name', `GET / HTTP/1.1\r\n${H}Bad Name: x\r\n\r\n`],
      [
        'space before the colon',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
      ],
      ['control byte in a value', `GET / HTTP/1.1\r\n${H}X: a\x01b\r\n\r\n`],
      ['obsolete line folding', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`],
      ['no Host in HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n'],
      ['two Host headers', `GET / HTTP/1.1\r\n${H}Host: evil.example.com\r\n\r\n`],
      [
        'two equal Content-Lengths',
        `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`,
      ],
      [
        'two different Content-Lengths',
        `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx`,
      ],
      ['a list in Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 1, 1\r\n\r\nx`],
      ['a signed Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: +1\r\n\r\nx`],
      [
        'Transfer-Encoding xchunked',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
      ],
      [
        'chunked not last',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
      ],
      [
        'two Transfer-Encodings',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ],
      ['bad chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n`],
      [
        'chunk size overflow',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n`,
      ],
      [
        'chunk without CR',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`,
      ],
      [
        'chunk longer than its size',
        `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n`,
      ],
    ];
    for (const [name, payload] of bad) {
      it(`${name}: 400, never forwarded`, async () => {
        const before = upstreamRequests();
        const r = await raw(port(), payload);
        assertProxyMade(r.text, 400, /WEFT_ERR_BAD_REQUEST/);
        assert.equal(upstreamRequests(), before, paths().join('; '));
      });
    }

    it('a request after a 400 on the same connection is never read', async () => {
      app.reset();
      local.reset();
      const r = await raw(
        port(),
        `GET /first HTTP/1.1\r\n${H}\r\n` +
          `GET /bad HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx` +
          `GET /after HTTP/1.1\r\n${H}\r\n`,
      );
      assert.deepEqual(statuses(r.text), [200, 400], r.text);
      assert.ok(r.closed);
      assert.deepEqual(paths(), ['GET /first']);
    });

    it('chunk extensions and pipelined requests are fine', async () => {
      app.reset();
      local.reset();
      const r = await raw(
        port(),
        `POST /ext HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;name=v\r\nabc\r\n0\r\n\r\n` +
          `GET /two HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
      );
      assert.deepEqual(statuses(r.text), [200, 200], r.text);
      assert.deepEqual(paths(), ['POST /ext', 'GET /two']);
      assert.equal(app.received[0]?.body, 'abc');
    });

    it('an idle keep-alive connection outlives the headers timeout', async () => {
      const first = `GET /1 HTTP/1.1\r\n${H}\r\n`;
      // The second request starts well after headersTimeout (400 ms) has passed since the first.
      const pause = new Array<string>(16).fill('');
      const r = await raw(
        port(),
        [first, ...pause, `GET /2 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`],
        5_000,
      );
      assert.deepEqual(statuses(r.text), [200, 200], r.text);
    });

    it("node's own answers carry the proxy's flag: Expect 417, CONNECT 405", async () => {
      const expect = await raw(
        port(),
        `POST / HTTP/1.1\r\n${H}Expect: teapot\r\nContent-Length: 0\r\n\r\n`,
      );
      assert.deepEqual(statuses(expect.text), [417], expect.text);
      assert.match(expect.text, /x-weft-error: DPE/i);
      const c = await raw(port(), `CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`);
      assertProxyMade(c.text, 405, /WEFT_ERR_BAD_REQUEST/);
    });

    it('after all of it, the proxies still serve', async () => {
      for (const l of Object.values(listeners)) {
        const r = await send(l.port, '/still-here', { host: l.host });
        assert.equal(r.status, 200);
      }
    });
  });
});
