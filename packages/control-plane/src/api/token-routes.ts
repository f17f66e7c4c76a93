// /v1/tokens: create, list and revoke API tokens (admin only; `weft token ...` calls these).
// The secret is in the create answer once and nowhere else.

import { isIdentityName, parseDurationMs } from '@weft/model';
import { describeToken } from './auth.js';
import { HttpError, readJson, sendJson } from './http.js';
import type { ApiRoute } from './server.js';
import type { TokenBook } from './tokens.js';

const MAX_BODY_BYTES = 16 << 10;

interface CreateBody {
  kind?: unknown;
  service?: unknown;
  namespace?: unknown;
  ttl?: unknown;
  description?: unknown;
}

export function tokenRoutes(tokens: TokenBook, now: () => number): ApiRoute[] {
  return [
    [
      'GET',
      /^\/v1\/tokens$/,
      async (_q, res) => sendJson(res, 200, { items: tokens.list().map(describeToken) }),
      'admin',
    ],
    [
      'POST',
      /^\/v1\/tokens$/,
      async (req, res) => {
        const b = (await readJson(req, MAX_BODY_BYTES)) as CreateBody;
        const t = checkCreate(b);
        const { token, record } = await tokens.create(t, now());
        sendJson(res, 201, { token, ...describeToken(record) });
      },
      'admin',
    ],
    [
      'DELETE',
      /^\/v1\/tokens\/([^/]+)$/,
      async (_q, res, [id]) => {
        const tokenId = decodeURIComponent(id ?? '');
        if (!(await tokens.revoke(tokenId)))
          throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', `no token with id "${tokenId}"`);
        sendJson(res, 200, { revoked: tokenId });
      },
      'admin',
    ],
  ];
}

function checkCreate(b: CreateBody) {
  const usage =
    'body must be {"kind": "admin"} or {"kind": "bootstrap", "service": "...", "namespace"?: "..."}, with "ttl"?: "24h" and "description"?: "..."';
  if (b?.kind !== 'admin' && b?.kind !== 'bootstrap')
    throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', usage);
  let ttlMs: number | undefined;
  if (b.ttl !== undefined) {
    ttlMs = typeof b.ttl === 'string' ? parseDurationMs(b.ttl) : undefined;
    if (ttlMs === undefined || !(ttlMs > 0))
      throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', `ttl "${String(b.ttl)}" is not a duration`);
  }
  if (b.description !== undefined && typeof b.description !== 'string')
    throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', usage);
  if (b.kind === 'admin') {
    if (b.service !== undefined || b.namespace !== undefined)
      throw new HttpError(
        400,
        'WEFT_ERR_BAD_REQUEST',
        'an admin token is not scoped: leave out service and namespace',
      );
    return { kind: 'admin' as const, ttlMs, description: b.description };
  }
  const namespace = b.namespace ?? 'default';
  if (typeof b.service !== 'string' || typeof namespace !== 'string')
    throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', usage);
  for (const [field, v] of [
    ['service', b.service],
    ['namespace', namespace],
  ] as const)
    if (!isIdentityName(v))
      throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', `${field} "${v}" is not a DNS-style name`);
  return {
    kind: 'bootstrap' as const,
    service: b.service,
    namespace,
    ttlMs,
    description: b.description,
  };
}
