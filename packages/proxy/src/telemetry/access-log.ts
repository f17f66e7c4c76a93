// Access logs: one line per finished request, as JSON (the default, with the keys of Istio's
// JSON access log) or as a text template of Envoy command operators (`%RESPONSE_CODE%`).
// A subscriber of the request-end channel, so a proxy without access logs pays nothing; the
// proxies format their lines in batches, off the request's path (telemetry/batch.ts).
//
// Never blocks a request on the disk: lines are appended to one string and handed to an async
// stream (libuv's thread pool does the file writes) in batches, when 64 KiB are waiting or
// every `flushIntervalMs` (Envoy's access logger buffers and flushes on a timer the same way),
// so a line costs a string append, not a stream write and a thread-pool job. When more than
// `maxBufferedBytes` wait to be written (a slow or stuck disk) further lines are dropped and
// counted (weft_access_log_lines_total{outcome="dropped"}), as Envoy's logger drops when its
// buffer is full. Per request nothing is built but the line: the JSON format is written by
// hand (no record object through a generic JSON.stringify) and the start time's text is
// reused within a second.

import diagnosticsChannel from 'node:diagnostics_channel';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { createEventBatch } from './batch.js';
import { CHANNEL_NAMES, type RequestEndEvent } from './channels.js';

/** One line's fields; the JSON format writes exactly these keys. */
export interface AccessLogRecord {
  start_time: string;
  method: string;
  authority: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  upstream_host: string | null;
  upstream_cluster: string | null;
  route_name: string | null;
  duration: number;
  bytes_received: number | null;
  bytes_sent: number | null;
  request_id: string | null;
  trace_id: string | null;
  attempts: number;
  proxy: string;
  kind: string;
  /** Only on mirrored copies (shadow traffic), whose responses nobody waited for. */
  shadow?: true;
}

/** `2026-12-03T12:30:24.123Z`; the part up to the second is recomputed once per second. */
let isoSecond = -1;
let isoPrefix = '';
export function isoTime(ms: number): string {
  const t = Math.floor(ms);
  const second = Math.floor(t / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const milli = t - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

export function toAccessLogRecord(e: RequestEndEvent, now: number): AccessLogRecord {
  const durationMs = Math.round(e.durationMs * 1000) / 1000;
  return {
    start_time: isoTime(now - e.durationMs),
    method: e.method,
    authority: e.authority,
    path: e.path,
    protocol: 'HTTP/1.1',
    response_code: e.status,
    response_flags: e.flag ?? '-',
    upstream_host: e.endpoint ?? null,
    upstream_cluster: e.cluster ?? null,
    route_name: e.routeId ?? null,
    duration: durationMs,
    bytes_received: e.requestBytes ?? null,
    bytes_sent: e.responseBytes ?? null,
    request_id: e.requestId ?? null,
    trace_id: e.traceId ?? null,
    attempts: e.attempts,
    proxy: e.proxyId,
    kind: e.kind,
    ...(e.shadow === true ? { shadow: true as const } : {}),
  };
}

/** Envoy command operators the text format understands, and the field each one prints. */
const OPERATORS: Record<string, keyof AccessLogRecord> = {
  START_TIME: 'start_time',
  'REQ(:METHOD)': 'method',
  'REQ(:AUTHORITY)': 'authority',
  'REQ(:PATH)': 'path',
  PROTOCOL: 'protocol',
  RESPONSE_CODE: 'response_code',
  RESPONSE_FLAGS: 'response_flags',
  UPSTREAM_HOST: 'upstream_host',
  UPSTREAM_CLUSTER: 'upstream_cluster',
  ROUTE_NAME: 'route_name',
  DURATION: 'duration',
  BYTES_RECEIVED: 'bytes_received',
  BYTES_SENT: 'bytes_sent',
  'REQ(X-REQUEST-ID)': 'request_id',
  TRACE_ID: 'trace_id',
  UPSTREAM_REQUEST_ATTEMPT_COUNT: 'attempts',
};

/** Istio's default text format, less the operators Weft does not know. */
export const DEFAULT_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" ' +
  '"%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %ROUTE_NAME% %TRACE_ID%';

export type AccessLogFormat = (r: AccessLogRecord) => string;

/**
 * `json`, `text` (Istio's default text line) or a template with `%OPERATOR%`s. Compiled
 * once; an unknown operator is an error naming it and the ones that exist.
 */
export function compileAccessLogFormat(spec: string): AccessLogFormat {
  if (spec === 'json') return jsonLine;
  const template = spec === 'text' ? DEFAULT_TEXT_FORMAT : spec;
  const parts: (string | keyof AccessLogRecord)[] = [];
  const literal: boolean[] = [];
  const re = /%([A-Z_]+(?:\([^)]*\))?)%/g;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    const field = OPERATORS[m[1]!.toUpperCase()];
    if (field === undefined)
      throw new Error(
        `unknown access log operator %${m[1]}%; known: ${Object.keys(OPERATORS)
          .map((o) => `%${o}%`)
          .join(' ')}`,
      );
    parts.push(template.slice(last, m.index), field);
    literal.push(true, false);
    last = m.index + m[0].length;
  }
  parts.push(template.slice(last));
  literal.push(true);
  return (r) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      if (literal[i]) out += parts[i]!;
      else {
        const v = r[parts[i] as keyof AccessLogRecord];
        out += v === null || v === '' ? '-' : String(v);
      }
    }
    return out;
  };
}

