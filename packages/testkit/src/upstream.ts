// A fake upstream service for proxy tests: an HTTP server on 127.0.0.1 that answers JSON
// naming itself and echoing what it received, with knobs to be slow, to fail, or to cut the
// connection. Knobs can be set for the whole server (set()) or per request through headers
// (`x-fake-delay: 200`, `x-fake-status: 503`, `x-fake-close: before-headers|mid-body`), so a
// test can drive one request through a proxy without reconfiguring anything.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeUpstreamBehavior {
  /** Wait this long before answering. */
  delayMs?: number;
  /** Answer with this status instead of 200. */
  status?: number;
  /** Destroy the connection instead of answering (`before-headers`) or halfway through the body. */
  close?: 'before-headers' | 'mid-body';
  /** Extra response headers. */
  headers?: Record<string, string>;
}

export interface FakeUpstreamReply {
  name: string;
  method: string;
  /** The request target as received (path and query). */
  path: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface FakeUpstream {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly url: string;
  /** Requests answered or started. */
  readonly requests: number;
  /** TCP connections accepted: fewer than requests means keep-alive reuse. */
  readonly connections: number;
  /** Every request received, oldest first. */
  readonly received: readonly FakeUpstreamReply[];
  /** Resolves when the next request reaches this upstream (to act while it is in flight). */
  nextRequest(): Promise<void>;
  set(behavior: FakeUpstreamBehavior): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeUpstream(
  name: string,
  opts: { port?: number; behavior?: FakeUpstreamBehavior } = {},
): Promise<FakeUpstream> {
  let behavior: FakeUpstreamBehavior = opts.behavior ?? {};
  let requests = 0;
  let connections = 0;
  const received: FakeUpstreamReply[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let waiters: (() => void)[] = [];

  const server: Server = createServer((req, res) => {
    requests++;
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply: FakeUpstreamReply = {
        name,
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(reply);
      const b = perRequest(behavior, req.headers);
      const answer = () => {
        if (b.close === 'before-headers') {
          req.socket.destroy();
          return;
        }
        const body = JSON.stringify(reply);
        res.writeHead(b.status ?? 200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'x-upstream': name,
          ...b.headers,
        });
        if (b.close === 'mid-body') {
          res.write(body.slice(0, Math.floor(body.length / 2)));
          const t = setTimeout(() => {
            timers.delete(t);
            req.socket.destroy();
          }, 20);
          timers.add(t);
          return;
        }
        res.end(body);
      };
      if (b.delayMs !== undefined && b.delayMs > 0) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, b.delayMs);
        timers.add(t);
      } else answer();
    });
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    name,
    address: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    nextRequest() {
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    received,
    set(b) {
      behavior = b;
    },
    reset() {
      behavior = {};
      requests = 0;
      connections = 0;
      received.length = 0;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

function perRequest(base: FakeUpstreamBehavior, h: IncomingHttpHeaders): FakeUpstreamBehavior {
  const delay = h['x-fake-delay'];
  const status = h['x-fake-status'];
  const close = h['x-fake-close'];
  if (delay === undefined && status === undefined && close === undefined) return base;
  const out: FakeUpstreamBehavior = { ...base };
  if (typeof delay === 'string') out.delayMs = Number(delay);
  if (typeof status === 'string') out.status = Number(status);
  if (close === 'before-headers' || close === 'mid-body') out.close = close;
  return out;
}

/** A port on 127.0.0.1 that refuses connections (it was free a moment ago). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
