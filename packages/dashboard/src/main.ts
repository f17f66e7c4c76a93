// The dashboard's entry: a hash router over four views (topology, service, tap, config) and
// one server-sent event stream that keeps whichever view is open up to date.

import type { MeshGraph } from '@weft/model';
import { watchGraph } from './api.js';
import { createConfigView } from './views/config.js';
import { createServiceView } from './views/service.js';
import { createTapView } from './views/tap.js';
import { createTopologyView, type TopologyView } from './views/topology.js';
import './style.css';

const main = document.getElementById('main')!;
const status = document.getElementById('status')!;
let latest: MeshGraph | undefined;
let onGraph: ((g: MeshGraph) => void) | undefined;
let teardown: (() => void) | undefined;

const navigate = (href: string) => {
  location.hash = href.replace(/^#/, '');
};

function route(): void {
  teardown?.();
  teardown = undefined;
  onGraph = undefined;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]'))
    a.toggleAttribute('aria-current', a.dataset.nav === (parts[0] || 'topology'));
  if (parts[0] === 'service' && parts[1] && parts[2]) {
    const view = createServiceView(parts[1], parts[2]);
    main.replaceChildren(view.element);
    void view.refresh();
    onGraph = () => void view.refresh();
    teardown = view.destroy;
  } else if (parts[0] === 'tap' && parts[1] && parts[2]) {
    const view = createTapView(parts[1], parts[2]);
    main.replaceChildren(view.element);
    teardown = view.destroy;
  } else if (parts[0] === 'config') {
    const view = createConfigView();
    main.replaceChildren(view.element);
    void view.refresh();
    onGraph = () => void view.refresh();
  } else {
    const view: TopologyView = createTopologyView(main, navigate);
    if (latest !== undefined) view.update(latest);
    onGraph = view.update;
    teardown = view.destroy;
  }
  main.focus({ preventScroll: true });
}

watchGraph(
  (g) => {
    latest = g;
    status.textContent = `live · updated ${new Date(g.generatedAt).toLocaleTimeString()}`;
    onGraph?.(g);
  },
  (connected) => {
    if (!connected) status.textContent = 'reconnecting to the control plane…';
  },
);
window.addEventListener('hashchange', route);
route();
