// Who may do what on a locked control plane. Callers present a bearer token; the store keeps
// only its SHA-256 (a stolen store holds no usable secret), and a token's id is the first 16
// hex digits of that hash, so the id can be listed and logged without revealing anything.
//
// Two kinds of token:
// - admin: change config, register anything, manage tokens (what `weft apply` and operators use);
// - bootstrap, scoped to one service in one namespace: what a sidecar (or gateway) proves its
//   identity with. It may register, heartbeat, report health and deregister instances of that
//   service, open the snapshot stream, and get a workload certificate for that identity only.
//
// Reads (GET of config, instances, proxies, the dashboard) are open when the API listens on
// loopback only, as Linkerd viz's dashboard is, and need a token (any kind) otherwise; see
// docs/security.md. This file is the pure part: decisions take the token record and `now`.

import { createHash, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'admin' | 'bootstrap';

/** What the store keeps for a token (never the secret). */
export interface TokenRecord {
  id: string;
  kind: TokenKind;
  /** Bootstrap tokens: the service and namespace they speak for. */
  service?: string;
  namespace?: string;
  /** Hex SHA-256 of the secret. */
  hash: string;
  createdAt: string;
  /** Absent: never expires. */
  expiresAt?: string;
  /** Free text shown by `weft token list` (e.g. "first admin token"). */
  description?: string;
  /** Last time a request used it, as far as the store knows (written at most once a minute). */
  lastUsedAt?: string;
}

/** The caller of one request once its token was checked (or none was sent). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'admin'; tokenId: string }
  | { kind: 'bootstrap'; tokenId: string; service: string; namespace: string };

/** What a request wants to do; the API maps each route to one of these. */
export type Action =
  /** Any GET of state: config, instances, services, proxies, the dashboard. */
  | { type: 'read' }
  /** Change config or manage tokens. */
  | { type: 'admin' }
  /** Register, heartbeat, report health of, or deregister an instance of this service. */
  | { type: 'instance'; service: string; namespace: string }
  /** A workload certificate for this identity. */
  | { type: 'certificate'; service: string; namespace: string }
  /** Open the snapshot stream (the hello's node is checked again when it arrives). */
  | { type: 'stream' }
  /** Always allowed: liveness, metrics (Prometheus scrapes without credentials). */
  | { type: 'public' };

export interface AuthPolicy {
  /** Whether reads need a token. */
  openReads: boolean;
}

export type AuthOutcome =
  { allowed: true } | { allowed: false; status: 401 | 403; code: AuthErrorCode; message: string };

export const AuthErrorCode = {
  /** 401: no bearer token was sent. */
  Required: 'WEFT_ERR_AUTH_REQUIRED',
  /** 401: the token is not known (never issued, or revoked). */
  InvalidToken: 'WEFT_ERR_AUTH_INVALID_TOKEN',
  /** 401: the token's time is over. */
  Expired: 'WEFT_ERR_AUTH_TOKEN_EXPIRED',
  /** 403: a valid token that may not do this (needs admin). */
  AdminRequired: 'WEFT_ERR_AUTH_ADMIN_REQUIRED',
  /** 403: a bootstrap token used for another service than its own. */
  WrongService: 'WEFT_ERR_AUTH_WRONG_SERVICE',
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

const ALLOWED: AuthOutcome = { allowed: true };

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function tokenIdOf(hash: string): string {
  return hash.slice(0, 16);
}

/** Random bytes -> a token a person can paste: `weft_` and 43 base64url characters. */
export function formatToken(random: Uint8Array): string {
  return `weft_${Buffer.from(random).toString('base64url')}`;
}

/** The token in an `Authorization: Bearer ...` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (h === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(h);
  return m?.[1];
}

/**
 * The principal a presented token stands for. `find` looks a record up by id; the full hash is
 * compared in constant time. Throws nothing: an unusable token is an outcome.
 */
export function authenticate(
  secret: string | undefined,
  find: (id: string) => TokenRecord | undefined,
  now: number,
): { principal: Principal } | Extract<AuthOutcome, { allowed: false }> {
  if (secret === undefined) return { principal: { kind: 'anonymous' } };
  const hash = hashToken(secret);
  const rec = find(tokenIdOf(hash));
  if (rec === undefined || !sameHex(rec.hash, hash))
    return {
      allowed: false,
      status: 401,
      code: AuthErrorCode.InvalidToken,
      message: 'the token is not known to this control plane (never issued, or revoked)',
    };
  if (rec.expiresAt !== undefined && Date.parse(rec.expiresAt) <= now)
    return {
      allowed: false,
      status: 401,
      code: AuthErrorCode.Expired,
      message: `token ${rec.id} expired at ${rec.expiresAt}; ask an admin for a new one`,
    };
  if (rec.kind === 'admin') return { principal: { kind: 'admin', tokenId: rec.id } };
  return {
    principal: {
      kind: 'bootstrap',
      tokenId: rec.id,
      service: rec.service ?? '',
      namespace: rec.namespace ?? 'default',
    },
  };
}

/** May `who` do `what`? */
export function authorize(who: Principal, what: Action, policy: AuthPolicy): AuthOutcome {
  if (what.type === 'public') return ALLOWED;
  if (who.kind === 'anonymous') {
    if (what.type === 'read' && policy.openReads) return ALLOWED;
    return {
      allowed: false,
      status: 401,
      code: AuthErrorCode.Required,
      message:
        'this control plane is locked: send a token (Authorization: Bearer TOKEN; the CLI reads --token or WEFT_TOKEN)',
    };
  }
  if (who.kind === 'admin') return ALLOWED;
  switch (what.type) {
    case 'read':
    case 'stream':
      return ALLOWED;
    case 'admin':
      return {
        allowed: false,
        status: 403,
        code: AuthErrorCode.AdminRequired,
        message: `token ${who.tokenId} is a bootstrap token for ${who.namespace}/${who.service}; this needs an admin token`,
      };
    case 'instance':
    case 'certificate':
      if (what.service === who.service && what.namespace === who.namespace) return ALLOWED;
      return {
        allowed: false,
        status: 403,
        code: AuthErrorCode.WrongService,
        message: `token ${who.tokenId} speaks for ${who.namespace}/${who.service} only, not ${what.namespace}/${what.service}`,
      };
  }
}

/** `weft token list`'s view of a record: everything but the hash. */
export function describeToken(rec: TokenRecord): Omit<TokenRecord, 'hash'> {
  const { hash: _hash, ...rest } = rec;
  return rest;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
