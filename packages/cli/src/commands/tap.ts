// `weft tap SERVICE`: a live stream of the requests to SERVICE, as every proxy sees them
// (the callers' sidecars and the gateway, outbound; SERVICE's own sidecars, inbound), with
// their timing and the endpoint each went to. Proxies are found through the control plane;
// each streams matching requests from its admin listener as JSON lines.

import { request, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { parseStatusFilter, type TapRecord } from '@weft/proxy';
import type { Api } from '../api-client.js';

export interface TapOptions {
  path?: string;
  status?: string;
  /** Stop after this many requests (0 = no limit). */
  max: number;
  /** Stop after this long (0 = until Ctrl-C). */
  durationMs: number;
  output: 'text' | 'json';
}

interface ProxyRow {
  node: { id: string; adminAddress?: string };
}

export function formatTapLine(r: TapRecord): string {
  const where = r.upstreamHost === null ? '' : ` -> ${r.upstreamHost}`;
  const cluster = r.upstreamCluster === null ? '' : ` (${r.upstreamCluster})`;
  const tries = r.attempts > 1 ? ` tries=${r.attempts}` : '';
  return `${r.time} ${r.proxy} ${r.direction === 'inbound' ? 'in ' : 'out'} ${r.method} ${r.authority}${r.path} ${r.status} ${r.flags} ${r.durationMs.toFixed(1)}ms${where}${cluster}${tries}`;
}

export async function tapCommand(api: Api, service: string, o: TapOptions): Promise<number> {
  if (o.status !== undefined) parseStatusFilter(o.status); // a clear error before connecting
  if (o.path !== undefined && !o.path.startsWith('/'))
    throw new Error(`--path ${JSON.stringify(o.path)} must start with /`);
  const proxies = (await api.request<{ items: ProxyRow[] }>('GET', '/v1/proxies')).items.filter(
    (p) => p.node.adminAddress !== undefined,
  );
  if (proxies.length === 0) throw new Error('no proxy with an admin listener is connected');
  const q = new URLSearchParams({ service });
  if (o.path !== undefined) q.set('path', o.path);
  if (o.status !== undefined) q.set('status', o.status);
  if (o.max > 0) q.set('limit', String(o.max));
  if (o.durationMs > 0) q.set('maxMs', String(o.durationMs));

  let printed = 0;
  const responses: IncomingMessage[] = [];
  const requests: ReturnType<typeof request>[] = [];
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  const stopAll = () => {
    for (const req of requests) req.destroy();
    finish();
  };
  let open = proxies.length;
  let started = 0;
  const ended = () => {
    if (--open === 0) finish();
  };
  for (const p of proxies) {
    let closed = false;
    const end = () => {
      if (closed) return;
      closed = true;
      ended();
    };
    const req = request(`http://${p.node.adminAddress}/tap?${q.toString()}`, (res) => {
      responses.push(res);
      if (res.statusCode !== 200) {
        process.stderr.write(`weft: ${p.node.id} refused the tap (HTTP ${res.statusCode})\n`);
        res.resume();
        res.once('end', end);
        return;
      }
      const lines = createInterface({ input: res });
      lines.on('line', (line) => {
        let msg: (TapRecord & { tap?: undefined }) | { tap: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return;
        }
        if (msg.tap !== undefined) {
          // Tells scripts (and tests) that every proxy is listening before traffic is sent.
          if (msg.tap === 'started' && ++started === proxies.length)
            process.stderr.write(`weft: tapping ${proxies.length} proxies for ${service}\n`);
          return;
        }
        if (o.max > 0 && printed >= o.max) return;
        printed++;
        const r = msg as TapRecord;
        process.stdout.write(`${o.output === 'json' ? JSON.stringify(r) : formatTapLine(r)}\n`);
        if (o.max > 0 && printed >= o.max) stopAll();
      });
      lines.once('close', end);
    });
    req.on('error', (err) => {
      if (!closed) process.stderr.write(`weft: cannot tap ${p.node.id}: ${err.message}\n`);
      end();
    });
    req.end();
    requests.push(req);
  }
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  const timer = o.durationMs > 0 ? setTimeout(stopAll, o.durationMs + 1_000) : undefined;
  await done;
  if (timer) clearTimeout(timer);
  process.off('SIGINT', stopAll);
  process.off('SIGTERM', stopAll);
  for (const res of responses) res.destroy();
  return 0;
}
