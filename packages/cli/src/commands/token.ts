// `weft token create|list|revoke`: the API tokens of a locked control plane (admin only).
// `create` prints the secret alone on stdout (so `> file` keeps it) and what it is on stderr;
// nothing can show the secret again.

import type { Api } from '../api-client.js';
import { print, table, type OutputFormat } from '../output.js';

interface TokenInfo {
  id: string;
  kind: 'admin' | 'bootstrap';
  service?: string;
  namespace?: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  description?: string;
}

export interface CreateFlags {
  admin?: boolean;
  service?: string;
  namespace?: string;
  ttl?: string;
  description?: string;
  output?: 'token' | 'json';
}

export async function tokenCreateCommand(api: Api, o: CreateFlags): Promise<number> {
  if (o.admin === true && o.service !== undefined)
    throw new Error('give --admin or --service SERVICE, not both');
  if (o.admin !== true && o.service === undefined)
    throw new Error('give --service SERVICE (a bootstrap token for a sidecar) or --admin');
  const body = {
    kind: o.admin ? 'admin' : 'bootstrap',
    ...(o.service !== undefined ? { service: o.service, namespace: o.namespace ?? 'default' } : {}),
    ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
    ...(o.description !== undefined ? { description: o.description } : {}),
  };
  const made = await api.request<TokenInfo & { token: string }>('POST', '/v1/tokens', body);
  if (o.output === 'json') {
    process.stdout.write(`${JSON.stringify(made, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${made.token}\n`);
  process.stderr.write(
    `token ${made.id} (${scope(made)}${made.expiresAt ? `, expires ${made.expiresAt}` : ''}) created; it is shown only now\n`,
  );
  return 0;
}

export async function tokenListCommand(api: Api, format: OutputFormat): Promise<number> {
  const { items } = await api.request<{ items: TokenInfo[] }>('GET', '/v1/tokens');
  print(format, { items }, () =>
    table(
      ['id', 'kind', 'scope', 'created', 'expires', 'last used', 'description'],
      items.map((t) => [
        t.id,
        t.kind,
        scope(t),
        t.createdAt,
        t.expiresAt ?? 'never',
        t.lastUsedAt ?? '-',
        t.description ?? '',
      ]),
    ),
  );
  return 0;
}

export async function tokenRevokeCommand(api: Api, id: string): Promise<number> {
  await api.request('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  process.stdout.write(`token ${id} revoked\n`);
  return 0;
}

function scope(t: TokenInfo): string {
  return t.kind === 'admin' ? 'everything' : `${t.namespace ?? 'default'}/${t.service ?? ''}`;
}
