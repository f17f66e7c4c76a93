// The mesh at a glance: services, gateways and external hosts as nodes, observed traffic as
// edges coloured by health. The canvas is for eyes; the tables under it say the same in text,
// for screen readers, keyboards and tests.

import cytoscape from 'cytoscape';
import type { GraphEdge, GraphNode, MeshGraph } from '@weft/model';
import { empty, h, table } from '../dom.js';
import { HEALTH_COLOUR, healthBadge, ms, pct, rps } from '../format.js';

export interface TopologyView {
  element: HTMLElement;
  update(g: MeshGraph): void;
  destroy(): void;
}

const serviceHref = (n: GraphNode) =>
  n.kind === 'service'
    ? `#/service/${encodeURIComponent(n.namespace)}/${encodeURIComponent(n.name)}`
    : undefined;

function nodeLabel(n: GraphNode): string {
  const kind = n.kind === 'service' ? '' : ` (${n.kind})`;
  const count = n.kind === 'service' ? `\n${n.instances.healthy}/${n.instances.total} up` : '';
  return `${n.name}${kind}${count}`;
}

function edgeLabel(e: GraphEdge): string {
  return `${rps(e.signals)} rps · ${pct(e.signals.successRate)}`;
}

export function createTopologyView(
  parent: HTMLElement,
  navigate: (href: string) => void,
): TopologyView {
  const canvas = h('div', {
    class: 'graph',
    role: 'img',
    'aria-label': 'Service graph; the same data is in the tables below',
  });
  const summary = h('p', { class: 'summary', 'data-testid': 'graph-summary' });
  const tables = h('div', { class: 'tables' });
  const element = h(
    'section',
    { 'aria-labelledby': 'topology-title' },
    h('h1', { id: 'topology-title' }, 'Mesh topology'),
    summary,
    canvas,
    tables,
  );
  // Cytoscape measures its container when created: it must be in the page by then.
  parent.replaceChildren(element);
  const cy = cytoscape({
    container: canvas,
    // A small mesh must not be blown up to fill the canvas: labels stay readable sizes.
    maxZoom: 1.4,
    minZoom: 0.2,
    style: [
      {
        selector: 'node',
        style: {
          label: 'data(label)',
          'text-wrap': 'wrap',
          'text-valign': 'bottom',
          'text-margin-y': 4,
          'font-size': 12,
          color: '#1f2328',
          'background-color': 'data(colour)',
          width: 34,
          height: 34,
          'border-width': 2,
          'border-color': '#ffffff',
        },
      },
      { selector: 'node[kind = "gateway"]', style: { shape: 'round-rectangle', width: 44 } },
      { selector: 'node[kind = "external"]', style: { shape: 'diamond' } },
      {
        selector: 'edge',
        style: {
          label: 'data(label)',
          'font-size': 10,
          color: '#1f2328',
          'text-background-color': '#ffffff',
          'text-background-opacity': 0.85,
          'curve-style': 'bezier',
          'target-arrow-shape': 'triangle',
          'line-color': 'data(colour)',
          'target-arrow-color': 'data(colour)',
          width: 'data(width)',
        },
      },
    ],
  });
  cy.on('tap', 'node', (e) => {
    const href = e.target.data('href') as string | undefined;
    if (href !== undefined) navigate(href);
  });
  let shape = '';

  function update(g: MeshGraph): void {
    const ids = new Set<string>();
    for (const n of g.nodes) {
      ids.add(n.id);
      const data = {
        id: n.id,
        label: nodeLabel(n),
        colour: HEALTH_COLOUR[n.health],
        kind: n.kind,
        href: serviceHref(n),
      };
      const el = cy.getElementById(n.id);
      if (el.nonempty()) el.data(data);
      else cy.add({ group: 'nodes', data });
    }
    for (const e of g.edges) {
      ids.add(e.id);
      const data = {
        id: e.id,
        source: e.source,
        target: e.target,
        label: edgeLabel(e),
        colour: HEALTH_COLOUR[e.health],
        width: Math.min(8, 1.5 + Math.log10(1 + e.signals.rps) * 2),
      };
      const el = cy.getElementById(e.id);
      if (el.nonempty()) el.data(data);
      else cy.add({ group: 'edges', data });
    }
    cy.elements().forEach((el) => {
      if (!ids.has(el.id())) el.remove();
    });
    // Lay out again only when the set of nodes and edges changed, so the picture holds still.
    const now = [...ids].sort().join('|');
    if (now !== shape) {
      shape = now;
      const roots = cy.nodes('[kind = "gateway"]');
      cy.layout(
        roots.nonempty()
          ? {
              name: 'breadthfirst',
              directed: true,
              roots: roots.map((n) => n.id()),
              spacingFactor: 1.3,
              padding: 24,
            }
          : { name: 'circle', padding: 24 },
      ).run();
    }

    const traffic = g.edges.filter((e) => e.signals.rps > 0).length;
    summary.textContent =
      `${g.nodes.length} nodes, ${traffic} edges with traffic over the last ${Math.round(g.windowSeconds)} s` +
      (g.version === null ? '' : `; config version ${g.version}`) +
      (g.unreachable.length > 0 ? `; metrics unreadable from ${g.unreachable.join(', ')}` : '');

    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    const name = (id: string) => {
      const n = byId.get(id);
      return n === undefined ? id : n.kind === 'service' ? n.name : `${n.name} (${n.kind})`;
    };
    const link = (n: GraphNode) => {
      const href = serviceHref(n);
      return href === undefined ? name(n.id) : h('a', { href }, n.name);
    };
    tables.replaceChildren(
      g.edges.length === 0
        ? empty(
            'No traffic seen yet.',
            h('p', {}, 'Send some requests through the gateway, for example:'),
            h(
              'pre',
              {},
              "for i in $(seq 100); do curl -s -H 'Host: my-service' http://127.0.0.1:8080/order >/dev/null; done",
            ),
            h('p', {}, 'Use the port `weft demo` printed. Edges appear within a few seconds.'),
          )
        : table(
            'Traffic between nodes',
            ['From', 'To', 'Requests/s', 'Success', 'p99', 'Health'],
            g.edges.map((e) => [
              name(e.source),
              name(e.target),
              rps(e.signals),
              pct(e.signals.successRate),
              ms(e.signals.p99Ms),
              healthBadge(e.health),
            ]),
            { 'data-testid': 'edges' },
          ),
      g.nodes.length === 0
        ? empty(
            'No services registered yet.',
            h(
              'p',
              {},
              'Start the demo with `npx weft demo`, or start a sidecar beside your app: `weft sidecar --service NAME --app-port PORT`.',
            ),
          )
        : table(
            'Nodes',
            [
              'Name',
              'Kind',
              'Instances up',
              'Versions',
              'Requests/s in',
              'Success',
              'p99',
              'Health',
            ],
            g.nodes.map((n) => [
              link(n),
              n.kind,
              n.kind === 'service' ? `${n.instances.healthy}/${n.instances.total}` : '–',
              n.versions.join(', ') || '–',
              rps(n.inbound),
              pct(n.inbound.successRate),
              ms(n.inbound.p99Ms),
              healthBadge(n.health),
            ]),
            { 'data-testid': 'nodes' },
          ),
    );
  }

  return { element, update, destroy: () => cy.destroy() };
}
