// The dashboard's HTTP endpoints on the control plane's API server: the graph (JSON and a
// server-sent event stream), a service's page, the config view, a tap relayed from the
// service's sidecars, and the built web app itself.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateResource } from '@weft/model';
import type { ControlPlane } from '../control-plane.js';
import type { SnapshotHub } from '../distribute/hub.js';
import { HttpError, sendJson } from '../api/http.js';
import type { ApiRoute } from '../api/server.js';
import type { DashboardCollector } from './collector.js';
import { serveDashboardFile } from './static-files.js';

export interface DashboardRouteOptions {
  cp: ControlPlane;
  hub: SnapshotHub;
  collector: DashboardCollector;
  /** Folder of the built app; undefined serves the API only. */
  dir: string | undefined;
}

/** Seconds between SSE comments that keep idle proxies and browsers from closing the stream. */
const KEEPALIVE_MS = 15_000;
/** A tap from the dashboard ends by itself after this long; the page can start a new one. */
const TAP_MAX_MS = 10 * 60_000;

function startEvents(res: ServerResponse): NodeJS.Timeout {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write(': weft dashboard stream\n\n');
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  return keepalive;
}

export function dashboardRoutes(opts: DashboardRouteOptions): ApiRoute[] {
  const { cp, hub, collector } = opts;
  const routes: ApiRoute[] = [
    [
      'GET',
      /^\/v1\/dashboard\/graph$/,
      async (_q, res) => {
        collector.watch();
        sendJson(res, 200, collector.current());
      },
    ],
    [
      'GET',
      /^\/v1\/dashboard\/events$/,
      async (req, res) => {
        const keepalive = startEvents(res);
        const send = (g: unknown) => res.write(`event: graph\ndata: ${JSON.stringify(g)}\n\n`);
        send(collector.current());
        const unsubscribe = collector.subscribe(send);
        req.once('close', () => {
          clearInterval(keepalive);
          unsubscribe();
        });
      },
    ],
    [
      'GET',
      /^\/v1\/dashboard\/services\/([^/]+)\/([^/]+)$/,
      async (_q, res, [ns, name]) => {
        collector.watch();
        const detail = collector.service(decodeURIComponent(ns!), decodeURIComponent(name!));
        if (detail === undefined)
          throw new HttpError(
            404,
            'WEFT_ERR_NOT_FOUND',
            `no service ${ns}/${name} in the mesh: no instance of it is registered`,
          );
        sendJson(res, 200, detail);
      },
    ],
    [
      'GET',
      /^\/v1\/dashboard\/config$/,
      async (_q, res) =>
        sendJson(res, 200, {
          version: cp.snapshot()?.version ?? null,
          resources: cp
            .resources()
            .map(({ resource, modRevision }) => ({
              kind: resource.kind,
              namespace: resource.metadata.namespace,
              name: resource.metadata.name,
              revision: modRevision,
              warnings: validateResource(resource)
                .violations.filter((v) => v.severity === 'warning')
                .map((v) => (v.field ? `${v.field}: ${v.message}` : v.message)),
              resource,
            }))
            .sort((a, b) =>
              `${a.kind}/${a.namespace}/${a.name}`.localeCompare(
                `${b.kind}/${b.namespace}/${b.name}`,
              ),
            ),
          proxies: hub.statuses(),
        }),
    ],
    ['GET', /^\/v1\/dashboard\/tap$/, async (req, res) => relayTap(hub, req, res)],
  ];
  if (opts.dir !== undefined) {
    const dir = opts.dir;
    routes.push(
      [
        'GET',
        /^\/$/,
        async (_q, res) => {
          res.writeHead(302, { location: '/dashboard/' });
          res.end();
        },
        'public',
      ],
      // The page and its assets hold no mesh data: anyone may load them, and the page then
      // reads the API with the token it is given (dashboard/src/api.ts).
      [
        'GET',
        /^\/dashboard(\/.*)?$/,
        async (req, res) => serveDashboardFile(dir, req, res),
        'public',
      ],
    );
  }
  return routes;
}

/**
 * Streams what a service's sidecars see arriving, as server-sent events: one `tap` event per
 * request, from every sidecar of the service at once. The control plane only relays; the
 * filtering happens in each proxy (its admin /tap endpoint).
 */
async function relayTap(
  hub: SnapshotHub,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const q = new URL(req.url ?? '/', 'http://api').searchParams;
  const service = q.get('service') ?? '';
  if (service === '')
    throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', 'say which service to tap: ?service=NAME');
  const sidecars = hub
    .statuses()
    .map((s) => s.node)
    .filter((n) => n.role === 'sidecar' && n.service === service && n.adminAddress !== undefined);
  if (sidecars.length === 0)
    throw new HttpError(
      404,
      'WEFT_ERR_NOT_FOUND',
      `no connected sidecar of ${service} serves a tap; is the service running in the mesh?`,
    );
  const forward = new URLSearchParams({ service, maxMs: String(TAP_MAX_MS) });
  for (const k of ['path', 'status']) {
    const v = q.get(k);
    if (v) forward.set(k, v);
  }
  const abort = new AbortController();
  const keepalive = startEvents(res);
  res.write(`event: sources\ndata: ${JSON.stringify(sidecars.map((n) => n.id))}\n\n`);
  req.once('close', () => {
    clearInterval(keepalive);
    abort.abort();
  });
  await Promise.all(
    sidecars.map(async (node) => {
      try {
        const r = await fetch(`http://${node.adminAddress}/tap?${forward}`, {
          signal: abort.signal,
        });
        if (!r.ok || r.body === null) {
          const text = await r.text();
          res.write(
            `event: tap-error\ndata: ${JSON.stringify({ proxy: node.id, error: text.trim() })}\n\n`,
          );
          return;
        }
        let buffered = '';
        for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += Buffer.from(chunk).toString('utf8');
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            // Control lines ({"tap":"started"}) stay in the proxy; only requests go on.
            if (line.startsWith('{"tap":')) continue;
            if (line !== '') res.write(`event: tap\ndata: ${line}\n\n`);
          }
        }
      } catch (err) {
        if (!abort.signal.aborted)
          res.write(
            `event: tap-error\ndata: ${JSON.stringify({ proxy: node.id, error: (err as Error).message })}\n\n`,
          );
      }
    }),
  );
  if (!abort.signal.aborted) res.end();
}
