// The dashboard's entry: a hash router over four views (topology, service, tap, config) and
// one server-sent event stream that keeps whichever view is open up to date.

import type { MeshGraph } from '@weft/model';
import { ApiError, keepToken, takeTokenFromAddress, watchGraph } from './api.js';
import { h } from './dom.js';
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

/** The control plane refused to be read without a (better) token: ask for one. */
function askForToken(reason: string): void {
  teardown?.();
  teardown = undefined;
  onGraph = undefined;
  status.textContent = 'a token is needed';
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'token-help',
  }) as HTMLInputElement;
  main.replaceChildren(
    h(
      'form',
      {
        class: 'token-form',
        'data-testid': 'token-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          keepToken(input.value);
          location.reload();
        },
      },
      h('h1', {}, 'This control plane needs a token to be read'),
      h(
        'p',
        { id: 'token-help' },
        `${reason}. Paste a token (the admin token, or one from \`weft token create\`); this tab keeps it until it is closed. Or open the dashboard at /dashboard/#token=TOKEN.`,
      ),
      h('label', { for: 'token' }, 'Token'),
      input,
      h('button', { type: 'submit' }, 'Read with this token'),
    ),
  );
  input.focus();
}

takeTokenFromAddress();
watchGraph(
  (g) => {
    latest = g;
    status.textContent = `live · updated ${new Date(g.generatedAt).toLocaleTimeString()}`;
    onGraph?.(g);
  },
  (connected, err) => {
    if (err instanceof ApiError && err.needsToken) askForToken(err.message);
    else if (!connected) status.textContent = 'reconnecting to the control plane…';
  },
);
window.addEventListener('hashchange', route);
route();
