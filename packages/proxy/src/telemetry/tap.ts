// `weft tap`: a live stream of the requests a proxy handles that match a filter (service,
// path prefix, status), read from the request-end channel. Only tap sessions pay for
// matching; a proxy nobody taps does nothing here.

import diagnosticsChannel from 'node:diagnostics_channel';
import { CHANNEL_NAMES, type RequestEndEvent } from './channels.js';
import { splitServiceHost } from './istio-labels.js';

export interface TapFilter {
  /** Short service name: requests to it (outbound) or arriving at its sidecar (inbound). */
  service?: string | undefined;
  pathPrefix?: string | undefined;
  /** Inclusive status range. */
  status?: { min: number; max: number } | undefined;
}

/** `503`, `5xx`; anything else is an error that says what is accepted. */
export function parseStatusFilter(v: string): { min: number; max: number } {
  const exact = /^([1-5]\d\d)$/.exec(v);
  if (exact) return { min: Number(v), max: Number(v) };
  const cls = /^([1-5])xx$/i.exec(v);
  if (cls) return { min: Number(cls[1]) * 100, max: Number(cls[1]) * 100 + 99 };
  throw new Error(`status filter "${v}" is not a status code (503) or class (5xx)`);
}

/** One tapped request, as sent to the tap client (one JSON line each). */
export interface TapRecord {
  time: string;
  proxy: string;
  direction: 'inbound' | 'outbound';
  method: string;
  authority: string;
  path: string;
  status: number;
  flags: string;
  durationMs: number;
  /** Where it went: `address:port` of the last endpoint tried, and its cluster. */
  upstreamHost: string | null;
  upstreamCluster: string | null;
  route: string | null;
  attempts: number;
  requestId: string | null;
}

/** The service a request is for: the sidecar's own (inbound) or its cluster's (outbound). */
function serviceOf(e: RequestEndEvent, ownService: string | undefined): string | undefined {
  if (e.kind === 'inbound') return ownService;
  if (e.cluster === undefined) return undefined;
  // Cluster names end with the FQDN: outbound|port|subset|fqdn.
  return splitServiceHost(e.cluster.slice(e.cluster.lastIndexOf('|') + 1)).name;
}

export function matchesTap(
  f: TapFilter,
  e: RequestEndEvent,
  ownService: string | undefined,
): boolean {
  if (f.status !== undefined && (e.status < f.status.min || e.status > f.status.max)) return false;
  if (f.pathPrefix !== undefined && !e.path.startsWith(f.pathPrefix)) return false;
  if (f.service !== undefined && serviceOf(e, ownService) !== f.service) return false;
  return true;
}

export function toTapRecord(e: RequestEndEvent, now: number): TapRecord {
  return {
    time: new Date(now - e.durationMs).toISOString(),
    proxy: e.proxyId,
    direction: e.kind === 'inbound' ? 'inbound' : 'outbound',
    method: e.method,
    authority: e.authority,
    path: e.path,
    status: e.status,
    flags: e.flag ?? '-',
    durationMs: Math.round(e.durationMs * 1000) / 1000,
    upstreamHost: e.endpoint ?? null,
    upstreamCluster: e.cluster ?? null,
    route: e.routeId ?? null,
    attempts: e.attempts,
    requestId: e.requestId ?? null,
  };
}

/** Calls `onRecord` for each matching request of `proxyId` until the returned function runs. */
export function subscribeTap(
  proxyId: string,
  ownService: string | undefined,
  filter: TapFilter,
  onRecord: (r: TapRecord) => void,
  now: () => number = Date.now,
): () => void {
  const onMessage = (m: unknown) => {
    const e = m as RequestEndEvent;
    if (e.proxyId === proxyId && matchesTap(filter, e, ownService)) onRecord(toTapRecord(e, now()));
  };
  diagnosticsChannel.subscribe(CHANNEL_NAMES.requestEnd, onMessage);
  return () => void diagnosticsChannel.unsubscribe(CHANNEL_NAMES.requestEnd, onMessage);
}
