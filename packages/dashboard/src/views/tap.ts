// A live stream of the requests reaching a service, as its sidecars see them, filtered by
// path prefix and status. Newest first; the list keeps the last 200.

import { ApiError, openStream } from '../api.js';
import { h } from '../dom.js';
import { ms } from '../format.js';

interface TapRecord {
  time: string;
  proxy: string;
  method: string;
  path: string;
  status: number;
  flags: string;
  durationMs: number;
  upstreamHost: string | null;
  requestId: string | null;
}

const KEEP = 200;

export function createTapView(
  namespace: string,
  name: string,
): { element: HTMLElement; destroy(): void } {
  const path = h('input', {
    id: 'tap-path',
    name: 'path',
    placeholder: '/order',
    autocomplete: 'off',
  }) as HTMLInputElement;
  const status = h('input', {
    id: 'tap-status',
    name: 'status',
    placeholder: '5xx or 503',
    autocomplete: 'off',
  }) as HTMLInputElement;
  const state = h(
    'p',
    { role: 'status', 'aria-live': 'polite', 'data-testid': 'tap-state' },
    'Not tapping.',
  );
  const rows = h('tbody');
  let source: (() => void) | undefined;
  let count = 0;

  const stop = () => {
    source?.();
    source = undefined;
    toggle.textContent = 'Start tap';
  };
  const onEvent = (event: string, data: string) => {
    if (event === 'sources') {
      const ids = JSON.parse(data) as string[];
      state.textContent = `Tapping ${name} on ${ids.length} sidecar(s): ${ids.join(', ')}.`;
    } else if (event === 'tap') {
      const r = JSON.parse(data) as TapRecord;
      count++;
      rows.prepend(
        h(
          'tr',
          { class: r.status >= 500 ? 'row-error' : '' },
          h('td', {}, r.time.slice(11, 23)),
          h('td', {}, r.method),
          h('td', {}, r.path),
          h('td', {}, r.status),
          h('td', {}, r.flags),
          h('td', {}, ms(r.durationMs)),
          h('td', {}, r.proxy),
          h('td', {}, r.upstreamHost ?? '–'),
        ),
      );
      while (rows.childElementCount > KEEP) rows.lastElementChild?.remove();
      state.textContent = `${count} request(s) seen.`;
    } else if (event === 'tap-error') {
      const { proxy, error } = JSON.parse(data) as { proxy: string; error: string };
      state.textContent = `The tap on ${proxy} failed: ${error}`;
    }
  };
  const start = () => {
    stop();
    rows.replaceChildren();
    count = 0;
    const q = new URLSearchParams({ service: name });
    if (path.value.trim() !== '') q.set('path', path.value.trim());
    if (status.value.trim() !== '') q.set('status', status.value.trim());
    toggle.textContent = 'Stop tap';
    state.textContent = `Tapping ${name}… send requests to see them here.`;
    source = openStream(`/v1/dashboard/tap?${q}`, {
      onEvent,
      // A tap that the server refused (404: no sidecar) or ended is not retried.
      onEnd: (err) => {
        stop();
        state.textContent =
          err instanceof ApiError
            ? `The tap of ${name} was refused: ${err.message}`
            : `The tap of ${name} stopped; is the service running in the mesh?`;
      },
    });
  };
  const toggle = h('button', { type: 'submit' }, 'Start tap');
  const form = h(
    'form',
    {
      class: 'tap-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (source === undefined) start();
        else stop();
      },
    },
    h('label', { for: 'tap-path' }, 'Path prefix '),
    path,
    h('label', { for: 'tap-status' }, ' Status '),
    status,
    ' ',
    toggle,
  );
  const element = h(
    'section',
    { 'aria-labelledby': 'tap-title' },
    h(
      'p',
      {},
      h(
        'a',
        { href: `#/service/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}` },
        `← Service ${name}`,
      ),
    ),
    h('h1', { id: 'tap-title' }, `Live tap: ${name}`),
    form,
    state,
    h(
      'table',
      { 'data-testid': 'tap' },
      h('caption', {}, 'Requests, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Time', 'Method', 'Path', 'Status', 'Flags', 'Duration', 'Sidecar', 'Upstream'].map(
            (c) => h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      rows,
    ),
  );
  return { element, destroy: stop };
}
