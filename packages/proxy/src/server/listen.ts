// A node:http listener for any of the handlers. Malformed requests get a 400 from the proxy
// (never a crash), the limits in limits.ts apply to every request, idle keep-alive sockets are
// closed on shutdown, and the listener is a thin shell so that a faster one (owning its
// sockets, llhttp framing) can replace it later.

import { createServer, STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttpsServer,
  type Server as HttpsServer,
  type ServerOptions as HttpsOptions,
} from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { ErrorCode, PROXY_ERROR_HEADER, PROXY_ID_HEADER, ResponseFlag } from '@weft/model';
import type { LogFn } from '../telemetry/log.js';
import { admitRequest, resolveLimits, type ListenerLimits } from './limits.js';
import { localReplyBody, sendLocalReply } from './local-reply.js';
import type { RequestHandler } from './request-handler.js';

export interface ListenOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Named in the 400 replies to malformed requests. */
  proxyId?: string;
  /** Longer than clients' idle timeouts, so the proxy is not the side that races a reuse. */
  keepAliveTimeoutMs?: number;
  /**
   * A connection with a request in progress but no bytes either way for this long is closed
   * (Envoy's stream_idle_timeout, 5 min by default); 0 = never.
   */
  idleTimeoutMs?: number;
  /** After close() is called, in-flight requests get this long before their sockets are cut. */
  closeGraceMs?: number;
  log?: LogFn;
  /** Serve HTTPS with these options (SNICallback, certificates); plain HTTP when absent. */
  tls?: HttpsOptions;
  /** Header, URL and body limits and slow-client timeouts; DEFAULT_LIMITS for what is unset. */
  limits?: Partial<ListenerLimits>;
}

export interface Listener {
  server: Server;
  port: number;
  /** TLS listeners only: replaces the default certificate (for clients without SNI). */
  setSecureContext?(options: SecureContextOptions): void;
  close(): Promise<void>;
}

/**
 * The hardened node:http (or https, with `opts.tls`) server for a handler, not yet listening:
 * listen() starts it; tls/mesh-listener.ts hands it connections from its own socket.
 */
export function createProxyServer(handler: RequestHandler, opts: ListenOptions = {}): Server {
  const tls = opts.tls;
  const limits = resolveLimits(opts.limits);
  const proxyId = opts.proxyId ?? 'proxy';
  const guarded: RequestHandler = (req, res) => {
    let admitted = false;
    try {
      admitted = admitRequest(req, res, limits, proxyId);
    } catch {
      // A bug in the checks must cost this connection, never the process.
      req.socket.destroy();
    }
    if (admitted) handler(req, res);
  };
  const serverOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    // Node's timers start at a request's first byte, so an idle keep-alive connection is not
    // cut by them; a connection that trickles its headers (slowloris) is, with a 408.
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    // Checked in admitRequest, so that the 400 carries the proxy's flag and code.
    requireHostHeader: false,
  };
  const https =
    tls === undefined ? undefined : createHttpsServer({ ...serverOptions, ...tls }, guarded);
  const server: Server = https ?? createServer(serverOptions, guarded);
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 65_000;
  // With no 'timeout' listener, node destroys the socket: the client sees a reset.
  server.timeout = opts.idleTimeoutMs ?? 300_000;
  // node truncates headers beyond maxHeadersCount; one more than the limit lets admitRequest see the excess.
  server.maxHeadersCount = limits.maxHeaders + 1;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    onClientError(err, socket, proxyId, opts.log, limits.maxHeaderBytes),
  );
  // node's own answers to these carry no flag; the proxy's do.
  server.on('checkExpectation', (_req, res) =>
    sendLocalReply(
      res,
      proxyId,
      417,
      ResponseFlag.DownstreamProtocolError,
      ErrorCode.BadRequest,
      'only "Expect: 100-continue" is supported',
    ),
  );
  server.on('connect', (_req, socket: Socket) => {
    writeRaw(socket, 405, 'CONNECT is not supported by this proxy', ErrorCode.BadRequest, proxyId);
  });
  return server;
}

export function listen(handler: RequestHandler, opts: ListenOptions = {}): Promise<Listener> {
  const server = createProxyServer(handler, opts);
  const https = opts.tls === undefined ? undefined : (server as HttpsServer);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.removeListener('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        server,
        port,
        ...(https
          ? { setSecureContext: (o: SecureContextOptions) => https.setSecureContext(o) }
          : {}),
        close: () => closeServer(server, opts.closeGraceMs ?? 5_000),
      });
    });
  });
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function onClientError(
  err: NodeJS.ErrnoException,
  socket: Socket,
  proxyId: string,
  log: LogFn | undefined,
  maxHeaderBytes: number,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, code, reason } = describeClientError(err, maxHeaderBytes);
  log?.('warn', 'bad request from client', { code: err.code, remote: socket.remoteAddress });
  const res = (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
  if (res === undefined || res.writableFinished) {
    writeRaw(socket, status, reason, code, proxyId);
    return;
  }
  if (res.req.complete) {
    // A pipelined request behind one still being answered is bad: finish that answer first,
    // then refuse this one and close. Nothing after it is read.
    res.once('finish', () => writeRaw(socket, status, reason, code, proxyId));
    res.once('close', () => {
      if (!res.writableFinished) socket.destroy();
    });
    return;
  }
  // The body of the request being handled is malformed (a bad chunk): answer it if nothing
  // has been sent yet; closing the connection makes the forwarder abort its upstream request.
  if (!res.headersSent) writeRaw(socket, status, reason, code, proxyId);
  else socket.destroy();
}

/** What a parser (or timeout) error becomes on the wire. */
export function describeClientError(
  err: NodeJS.ErrnoException & { rawPacket?: unknown },
  maxHeaderBytes: number,
): {
  status: number;
  code: string;
  reason: string;
} {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return {
      status: 408,
      code: ErrorCode.RequestTimeout,
      reason: 'the request took too long to arrive',
    };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The request line alone is over the limit: the target itself is what is too long.
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
    const eol = raw?.indexOf('\n') ?? 0;
    if (
      raw !== undefined &&
      /^[A-Z]+ /.test(raw.subarray(0, 16).toString('latin1')) &&
      (eol < 0 || eol >= maxHeaderBytes)
    )
      return {
        status: 414,
        code: ErrorCode.UriTooLong,
        reason: "the request target is over this listener's header size limit",
      };
    return {
      status: 431,
      code: ErrorCode.HeadersTooLarge,
      reason: "the request headers are over this listener's size limit",
    };
  }
  return {
    status: 400,
    code: ErrorCode.BadRequest,
    reason: `malformed request (${err.code ?? err.message})`,
  };
}

/** A whole reply on a socket node:http no longer (or never) manages; the connection then closes. */
function writeRaw(socket: Socket, status: number, reason: string, code: string, proxyId: string) {
  const body = localReplyBody(proxyId, reason, ResponseFlag.DownstreamProtocolError, code);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'connection: close\r\n' +
      'content-type: text/plain\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `${PROXY_ERROR_HEADER}: ${ResponseFlag.DownstreamProtocolError}\r\n` +
      `${PROXY_ID_HEADER}: ${proxyId}\r\n\r\n` +
      body,
  );
}
