// Input limits every listener enforces (gateway, sidecar outbound and inbound), checked before
// a handler sees the request. Most of the framing is node:http's (llhttp): it rejects
// Content-Length with Transfer-Encoding, duplicate or malformed lengths, bad chunk sizes,
// bad header names and oversized header blocks before any handler runs, and listen.ts turns
// those parser errors into proxy-made replies. What the parser does not limit is checked
// here, with a few comparisons per request.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, ResponseFlag } from '@weft/model';
import { sendLocalReply } from './local-reply.js';

export interface ListenerLimits {
  /** Request line + header block, bytes (node's maxHeaderSize); over it: 431. */
  maxHeaderBytes: number;
  /** Number of header fields; over it: 431. */
  maxHeaders: number;
  /** Request target length, bytes; over it: 414. */
  maxUrlBytes: number;
  /** Request body, bytes; over it: 413. 0 = no limit. */
  maxBodyBytes: number;
  /** From the first byte of a request to the end of its headers (slowloris); then 408. */
  headersTimeoutMs: number;
  /** From the first byte of a request to the end of its body; then 408. 0 = none. */
  requestTimeoutMs: number;
  /** How often node looks for connections past those timeouts. */
  timeoutCheckIntervalMs: number;
}

/** Envoy's defaults where it has one (60 KiB of headers, 100 headers). */
export const DEFAULT_LIMITS: Readonly<ListenerLimits> = {
  maxHeaderBytes: 60 * 1024,
  maxHeaders: 100,
  maxUrlBytes: 8 * 1024,
  maxBodyBytes: 64 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  timeoutCheckIntervalMs: 1_000,
};

export function resolveLimits(given: Partial<ListenerLimits> | undefined): ListenerLimits {
  const l = { ...DEFAULT_LIMITS, ...(given ?? {}) };
  // node refuses a headers timeout longer than a (non-zero) request timeout.
  if (l.requestTimeoutMs > 0 && l.headersTimeoutMs > l.requestTimeoutMs)
    l.headersTimeoutMs = l.requestTimeoutMs;
  return l;
}

/**
 * True when the request may go on to the handler; otherwise the reply is sent. Counts a
 * chunked body as it streams and answers 413 once it passes the limit.
 */
export function admitRequest(
  req: IncomingMessage,
  res: ServerResponse,
  limits: ListenerLimits,
  proxyId: string,
): boolean {
  const reject = (status: number, code: string, message: string) => {
    // The rest of the request is not read: the connection cannot be reused.
    res.shouldKeepAlive = false;
    sendLocalReply(res, proxyId, status, ResponseFlag.DownstreamProtocolError, code, message);
    return false;
  };
  if (req.httpVersionMajor !== 1)
    return reject(400, ErrorCode.BadRequest, `HTTP/${req.httpVersion} is not supported`);
  const url = req.url ?? '';
  if (url.length > limits.maxUrlBytes)
    return reject(
      414,
      ErrorCode.UriTooLong,
      `the request target is ${url.length} bytes, over this listener's limit of ${limits.maxUrlBytes}`,
    );
  const raw = req.rawHeaders;
  if (raw.length / 2 > limits.maxHeaders)
    return reject(
      431,
      ErrorCode.HeadersTooLarge,
      `the request has more than ${limits.maxHeaders} header fields`,
    );
  let host = false;
  let length = -1;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 4 && n.toLowerCase() === 'host') {
      // RFC 9112 3.2: exactly one Host; two could route one way and authorize another.
      if (host)
        return reject(400, ErrorCode.BadRequest, 'the request has more than one Host header');
      host = true;
    } else if (n.length === 14 && n.toLowerCase() === 'content-length') {
      // llhttp already refuses a second Content-Length; kept so that no other parser can
      // let two lengths through to the upstream.
      if (length >= 0)
        return reject(400, ErrorCode.BadRequest, 'the request has more than one Content-Length');
      length = Number(raw[i + 1]);
    } else if (n.length === 17 && n.toLowerCase() === 'transfer-encoding') {
      chunked = true;
    }
  }
  if (length >= 0 && chunked)
    return reject(
      400,
      ErrorCode.BadRequest,
      'the request has both Content-Length and Transfer-Encoding (a request smuggling pattern)',
    );
  if (!host && req.httpVersionMinor >= 1 && url.charCodeAt(0) === 47 /* / */)
    return reject(400, ErrorCode.BadRequest, 'an HTTP/1.1 request must have a Host header');
  const max = limits.maxBodyBytes;
  if (max > 0) {
    if (length > max) return reject(413, ErrorCode.BodyTooLarge, bodyMessage(max));
    if (chunked) countBody(req, res, max, proxyId);
  }
  return true;
}

function bodyMessage(max: number): string {
  return `the request body is larger than this listener's limit of ${max} bytes`;
}

/**
 * A body of unknown length is counted as it streams. The listener is added paused, so it
 * neither starts the flow early nor takes data from whoever reads the body later (pipe()
 * resumes the stream once both listen).
 */
function countBody(req: IncomingMessage, res: ServerResponse, max: number, proxyId: string) {
  let seen = 0;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen <= max) return;
    req.removeListener('data', onData);
    req.unpipe();
    res.shouldKeepAlive = false;
    if (!res.headersSent) {
      sendLocalReply(
        res,
        proxyId,
        413,
        ResponseFlag.DownstreamProtocolError,
        ErrorCode.BodyTooLarge,
        bodyMessage(max),
      );
      // Whatever was already forwarded is abandoned: closing the client connection makes
      // the forwarder abort its upstream request.
      res.once('finish', () => req.socket.destroy());
    } else {
      req.socket.destroy();
    }
  };
  req.on('data', onData);
  req.pause();
}
