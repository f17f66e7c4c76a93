// A node:http listener for any of the handlers. Malformed requests get a 400 from the proxy
// (never a crash), idle keep-alive sockets are closed on shutdown, and the listener is a thin
// shell so that a faster one (owning its sockets, llhttp framing) can replace it later.

import { createServer, STATUS_CODES, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { ErrorCode, PROXY_ERROR_HEADER, PROXY_ID_HEADER, ResponseFlag } from '@weft/model';
import type { LogFn } from '../telemetry/log.js';
import { localReplyBody } from './local-reply.js';
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
}

export interface Listener {
  server: Server;
  port: number;
  /** TLS listeners only: replaces the default certificate (for clients without SNI). */
  setSecureContext?(options: SecureContextOptions): void;
  close(): Promise<void>;
}

export function listen(handler: RequestHandler, opts: ListenOptions = {}): Promise<Listener> {
  const tls = opts.tls;
  const https = tls === undefined ? undefined : createHttpsServer(tls, handler);
  const server: Server = https ?? createServer(handler);
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 65_000;
  // Must exceed keepAliveTimeout, or node may cut a connection that is just sending headers.
  server.headersTimeout = server.keepAliveTimeout + 1_000;
  // With no 'timeout' listener, node destroys the socket: the client sees a reset.
  server.timeout = opts.idleTimeoutMs ?? 300_000;
  const proxyId = opts.proxyId ?? 'proxy';
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    onClientError(err, socket, proxyId, opts.log),
  );
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
): void {
  // A response already in progress on this connection cannot be followed by a status line.
  const busy = (socket as { _httpMessage?: unknown })._httpMessage != null;
  if (err.code === 'ECONNRESET' || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason =
    status === 408
      ? 'the request took too long to arrive'
      : `malformed request (${err.code ?? err.message})`;
  log?.('warn', 'bad request from client', { code: err.code, remote: socket.remoteAddress });
  const body = localReplyBody(
    proxyId,
    reason,
    ResponseFlag.DownstreamProtocolError,
    ErrorCode.BadRequest,
  );
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
