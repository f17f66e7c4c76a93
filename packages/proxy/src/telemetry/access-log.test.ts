import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { requestEndChannel, type RequestEndEvent } from './channels.js';
import {
  compileAccessLogFormat,
  createStreamSink,
  isoTime,
  jsonLine,
  subscribeAccessLog,
  toAccessLogRecord,
} from './access-log.js';

const e: RequestEndEvent = {
  proxyId: 'gateway',
  kind: 'gateway',
  method: 'POST',
  authority: 'shop.example.com',
  path: '/cart',
  routeId: 'default/shop#1',
  cluster: 'outbound|||cart.default.svc.cluster.local',
  endpoint: '10.0.0.5:8080',
  status: 503,
  flag: 'UF,URX',
  durationMs: 12.3456,
  attempts: 3,
  requestId: 'req-1',
  requestBytes: 321,
  responseBytes: 987,
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};

describe('access log', () => {
  it('writes one JSON object per request with every field the issue asks for', () => {
    const line = compileAccessLogFormat('json')(
      toAccessLogRecord(e, Date.parse('2026-01-01T00:00:01.000Z')),
    );
    const r = JSON.parse(line) as Record<string, unknown>;
    assert.equal(r.start_time, '2026-01-01T00:00:00.987Z');
    assert.equal(r.method, 'POST');
    assert.equal(r.authority, 'shop.example.com');
    assert.equal(r.path, '/cart');
    assert.equal(r.response_code, 503);
    assert.equal(r.response_flags, 'UF,URX');
    assert.equal(r.upstream_host, '10.0.0.5:8080');
    assert.equal(r.upstream_cluster, 'outbound|||cart.default.svc.cluster.local');
    assert.equal(r.duration, 12.346);
    assert.equal(r.bytes_received, 321);
    assert.equal(r.bytes_sent, 987);
    assert.equal(r.request_id, 'req-1');
    assert.equal(r.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(line.includes('\n'), false);
  });

  it('writes the JSON line by hand exactly as JSON.stringify would, escapes included', () => {
    const odd = {
      ...e,
      path: '/a"b\\c\u0001\u00e9\ud83d\ude00',
      authority: 'h\n',
      requestId: undefined,
      endpoint: undefined,
      requestBytes: undefined,
      shadow: true as const,
    };
    for (const ev of [e, odd, { ...e, flag: undefined, traceId: undefined }]) {
      const rec = toAccessLogRecord(ev, 1_764_765_024_123.4);
      assert.equal(jsonLine(rec), JSON.stringify(rec));
    }
  });

  it('formats start times as toISOString does, across second boundaries', () => {
    for (const t of [0, 999, 1000, 1001, 1_764_765_024_000, 1_764_765_024_999.9, 1_764_765_025_007])
      assert.equal(isoTime(t), new Date(t).toISOString());
  });

  it('hands lines to the stream in batches, not one write per line', async () => {
    const chunks: string[] = [];
    let arrived: () => void = () => undefined;
    const stream = new Writable({
      write: (c: Buffer, _e, cb) => {
        chunks.push(c.toString());
        arrived();
        cb();
      },
    });
    const sink = createStreamSink(stream, { flushIntervalMs: 5 });
    const first = new Promise<void>((r) => (arrived = r));
    for (let i = 0; i < 3; i++) sink.write(`line ${i}`);
    assert.equal(chunks.length, 0, 'nothing written on the request path');
    // The timer hands the three lines over in one write.
    await first;
    assert.deepEqual(chunks, ['line 0\nline 1\nline 2\n']);
    // A full batch (64 KiB) goes at once, without the timer.
    const big = 'y'.repeat(1000);
    for (let i = 0; i < 70; i++) sink.write(big);
    assert.equal(chunks.length, 2);
    await sink.close();
    assert.equal(chunks.join('').split('\n').length - 1, 73);
    assert.equal(sink.written(), 73);
  });

  it('formats requests in batches when asked, each with the time it ended', () => {
    let clock = Date.parse('2026-01-01T00:00:01.000Z');
    const lines: string[] = [];
    let batches = 0;
    const unsubscribe = subscribeAccessLog((l) => void lines.push(l), {
      proxyId: 'gateway',
      now: () => clock,
      batchMs: 60_000,
      onBatch: () => void batches++,
    });
    try {
      requestEndChannel.publish(e);
      requestEndChannel.publish({ ...e, proxyId: 'someone-else' });
      clock += 5000;
      assert.deepEqual(lines, [], 'nothing is formatted on the request path');
    } finally {
      unsubscribe();
    }
    assert.equal(lines.length, 1, 'unsubscribing writes what waited');
    assert.equal(batches, 1);
    assert.equal(
      (JSON.parse(lines[0]!) as { start_time: string }).start_time,
      '2026-01-01T00:00:00.987Z',
    );
  });

  it('formats text templates of Envoy operators, with - for what is missing', () => {
    const rec = toAccessLogRecord({ ...e, requestId: undefined }, 1_000);
    const f = compileAccessLogFormat(
      '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% rid=%REQ(X-REQUEST-ID)% up=%UPSTREAM_HOST%',
    );
    assert.equal(f(rec), 'POST /cart 503 UF,URX rid=- up=10.0.0.5:8080');
    assert.match(
      compileAccessLogFormat('text')(rec),
      /^\[.*\] "POST \/cart HTTP\/1\.1" 503 UF,URX 321 987 /,
    );
    assert.throws(
      () => compileAccessLogFormat('%NOPE%'),
      /unknown access log operator %NOPE%; known: .*%RESPONSE_CODE%/,
    );
  });

  it('never waits for a stuck disk: lines beyond the buffer are dropped and counted', () => {
    // A stream whose writes never complete, like a hung disk.
    const stuck = new Writable({ write: () => undefined, highWaterMark: 16 });
    const sink = createStreamSink(stuck, { maxBufferedBytes: 1_000 });
    const line = 'x'.repeat(99);
    for (let i = 0; i < 100; i++) sink.write(line);
    // 1000 bytes fit (10 lines of 100 with their newline), one more goes over, the rest drop.
    assert.equal(sink.written(), 11);
    assert.equal(sink.dropped(), 89);
    assert.equal(sink.written() + sink.dropped(), 100);
  });

  it('counts lines lost to a failed disk instead of throwing', async () => {
    const failing = new Writable({
      write: (_c, _e, cb) => cb(new Error('ENOSPC: no space left on device')),
    });
    const sink = createStreamSink(failing);
    sink.write('first');
    sink.flush();
    await new Promise((r) => setImmediate(r));
    sink.write('second');
    assert.equal(sink.dropped(), 1);
    await sink.close();
  });
});
