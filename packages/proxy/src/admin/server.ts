// The proxy's admin listener, beside its traffic listeners (Istio's proxies serve
// /stats/prometheus on 15090). It serves metrics in Prometheus's text format, the same as
// JSON for `weft top`, a live tap stream for `weft tap`, and readiness. Its address goes to
// the control plane in the proxy's hello, which is how `weft prometheus-config`, `top` and
// `tap` find it. Bound to loopback by default: it is for operators and Prometheus, not for
// the mesh's traffic.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, ResponseFlag } from '@weft/model';
import { quote, sendLocalReply } from '../server/local-reply.js';
import type { ProxyMetrics } from '../telemetry/metrics.js';
import { parseStatusFilter, subscribeTap, type TapFilter } from '../telemetry/tap.js';

export interface AdminOptions {
  proxyId: string;
  /** The sidecar's service (tap matches inbound requests by it). */
  service?: string | undefined;
  metrics: ProxyMetrics;
  ready: () => boolean;
  host?: string;
  /** 0 (default) picks a free port; Istio's is 15090. */
  port?: number;
  now?: () => number;
}

export interface AdminServer {
  server: Server;
  host: string;
  port: number;
  /** `host:port`, as registered with the control plane. */
  address: string;
  close(): Promise<void>;
}

/** Longest a tap may run, and most lines it may send, whatever the client asks. */
const MAX_TAP_MS = 60 * 60_000;
const MAX_TAP_LINES = 1_000_000;
/** A tap client that reads slower than this many queued bytes loses lines (counted). */
const MAX_TAP_BUFFER = 1 << 20;

export async function startAdminServer(opts: AdminOptions): Promise<AdminServer> {
  const host = opts.host ?? '127.0.0.1';
  const taps = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    handle(opts, req, res, taps).catch((err: unknown) => {
      sendLocalReply(
        res,
        opts.proxyId,
        500,
        'INTERNAL',
        'WEFT_ERR_INTERNAL',
        `admin endpoint failed: ${(err as Error)?.message ?? String(err)}`,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    host,
    port,
    address: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of taps) t.end();
        server.close(() => resolve());
        server.closeIdleConnections();
        server.closeAllConnections();
      }),
  };
}

async function handle(
  opts: AdminOptions,
  req: IncomingMessage,
  res: ServerResponse,
  taps: Set<ServerResponse>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const bad = (message: string) =>
    sendLocalReply(
      res,
      opts.proxyId,
      400,
      ResponseFlag.DownstreamProtocolError,
      ErrorCode.BadRequest,
      message,
    );
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return bad(`the admin endpoints answer GET only, not ${quote(req.method ?? '')}`);
  }
  switch (url.pathname) {
    case '/stats/prometheus':
    case '/metrics': {
      const registry = opts.metrics.registry;
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
      return;
    }
    case '/stats/json': {
      // `?name=a,b` keeps the payload to what `weft top` and the dashboard read, and collects
      // only those: the control plane reads every proxy this way every 2 s, and collecting
      // the rest (process metrics read /proc and the heap) was most of an idle proxy's CPU.
      const names = url.searchParams.get('name')?.split(',');
      const registry = opts.metrics.registry;
      const picked =
        names === undefined
          ? await registry.getMetricsAsJSON()
          : await Promise.all(
              [...new Set(names)].flatMap((n) => registry.getSingleMetric(n)?.get() ?? []),
            );
      const body = JSON.stringify(picked);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    case '/healthz/ready': {
      const ready = opts.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ready ? 'ready\n' : 'no configuration yet\n');
      return;
    }
    case '/tap':
      return tap(opts, url, req, res, taps, bad);
    default:
      sendLocalReply(
        res,
        opts.proxyId,
        404,
        ResponseFlag.NoRoute,
        ErrorCode.NoRoute,
        `no admin endpoint at ${quote(url.pathname)}; try /stats/prometheus, /stats/json, /tap, /healthz/ready`,
      );
  }
}

function tap(
  opts: AdminOptions,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  taps: Set<ServerResponse>,
  bad: (message: string) => void,
): void {
  const q = url.searchParams;
  const filter: TapFilter = {};
  const service = q.get('service');
  if (service) filter.service = service;
  const path = q.get('path');
  if (path) {
    if (!path.startsWith('/')) return bad(`path prefix ${quote(path)} must start with /`);
    filter.pathPrefix = path;
  }
  const status = q.get('status');
  if (status) {
    try {
      filter.status = parseStatusFilter(status);
    } catch (err) {
      return bad((err as Error).message);
    }
  }
  const limit = Number(q.get('limit') ?? MAX_TAP_LINES);
  const maxMs = Number(q.get('maxMs') ?? MAX_TAP_MS);
  if (!Number.isInteger(limit) || limit <= 0) return bad('limit must be a positive integer');
  if (!Number.isFinite(maxMs) || maxMs <= 0) return bad('maxMs must be a positive number');

  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-cache',
    'x-weft-proxy': opts.proxyId,
  });
  // A first line at once, so the client knows the tap is live before traffic flows.
  res.write(`${JSON.stringify({ tap: 'started', proxy: opts.proxyId })}\n`);
  taps.add(res);
  let sent = 0;
  let dropped = 0;
  const stop = () => {
    unsubscribe();
    clearTimeout(timer);
    taps.delete(res);
  };
  const unsubscribe = subscribeTap(
    opts.proxyId,
    opts.service,
    filter,
    (r) => {
      if (res.writableLength > MAX_TAP_BUFFER) {
        dropped++;
        return;
      }
      res.write(`${JSON.stringify(r)}\n`);
      if (++sent >= Math.min(limit, MAX_TAP_LINES)) {
        stop();
        res.end(`${JSON.stringify({ tap: 'ended', reason: 'limit', sent, dropped })}\n`);
      }
    },
    opts.now,
  );
  const timer = setTimeout(
    () => {
      stop();
      res.end(`${JSON.stringify({ tap: 'ended', reason: 'time', sent, dropped })}\n`);
    },
    Math.min(maxMs, MAX_TAP_MS),
  );
  timer.unref();
  req.once('close', stop);
  res.once('close', stop);
}
