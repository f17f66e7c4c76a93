// The CLI talks to the control plane's HTTP API only. Errors come back as
// { error: { code, message, errors?, warnings? } } and are shown as they are.

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
  /** `timeoutMs` (default 30 s) bounds the whole call; long polls pass their own. */
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts?: { timeoutMs?: number },
  ): Promise<T>;
}

export function createApi(base: string): Api {
  const root = base.replace(/\/$/, '');
  return {
    base: root,
    async request<T>(
      method: string,
      path: string,
      body?: unknown,
      opts?: { timeoutMs?: number },
    ): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${root}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(opts?.timeoutMs ?? 30_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new ApiError(
          0,
          'WEFT_ERR_CONTROL_UNREACHABLE',
          `cannot reach the control plane at ${root} (${cause}); start it with \`weft control\` or pass --control URL`,
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