/** Characters JSON.stringify escapes in a string: quote, backslash, controls, lone surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal: the plain case (every ordinary header or path) without a call. */
function str(v: string): string {
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}

function strOrNull(v: string | null): string {
  return v === null ? 'null' : str(v);
}

function numOrNull(v: number | null): string {
  return v === null ? 'null' : String(v);
}

/**
 * The JSON line, keys in the record's order: the same text JSON.stringify(r) gives (the
 * access-log test compares them), without walking a generic object per request.
 */
export function jsonLine(r: AccessLogRecord): string {
  return (
    `{"start_time":"${r.start_time}","method":${str(r.method)},"authority":${str(r.authority)},` +
    `"path":${str(r.path)},"protocol":"${r.protocol}","response_code":${r.response_code},` +
    `"response_flags":${str(r.response_flags)},"upstream_host":${strOrNull(r.upstream_host)},` +
    `"upstream_cluster":${strOrNull(r.upstream_cluster)},"route_name":${strOrNull(r.route_name)},` +
    `"duration":${r.duration},"bytes_received":${numOrNull(r.bytes_received)},` +
    `"bytes_sent":${numOrNull(r.bytes_sent)},"request_id":${strOrNull(r.request_id)},` +
    `"trace_id":${strOrNull(r.trace_id)},"attempts":${r.attempts},"proxy":${str(r.proxy)},` +
    `"kind":"${r.kind}"${r.shadow === true ? ',"shadow":true}' : '}'}`
  );
}

export interface AccessLogSink {
  /** Queues one line; drops it (and counts) when too much is already waiting. */
  write(line: string): void;
  /** Hands the lines waiting in the batch to the stream now. */
  flush(): void;
  written(): number;
  dropped(): number;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Bytes allowed to wait for the disk before lines are dropped; default 4 MiB. */
  maxBufferedBytes?: number;
  /** Longest a line waits in the batch before it goes to the stream; default 200 ms. */
  flushIntervalMs?: number;
}

/** A batch this big goes to the stream at once, without waiting for the timer. */
const BATCH_BYTES = 64 * 1024;

/** A sink over any stream (a file stream, stdout, a test's slow stream). */
export function createStreamSink(
  stream: Writable,
  opts: SinkOptions & { ownsStream?: boolean } = {},
): AccessLogSink {
  const max = opts.maxBufferedBytes ?? 4 << 20;
  const interval = opts.flushIntervalMs ?? 200;
  let written = 0;
  let dropped = 0;
  let failed = false;
  // Lines not yet handed to the stream, newline-terminated (a rope V8 flattens once, on write).
  let batch = '';
  let timer: NodeJS.Timeout | undefined;
  stream.on('error', () => {
    // A disk that failed (full, gone) costs lines, counted, never the process.
    failed = true;
  });
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (batch === '') return;
    const out = batch;
    batch = '';
    if (!failed && !stream.destroyed) stream.write(out);
  };
  return {
    write(line) {
      // What waits for the disk: the stream's own buffer and this batch.
      if (failed || stream.destroyed || stream.writableLength + batch.length > max) {
        dropped++;
        return;
      }
      batch += `${line}\n`;
      written++;
      if (batch.length >= BATCH_BYTES) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, interval);
        // Never what keeps a process alive; close() flushes what is left.
        timer.unref();
      }
    },
    flush,
    written: () => written,
    dropped: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        flush();
        if (opts.ownsStream !== true || stream.destroyed || failed) return resolve();
        stream.end(() => resolve());
      }),
  };
}

/** `-` is stdout; anything else a file opened for appending. */
export function createAccessLogSink(target: string, opts: SinkOptions = {}): AccessLogSink {
  if (target === '-') return createStreamSink(process.stdout, opts);
  return createStreamSink(createWriteStream(target, { flags: 'a' }), { ...opts, ownsStream: true });
}

/**
 * Writes one line per request of `proxyId` (or of every proxy in the process when
 * undefined) through `write`. The format defaults to JSON. With `batchMs`, requests are
 * formatted in batches (telemetry/batch.ts) at most that long after they end, and `onBatch`
 * runs after each (the sink's flush, so the lines reach the stream in the same pass); the
 * returned function writes what waits before it unsubscribes.
 */
export function subscribeAccessLog(
  write: (line: string) => void,
  opts: {
    format?: string;
    proxyId?: string;
    now?: () => number;
    batchMs?: number;
    onBatch?: () => void;
  } = {},
): () => void {
  const format = compileAccessLogFormat(opts.format ?? 'json');
  const now = opts.now ?? Date.now;
  const proxyId = opts.proxyId;
  const onBatch = opts.onBatch;
  const batch =
    opts.batchMs === undefined
      ? undefined
      : createEventBatch<RequestEndEvent>((events, times) => {
          for (let i = 0; i < events.length; i++)
            write(format(toAccessLogRecord(events[i]!, times[i]!)));
          onBatch?.();
        }, opts.batchMs);
  const onMessage = (message: unknown) => {
    const e = message as RequestEndEvent;
    if (proxyId !== undefined && e.proxyId !== proxyId) return;
    if (batch !== undefined) batch.push(e, now());
    else write(format(toAccessLogRecord(e, now())));
  };
  diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onMessage);
  return () => {
    diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onMessage);
    batch?.flush();
  };
}
