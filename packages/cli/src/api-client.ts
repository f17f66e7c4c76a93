// The CLI talks to the control plane's HTTP API only. Errors come back as
// { error: { code, message, errors?, warnings? } } and are shown as they are. A locked control
// plane is reached over HTTPS trusting the mesh root, with a bearer token (credentials.ts finds
// both); undici's fetch, because Node's own takes no CA per request.

import { Agent, fetch, type RequestInit, type Response } from 'undici';
import type { Credentials } from './credentials.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface Api {
  base: string;
  /** Every control-plane replica given (`--control URL1,URL2`); requests use the first that answers. */
  replicas?: string[];
  /** `timeoutMs` (default 30 s) bounds the whole call; long polls pass their own. */
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts?: { timeoutMs?: number },
  ): Promise<T>;
  /** The mesh root file the API is trusted with, when it is HTTPS. */
  caFile?: string | undefined;
  /** One Api per replica, with the same credentials (to ask every replica, not the first). */
  perReplica(): Api[];
  /** A raw call with the credentials (streams such as `get instances -w`). */
  fetch(
    path: string,
    init?: {
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      signal?: AbortSignal;
    },
  ): Promise<Response>;
}

export function createApi(base: string, creds: Credentials = {}): Api {
  const dispatcher = creds.ca ? new Agent({ connect: { ca: creds.ca } }) : undefined;
  const auth: Record<string, string> = creds.token
    ? { authorization: `Bearer ${creds.token}` }
    : {};
  const call = (url: string, init: RequestInit) =>
    fetch(url, {
      ...init,
      headers: { ...auth, ...(init.headers as Record<string, string> | undefined) },
      ...(dispatcher ? { dispatcher } : {}),
    });
  const replicas = base
    .split(',')
    .map((u) => u.trim().replace(/\/$/, ''))
    .filter((u) => u !== '');
  let at = 0;
  const root0 = replicas[0] ?? base.replace(/\/$/, '');
  return {
    base: root0,
    replicas,
    caFile: creds.caFile,
    perReplica: () => (replicas.length > 1 ? replicas.map((r) => createApi(r, creds)) : []),
    fetch: (path, init) => call(`${root0}${path}`, init ?? {}),
    async request<T>(
      method: string,
      path: string,
      body?: unknown,
      opts?: { timeoutMs?: number },
    ): Promise<T> {
      let res: Response;
      let root: string | undefined;
      try {
        // A replica that cannot be reached is skipped for the next one (a connection that
        // failed sent nothing, so trying another cannot apply a write twice).
        for (let tried = 1; ; tried++) {
          root = replicas[at % replicas.length] ?? root0;
          try {
            res = await call(`${root}${path}`, {
              method,
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              ...(body === undefined ? {} : { body: JSON.stringify(body) }),
              signal: AbortSignal.timeout(opts?.timeoutMs ?? 30_000),
            });
            break;
          } catch (err) {
            const refused = (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
            if (!refused || tried >= replicas.length) throw err;
            at++;
          }
        }
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new ApiError(
          0,
          'WEFT_ERR_CONTROL_UNREACHABLE',
          `cannot reach the control plane at ${root ?? root0} (${cause}); ${unreachableHint(cause, root ?? root0)}`,
          undefined,
        );
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        throw new ApiError(
          res.status,
          'WEFT_ERR_BAD_RESPONSE',
          `the control plane answered ${res.status} with a body that is not JSON`,
          text,
        );
      }
      if (!res.ok) {
        const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new ApiError(
          res.status,
          e?.code ?? 'WEFT_ERR_API',
          e?.message ?? `HTTP ${res.status}`,
          parsed,
        );
      }
      return parsed as T;
    },
  };
}

/** What to do about a failed connection, in plain words. */
function unreachableHint(cause: string, url: string): string {
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(cause))
    return 'its certificate is not trusted: pass --ca FILE (or WEFT_CA) with the mesh root (`weft control` writes it to DATA_DIR/ca.pem)';
  if (url.startsWith('http:') && /ECONNRESET|UND_ERR_SOCKET|other side closed/i.test(cause))
    return 'a locked control plane speaks HTTPS: use an https:// URL';
  return 'start it with `weft control` or pass --control URL';
}
