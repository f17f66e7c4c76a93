// The control plane's dashboard API. The page is served by the control plane itself, so
// every call is same-origin.

import type { MeshGraph, ServiceDetail } from '@weft/model';

export class ApiError extends Error {}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new ApiError(body.error?.message ?? `${path}: HTTP ${res.status}`);
  }
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

/** Every new graph the control plane builds, as it builds it (server-sent events). */
export function watchGraph(
  onGraph: (g: MeshGraph) => void,
  onState: (connected: boolean) => void,
): () => void {
  const es = new EventSource('/v1/dashboard/events');
  es.addEventListener('graph', (e) => onGraph(JSON.parse((e as MessageEvent<string>).data)));
  es.onopen = () => onState(true);
  // EventSource reconnects by itself; the status line says so meanwhile.
  es.onerror = () => onState(false);
  return () => es.close();
}
