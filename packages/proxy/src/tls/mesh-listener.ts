// The sidecar's inbound listener with PeerAuthentication. One port serves both plaintext and
// mutual TLS: the first byte of a connection tells them apart (22 is a TLS handshake record;
// no HTTP request starts with it), and the mode from the current route table decides what is
// accepted: STRICT only mutual TLS (a plaintext client is disconnected, as Istio resets it),
// PERMISSIVE both, DISABLE only plaintext. TLS connections must present a client certificate
// that chains to a root of the mesh's trust bundle. A renewed workload certificate replaces the
// server's secure context; connections already open keep theirs.

import type { Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { EffectiveMode } from '@weft/model';
import { createProxyServer, type Listener, type ListenOptions } from '../server/listen.js';
import type { RequestHandler } from '../server/request-handler.js';
import type { WorkloadCertificateSource } from './workload-certificate.js';

const TLS_HANDSHAKE = 22;

export interface MeshListenOptions extends Omit<ListenOptions, 'tls'> {
  /** The inbound mode now (read per connection, so a new snapshot applies to new connections). */
  mode: () => EffectiveMode;
  /** Absent: this proxy has no mesh identity and serves plaintext only. */
  certificate?: WorkloadCertificateSource | undefined;
  /** Counts refused connections (tests, metrics). */
  onRefused?: (
    why: 'plaintext-under-strict' | 'tls-under-disable' | 'tls-without-certificate',
  ) => void;
}

export interface MeshListener extends Listener {
  refused(): number;
  /**
   * Connections accepted since start: completed mutual-TLS handshakes and plaintext connections.
   * With keep-alive pools a handshake serves many requests (metrics, bench/mtls-cost.mjs).
   */
  accepted(): { mutualTls: number; plaintext: number };
  /**
   * The server that accepts every socket (`server` and its TLS twin never listen: they are
   * handed sockets), so the one whose getConnections() counts the listener's connections.
   */
  acceptor: NetServer;
}

export function listenMesh(
  handler: RequestHandler,
  opts: MeshListenOptions,
): Promise<MeshListener> {
  // The same hardened servers as every listener (limits, timeouts, malformed requests).
  const plain = createProxyServer(handler, opts);
  const secure = createProxyServer(handler, {
    ...opts,
    tls: { requestCert: true, rejectUnauthorized: true },
  });
  const cert = opts.certificate;
  const current = cert?.current();
  if (current !== undefined) setContext(secure, current);
  cert?.onChange((c) => setContext(secure, c));
  // node:http starts tracking connections (idle closing, request and headers timeouts) when a
  // server starts listening; these two never listen themselves, so start it by hand.
  plain.emit('listening');
  secure.emit('listening');
  // Shutdown (run/drain.ts) closes connections through `server`: reach both servers from it.
  const closeIdle = plain.closeIdleConnections.bind(plain);
  const closeAllPlain = plain.closeAllConnections.bind(plain);
  plain.closeIdleConnections = () => {
    closeIdle();
    secure.closeIdleConnections();
  };
  plain.closeAllConnections = () => {
    closeAllPlain();
    secure.closeAllConnections();
  };
  let refused = 0;
  const accepted = { mutualTls: 0, plaintext: 0 };
  secure.on('secureConnection', () => accepted.mutualTls++);
  const refuse = (
    socket: Socket,
    why: Parameters<NonNullable<MeshListenOptions['onRefused']>>[0],
  ) => {
    refused++;
    opts.onRefused?.(why);
    opts.log?.('warn', 'inbound connection refused', { why, remote: socket.remoteAddress });
    socket.destroy();
  };

  const dispatch = (socket: Socket): void => {
    const first = socket.read(1) as Buffer | null;
    if (first === null) {
      socket.once('readable', () => dispatch(socket));
      return;
    }
    socket.unshift(first);
    const tls = first[0] === TLS_HANDSHAKE;
    const mode = opts.mode();
    if (tls) {
      if (mode === 'DISABLE') return refuse(socket, 'tls-under-disable');
      if (cert?.current() === undefined) return refuse(socket, 'tls-without-certificate');
      secure.emit('connection', socket);
    } else {
      if (mode === 'STRICT') return refuse(socket, 'plaintext-under-strict');
      accepted.plaintext++;
      plain.emit('connection', socket);
    }
  };

  const raw = createNetServer((socket) => {
    socket.on('error', () => socket.destroy());
    dispatch(socket);
  });
  return new Promise((resolve, reject) => {
    raw.once('error', reject);
    raw.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      raw.removeListener('error', reject);
      const address = raw.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        server: plain,
        port,
        refused: () => refused,
        accepted: () => ({ ...accepted }),
        acceptor: raw,
        close: () => closeAll(raw, [plain, secure], opts.closeGraceMs ?? 5_000),
      });
    });
  });
}

function setContext(
  server: Server,
  c: { certPem: string; keyPem: string; trustPem: string },
): void {
  (server as unknown as { setSecureContext(o: object): void }).setSecureContext({
    cert: c.certPem,
    key: c.keyPem,
    // Clients may chain to any root of the trust bundle (the old and new one while rotating).
    ca: c.trustPem,
  });
}

/**
 * The HTTP servers never listen (the raw server hands them its sockets), so closing is the raw
 * server's: it resolves once every socket it accepted is gone. Idle keep-alive sockets go at
 * once; in-flight requests get the grace period.
 */
function closeAll(raw: NetServer, servers: Server[], graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!raw.listening) return resolve();
    // `plain` reaches `secure` too (see above).
    const force = setTimeout(() => servers[0]?.closeAllConnections(), graceMs);
    force.unref();
    raw.close(() => {
      clearTimeout(force);
      resolve();
    });
    // Stops node:http's connection-checking timers (the servers themselves never listened).
    for (const s of servers) s.close(() => undefined);
    servers[0]?.closeIdleConnections();
  });
}
