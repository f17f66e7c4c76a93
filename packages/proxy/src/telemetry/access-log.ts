// Access logs: one line per finished request, as JSON (the default, with the keys of Istio's
// JSON access log) or as a text template of Envoy command operators (`%RESPONSE_CODE%`).
// A subscriber of the request-end channel, so a proxy without access logs pays nothing.
//
// Never blocks a request on the disk: lines go to an async stream (libuv's thread pool does
// the file writes), and when more than `maxBufferedBytes` wait to be written (a slow or
// stuck disk) further lines are dropped and counted (weft_access_log_dropped_total), as
// Envoy's access logger drops when its buffer is full.

import diagnosticsChannel from 'node:diagnostics_channel';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
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

export function toAccessLogRecord(e: RequestEndEvent, now: number): AccessLogRecord {
  const durationMs = Math.round(e.durationMs * 1000) / 1000;
  return {
    start_time: new Date(now - e.durationMs).toISOString(),
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
  if (spec === 'json') return (r) => JSON.stringify(r);
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

export interface AccessLogSink {
  /** Queues one line; drops it (and counts) when too much is already waiting. */
  write(line: string): void;
  written(): number;
  dropped(): number;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Bytes allowed to wait for the disk before lines are dropped; default 4 MiB. */
  maxBufferedBytes?: number;
}

/** A sink over any stream (a file stream, stdout, a test's slow stream). */
export function createStreamSink(
  stream: Writable,
  opts: SinkOptions & { ownsStream?: boolean } = {},
): AccessLogSink {
  const max = opts.maxBufferedBytes ?? 4 << 20;
  let written = 0;
  let dropped = 0;
  let failed = false;
  stream.on('error', () => {
    // A disk that failed (full, gone) costs lines, counted, never the process.
    failed = true;
  });
  return {
    write(line) {
      if (failed || stream.writableLength > max || stream.destroyed) {
        dropped++;
        return;
      }
      stream.write(`${line}\n`);
      written++;
    },
    written: () => written,
    dropped: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
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
 * undefined) through `write`. The format defaults to JSON.
 */
export function subscribeAccessLog(
  write: (line: string) => void,
  opts: { format?: string; proxyId?: string; now?: () => number } = {},
): () => void {
  const format = compileAccessLogFormat(opts.format ?? 'json');
  const now = opts.now ?? Date.now;
  const proxyId = opts.proxyId;
  const onMessage = (message: unknown) => {
    const e = message as RequestEndEvent;
    if (proxyId !== undefined && e.proxyId !== proxyId) return;
    write(format(toAccessLogRecord(e, now())));
  };
  diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onMessage);
  return () => void diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onMessage);
}
