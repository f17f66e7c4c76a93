// Every resource as applied (with its validation warnings), and which snapshot version each
// proxy has ACKed, with the reason for any NACK.

import { fetchConfig } from '../api.js';
import { empty, h, table } from '../dom.js';

export function createConfigView(): { element: HTMLElement; refresh(): Promise<void> } {
  const body = h('div', { 'aria-busy': 'true' }, 'Loading…');
  const element = h(
    'section',
    { 'aria-labelledby': 'config-title' },
    h('h1', { id: 'config-title' }, 'Configuration'),
    body,
  );

  async function refresh(): Promise<void> {
    const c = await fetchConfig();
    body.removeAttribute('aria-busy');
    body.replaceChildren(
      h(
        'p',
        {},
        c.version === null
          ? 'No snapshot yet.'
          : `The control plane serves snapshot version ${c.version}.`,
      ),
      c.resources.length === 0
        ? empty(
            'No resources applied.',
            h('pre', {}, 'weft apply -f examples/seed/virtual-service.yaml'),
          )
        : table(
            'Resources',
            ['Kind', 'Name', 'Revision', 'Warnings', 'As applied'],
            c.resources.map((r) => [
              r.kind,
              `${r.namespace}/${r.name}`,
              r.revision,
              r.warnings.length === 0
                ? 'none'
                : h('ul', {}, ...r.warnings.map((w) => h('li', {}, w))),
              h(
                'details',
                {},
                h('summary', {}, 'show'),
                h('pre', {}, JSON.stringify(r.resource, null, 2)),
              ),
            ]),
            { 'data-testid': 'resources' },
          ),
      c.proxies.length === 0
        ? empty(
            'No proxy is connected.',
            h('p', {}, 'Proxies connect when `weft gateway` or `weft sidecar` starts.'),
          )
        : table(
            'Proxies',
            ['Proxy', 'Role', 'Service', 'Sent', 'ACKed', 'Status'],
            c.proxies
              .slice()
              .sort((a, b) => a.node.id.localeCompare(b.node.id))
              .map((p) => [
                p.node.id,
                p.node.role,
                p.node.service ?? '–',
                p.sentVersion ?? '–',
                p.ackedVersion ?? '–',
                p.nack !== undefined
                  ? h(
                      'span',
                      { class: 'badge unhealthy' },
                      `NACK v${p.nack.version}: ${p.nack.error}`,
                    )
                  : p.ackedVersion !== undefined && p.ackedVersion === c.version
                    ? h('span', { class: 'badge healthy' }, 'in sync')
                    : h('span', { class: 'badge degraded' }, 'behind'),
              ]),
            { 'data-testid': 'proxies' },
          ),
    );
  }
  return { element, refresh };
}
