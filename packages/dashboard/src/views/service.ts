// One service: its instances (address, labels, health, golden signals each), who calls it and
// whom it calls, the config that applies with its warnings, and the last minutes as a chart.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { GraphEdge, HistoryPoint, ServiceDetail } from '@weft/model';
import { fetchService } from '../api.js';
import { empty, h, table } from '../dom.js';
import { healthBadge, ms, pct, rps } from '../format.js';

export interface ServiceView {
  element: HTMLElement;
  /** Reads the service again (the page calls it on every new graph). */
  refresh(): Promise<void>;
  destroy(): void;
}

/** `service:ns/user` -> `user`; `gateway:ns/ingressgateway` -> `ingressgateway (gateway)`. */
function nodeName(id: string): string {
  const m = /^(service|gateway|external):(?:[^/]*\/)?(.*)$/.exec(id);
  if (m === null) return id;
  return m[1] === 'service' ? m[2]! : `${m[2]} (${m[1]})`;
}

/** Who calls the service (inbound) or whom it calls (outbound), one row per peer. */
function edgeTable(edges: GraphEdge[], way: 'inbound' | 'outbound', none: string): HTMLElement {
  if (edges.length === 0) return empty(none);
  const side = way === 'inbound' ? 'source' : 'target';
  return table(
    way === 'inbound' ? 'Callers (inbound)' : 'Calls (outbound)',
    [way === 'inbound' ? 'From' : 'To', 'Requests/s', 'Success', 'p99', 'Health'],
    edges.map((e) => [
      nodeName(e[side]),
      rps(e.signals),
      pct(e.signals.successRate),
      ms(e.signals.p99Ms),
      healthBadge(e.health),
    ]),
    { 'data-testid': way },
  );
}

function chartData(history: HistoryPoint[]): uPlot.AlignedData {
  return [history.map((p) => p.t / 1000), history.map((p) => p.rps), history.map((p) => p.p99Ms)];
}

export function createServiceView(namespace: string, name: string): ServiceView {
  const body = h('div', { 'aria-busy': 'true' }, 'Loading…');
  const chartBox = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const element = h(
    'section',
    { 'aria-labelledby': 'service-title' },
    h('p', {}, h('a', { href: '#/' }, '← Topology')),
    h(
      'h1',
      { id: 'service-title' },
      `Service ${name}`,
      h('span', { class: 'muted' }, ` (${namespace})`),
    ),
    h(
      'p',
      {},
      h(
        'a',
        { href: `#/tap/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}` },
        'Live tap of requests to this service →',
      ),
    ),
    chartBox,
    body,
  );
  let chart: uPlot | undefined;

  function drawChart(d: ServiceDetail): void {
    const data = chartData(d.history);
    if (chart === undefined) {
      chart = new uPlot(
        {
          title: 'Requests/s and p99 latency, last minutes',
          width: Math.min(900, Math.max(320, element.clientWidth || 800)),
          height: 220,
          scales: { x: { time: true } },
          series: [
            {},
            { label: 'requests/s', stroke: '#0969da', width: 2, scale: 'rps' },
            { label: 'p99 ms', stroke: '#8250df', width: 2, scale: 'ms' },
          ],
          axes: [
            {},
            { scale: 'rps', label: 'req/s' },
            { scale: 'ms', side: 1, label: 'ms', grid: { show: false } },
          ],
        },
        data,
        chartBox,
      );
    } else chart.setData(data);
  }

  async function refresh(): Promise<void> {
    let d: ServiceDetail;
    try {
      d = await fetchService(namespace, name);
    } catch (err) {
      body.replaceChildren(
        empty((err as Error).message, h('p', {}, h('a', { href: '#/' }, 'Back to the topology'))),
      );
      body.removeAttribute('aria-busy');
      return;
    }
    drawChart(d);
    const n = d.node;
    body.removeAttribute('aria-busy');
    body.replaceChildren(
      h(
        'p',
        { 'data-testid': 'service-summary' },
        healthBadge(n.health),
        ` ${n.instances.healthy} of ${n.instances.total} instances up · ${rps(n.inbound)} requests/s · success ${pct(n.inbound.successRate)} · p50 ${ms(n.inbound.p50Ms)} · p99 ${ms(n.inbound.p99Ms)}`,
      ),
      d.instances.length === 0
        ? empty(
            'No instance is registered.',
            h('p', {}, 'Start one with `weft sidecar`; it registers once its app is ready.'),
          )
        : table(
            'Instances',
            ['Instance', 'Address', 'Labels', 'Health', 'Requests/s', 'Success', 'p99'],
            d.instances.map((i) => [
              i.id,
              `${i.address}:${i.port}`,
              Object.entries(i.labels)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ') || '–',
              !i.healthy
                ? healthBadge('unhealthy')
                : i.ejected
                  ? h(
                      'span',
                      {
                        class: 'badge degraded',
                        title: 'taken out of rotation by outlier detection',
                      },
                      'ejected',
                    )
                  : healthBadge('healthy'),
              rps(i.inbound),
              pct(i.inbound.successRate),
              ms(i.inbound.p99Ms),
            ]),
            { 'data-testid': 'instances' },
          ),
      edgeTable(d.inboundEdges, 'inbound', 'Nobody has called this service lately.'),
      edgeTable(d.outboundEdges, 'outbound', 'This service has called no one lately.'),
      d.config.length === 0
        ? empty(
            'No VirtualService or DestinationRule names this service.',
            h(
              'p',
              {},
              'Traffic to it uses the defaults (peak-EWMA load balancing, default retries).',
            ),
          )
        : table(
            'Configuration that applies',
            ['Kind', 'Name', 'Warnings'],
            d.config.map((c) => [
              c.kind,
              `${c.namespace}/${c.name}`,
              c.warnings.length === 0
                ? 'none'
                : h('ul', {}, ...c.warnings.map((w) => h('li', {}, w))),
            ]),
            { 'data-testid': 'config' },
          ),
    );
  }

  return { element, refresh, destroy: () => chart?.destroy() };
}
