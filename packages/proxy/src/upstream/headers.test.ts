import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileHeaderOps, NO_HEADER_OPS } from '../compile/header-ops.js';
import { buildRequestHeaders, buildResponseHeaders } from './headers.js';

const input = {
  host: 'user.default',
  clientAddress: '10.1.1.1',
  scheme: 'http',
  ops: NO_HEADER_OPS,
  newRequestId: () => 'generated-id',
};

const raw = (...p: Array<[string, string]>): string[] => p.flat();

const pairs = (flat: readonly string[]) => {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
};

describe('buildRequestHeaders', () => {
  it('takes the peer metadata header out (never forwarded) and notices gRPC', () => {
    const r = buildRequestHeaders(
      raw(
        ['X-Weft-Peer-Metadata', 'first'],
        ['x-weft-peer-metadata', 'second'],
        ['Content-Type', 'application/grpc+proto'],
      ),
      input,
    );
    assert.equal(r.peerMetadata, 'first');
    assert.equal(r.grpc, true);
    assert.ok(!r.headers.some((h) => h.toLowerCase() === 'x-weft-peer-metadata'));
    assert.ok(r.headers.includes('application/grpc+proto'));
    const plain = buildRequestHeaders(raw(['Content-Type', 'application/json']), input);
    assert.equal(plain.grpc, false);
    assert.equal(plain.peerMetadata, undefined);
  });

  it('drops hop-by-hop headers and the ones Connection names; keeps end-to-end ones', () => {
    const r = buildRequestHeaders(
      raw(
        ['Host', 'user.default:9080'],
        ['Connection', 'keep-alive, X-Hop'],
        ['X-Hop', 'secret'],
        ['Keep-Alive', 'timeout=5'],
        ['Proxy-Connection', 'keep-alive'],
        ['Proxy-Authorization', 'Basic xyz'],
        ['TE', 'trailers, deflate'],
        ['Trailer', 'x-checksum'],
        ['Upgrade', 'websocket'],
        ['Expect', '100-continue'],
        ['Accept', 'application/json'],
        ['X-End-To-End', '1'],
      ),
      input,
    );
    assert.deepEqual(pairs(r.headers), [
      ['Host', 'user.default'],
      ['te', 'trailers'],
      ['Accept', 'application/json'],
      ['X-End-To-End', '1'],
      ['x-forwarded-for', '10.1.1.1'],
      ['x-forwarded-proto', 'http'],
      ['x-request-id', 'generated-id'],
    ]);
    assert.equal(r.hasBody, false);
    assert.equal(r.requestId, 'generated-id');
  });

  it('appends the client to X-Forwarded-For, keeps X-Forwarded-Proto and X-Request-Id', () => {
    const r = buildRequestHeaders(
      raw(
        ['X-Forwarded-For', '1.1.1.1'],
        ['x-forwarded-for', '2.2.2.2'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Request-Id', 'abc'],
      ),
      input,
    );
    assert.deepEqual(pairs(r.headers), [
      ['Host', 'user.default'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Request-Id', 'abc'],
      ['x-forwarded-for', '1.1.1.1, 2.2.2.2, 10.1.1.1'],
    ]);
    assert.equal(r.requestId, 'abc');
  });

  it('reports the body: content-length, chunked, or none', () => {
    assert.deepEqual(
      [buildRequestHeaders(['Content-Length', '12'], input)].map((r) => [
        r.hasBody,
        r.contentLength,
      ]),
      [[true, 12]],
    );
    assert.equal(buildRequestHeaders(['Content-Length', '0'], input).hasBody, false);
    const chunked = buildRequestHeaders(['Transfer-Encoding', 'chunked'], input);
    assert.equal(chunked.hasBody, true);
    assert.equal(chunked.contentLength, -1);
    assert.ok(chunked.headers.includes('Transfer-Encoding'));
  });

  it('applies route header ops after the request headers', () => {
    const ops = compileHeaderOps(
      [
        {
          path: 'h',
          ops: {
            set: { 'x-env': 'prod' },
            add: { 'x-tag': 't' },
            remove: ['x-secret', 'x-request-id'],
          },
        },
      ],
      'request',
      () => undefined,
    );
    const r = buildRequestHeaders(
      ['X-Env', 'dev', 'X-Secret', 's', 'X-Request-Id', 'in', 'A', '1'],
      { ...input, ops },
    );
    assert.deepEqual(pairs(r.headers), [
      ['Host', 'user.default'],
      ['A', '1'],
      ['x-forwarded-for', '10.1.1.1'],
      ['x-forwarded-proto', 'http'],
      ['x-request-id', 'generated-id'],
      ['x-env', 'prod'],
      ['x-tag', 't'],
    ]);
  });

  it('leaves X-Forwarded-For alone without a client address (sidecar inbound)', () => {
    const r = buildRequestHeaders(['X-Forwarded-For', '1.1.1.1'], {
      ...input,
      clientAddress: undefined,
    });
    assert.deepEqual(
      pairs(r.headers).find(([n]) => n === 'x-forwarded-for'),
      ['x-forwarded-for', '1.1.1.1'],
    );
  });
});

describe('buildResponseHeaders', () => {
  it('drops hop-by-hop headers, applies response ops and spots grpc-status', () => {
    const found: { grpcStatus: number; upstreamPeerMetadata: string | undefined } = {
      grpcStatus: -1,
      upstreamPeerMetadata: undefined,
    };
    const ops = compileHeaderOps(
      [{ path: 'h', ops: { set: { 'cache-control': 'no-store' } } }],
      'response',
      () => undefined,
    );
    const out = buildResponseHeaders(
      raw(
        ['Content-Type', 'application/grpc'],
        ['Connection', 'keep-alive, X-Internal'],
        ['X-Internal', '1'],
        ['Keep-Alive', 'timeout=5'],
        ['Transfer-Encoding', 'chunked'],
        ['Cache-Control', 'max-age=60'],
        ['grpc-status', '14'],
        ['X-Weft-Peer-Metadata', 'upstream-says'],
      ),
      ops,
      found,
    );
    assert.deepEqual(pairs(out), [
      ['Content-Type', 'application/grpc'],
      ['grpc-status', '14'],
      ['cache-control', 'no-store'],
    ]);
    assert.equal(found.grpcStatus, 14);
    // The upstream sidecar's metadata is for this proxy's metrics, not for the client.
    assert.equal(found.upstreamPeerMetadata, 'upstream-says');
  });
});
