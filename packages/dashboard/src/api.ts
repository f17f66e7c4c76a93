// The control plane's dashboard API. The page is served by the control plane itself, so
// every call is same-origin.
//
// A control plane whose reads need a token (`--reads token`, or any address but loopback)
// gets one as a bearer token on every call. The page learns it once, from its address
// (`/dashboard/#token=...`: a fragment never reaches a server or its logs) or from the form
// shown when a call is refused, and keeps it for the tab only (sessionStorage). Event streams
// are read with fetch rather than EventSource, which cannot send a header.

import type { MeshGraph, ServiceDetail } from '@weft/model';

export class ApiError extends Error {
  constructor(
    message: string,
    /** 401 or 403: this control plane wants a (better) token for reads. */
    readonly needsToken = false,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'weft-token';

/** The token this tab reads with, if any. */
export function readToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function keepToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

/**
 * `#token=...` in the page's address: kept for the tab, then removed from the address (and
 * from history), so that it is not left in the URL bar or bookmarked.
 */
export function takeTokenFromAddress(): void {
  const m = /^#token=([^&]+)$/.exec(location.hash);
  if (m === null) return;
  keepToken(decodeURIComponent(m[1]!));
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
}

function headers(accept: string): Record<string, string> {
  const token = readToken();
  return token === undefined ? { accept } : { accept, authorization: `Bearer ${token}` };
}

/** What the API said when it refused a call (its error body's message, else the status). */
async function refusal(path: string, res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  return new ApiError(
    body.error?.message ?? `${path}: HTTP ${res.status}`,
    res.status === 401 || res.status === 403,
  );
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: headers('application/json') });
  if (!res.ok) throw await refusal(path, res);
  return (await res.json()) as T;
}

export const fetchGraph = () => get<MeshGraph>('/v1/dashboard/graph');
export const fetchService = (ns: string, name: string) =>
  get<ServiceDetail>(
    `/v1/dashboard/services/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`,
  );

export interface ConfigView {
  version: number | null;
  resources: {
    kind: string;
    namespace: string;
    name: string;
    revision: number;
    warnings: string[];
    resource: unknown;
  }[];
  proxies: {
    node: { id: string; role: string; service?: string; namespace: string };
    connectedAt: string;
    sentVersion?: number;
    ackedVersion?: number;
    nack?: { version: number; error: string };
    replica?: string;
  }[];
}
export const fetchConfig = () => get<ConfigView>('/v1/dashboard/config');

export interface StreamHandlers {
  /** One server-sent event: its `event:` name and its `data:`. */
  onEvent(name: string, data: string): void;
  onOpen?(): void;
  /** The stream failed or ended; `err` says why (an ApiError when the server refused it). */
  onEnd?(err: Error): void;
}

/**
 * Reads a server-sent event stream with fetch, so that the token goes along. Returns the
 * function that stops it. Does not reconnect: its caller decides.
 */
export function openStream(path: string, on: StreamHandlers): () => void {
  const abort = new AbortController();
  void (async () => {
    try {
      const res = await fetch(path, {
        headers: headers('text/event-stream'),
        signal: abort.signal,
      });
      if (!res.ok || res.body === null) throw await refusal(path, res);
      on.onOpen?.();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let name = 'message';
      let data: string[] = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            // A blank line ends an event (the server-sent events format).
            if (data.length > 0) on.onEvent(name, data.join('\n'));
            name = 'message';
            data = [];
          } else if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
      }
      on.onEnd?.(new Error('the stream ended'));
    } catch (err) {
      if (!abort.signal.aborted) on.onEnd?.(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  return () => abort.abort();
}

/** Every new graph the control plane builds, as it builds it (server-sent events). */
export function watchGraph(
  onGraph: (g: MeshGraph) => void,
  onState: (connected: boolean, err?: Error) => void,
): () => void {
  let stop: () => void = () => undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const connect = () => {
    stop = openStream('/v1/dashboard/events', {
      onEvent: (name, data) => {
        if (name === 'graph') onGraph(JSON.parse(data) as MeshGraph);
      },
      onOpen: () => onState(true),
      onEnd: (err) => {
        onState(false, err);
        // As EventSource would, unless no token can help: then the page asks for one.
        if (!stopped && !(err instanceof ApiError && err.needsToken))
          timer = setTimeout(connect, 2000);
      },
    });
  };
  connect();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    stop();
  };
}
