// `weft top`: golden metrics per service (or per route), live, like `linkerd viz stat`.
// Every interval it reads each proxy's counters from its admin listener (found through the
// control plane) and shows what changed: requests per second, success rate, p50/p95/p99.

import type { Api } from '../api-client.js';
import { table } from '../output.js';
import {
  flatten,
  goldenRows,
  type GoldenRow,
  type JsonMetric,
  type Sample,
  type TopBy,
} from './top-stats.js';

export interface TopOptions {
  by: TopBy;
  intervalMs: number;
  /** Stop after this many refreshes (0 = until Ctrl-C). */
  iterations: number;
  output: 'table' | 'json';
}

interface ProxyRow {
  node: { id: string; adminAddress?: string };
}

const NAMES = [
  'istio_requests_total',
  'istio_request_duration_milliseconds',
  'weft_route_requests_total',
  'weft_route_request_duration_seconds',
].join(',');

async function sample(api: Api): Promise<{ sample: Sample; unreachable: string[] }> {
  const proxies = await api.request<{ items: ProxyRow[] }>('GET', '/v1/proxies');
  const atMs = Date.now();
  const s: Sample = { values: new Map(), atMs };
  const unreachable: string[] = [];
  await Promise.all(
    proxies.items.map(async ({ node }) => {
      if (node.adminAddress === undefined) return;
      try {
        const res = await fetch(`http://${node.adminAddress}/stats/json?name=${NAMES}`, {
          signal: AbortSignal.timeout(3_000),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        flatten(node.id, (await res.json()) as JsonMetric[], atMs, s);
      } catch {
        unreachable.push(node.id);
      }
    }),
  );
  return { sample: s, unreachable: unreachable.sort() };
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const ms = (v: number | null) => (v === null ? '-' : `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`);

export function formatTop(by: TopBy, rows: readonly GoldenRow[]): string {
  if (rows.length === 0) return `no ${by === 'service' ? 'service' : 'route'} had traffic`;
  return table(
    [by, 'success', 'rps', 'p50', 'p95', 'p99'],
    rows.map((r) => [
      r.name,
      pct(r.successRate),
      r.rps.toFixed(1),
      ms(r.p50Ms),
      ms(r.p95Ms),
      ms(r.p99Ms),
    ]),
  );
}

export async function topCommand(api: Api, o: TopOptions): Promise<number> {
  let prev = (await sample(api)).sample;
  // Tells scripts (and tests) that the first sample is taken: traffic from now on counts.
  process.stderr.write(`weft: sampling every ${o.intervalMs / 1000}s; Ctrl-C to stop\n`);
  let stopped = false;
  const stop = () => (stopped = true);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const live = o.output === 'table' && process.stdout.isTTY === true;
  try {
    for (let i = 0; o.iterations === 0 || i < o.iterations; i++) {
      await new Promise((r) => setTimeout(r, o.intervalMs));
      if (stopped) break;
      const { sample: cur, unreachable } = await sample(api);
      const rows = goldenRows(prev, cur, o.by);
      prev = cur;
      if (o.output === 'json') {
        process.stdout.write(
          `${JSON.stringify({ by: o.by, seconds: o.intervalMs / 1000, rows, unreachable })}\n`,
        );
        continue;
      }
      const note = unreachable.length > 0 ? `\nunreachable: ${unreachable.join(', ')}` : '';
      // Redraw in place on a terminal; one block after another into a pipe or file.
      if (live) process.stdout.write('\u001b[H\u001b[2J');
      process.stdout.write(`${formatTop(o.by, rows)}${note}\n${live ? '' : '\n'}`);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}
