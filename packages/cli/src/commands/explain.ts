// `weft explain METHOD URL`: which route a proxy would pick for a request and why the earlier
// ones did not match, the destinations, clusters and endpoints, timeout and retries. Against
// the live control plane's snapshot by default; offline against files with -f.

import type { Snapshot } from '@weft/model';
import type { Api } from '../api-client.js';
import { readInputs } from './config.js';

export interface ExplainCommandOptions {
  header: string[];
  filename?: string[];
  from?: string;
  /** `k=v` labels of the --from instance (which decide sourceLabels matches). */
  label?: string[];
  gateway?: string;
  output: 'text' | 'json';
}

export function parseLabel(v: string, prev: string[] = []): string[] {
  if (v.indexOf('=') <= 0) throw new Error(`--label needs 'key=value', got "${v}"`);
  return [...prev, v];
}

export function parseHeader(v: string, prev: string[] = []): string[] {
  if (v.indexOf(':') <= 0) throw new Error(`-H needs 'Name: value', got "${v}"`);
  return [...prev, v];
}

export async function explainCommand(
  api: Api,
  method: string,
  url: string,
  o: ExplainCommandOptions,
): Promise<number> {
  if (o.from !== undefined && o.gateway !== undefined)
    throw new Error('--from (a sidecar) and --gateway (a gateway) exclude each other');
  if (o.label?.length && o.from === undefined)
    throw new Error('--label describes the --from instance; give --from too');
  const labels: Record<string, string> = {};
  for (const l of o.label ?? []) {
    const i = l.indexOf('=');
    labels[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  const headers: Record<string, string> = {};
  for (const h of o.header) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const { explainRequest, formatExplain } = await import('@weft/proxy');
  let snapshot: Snapshot;
  if (o.filename && o.filename.length > 0) {
    const { snapshotOfSources } = await import('@weft/control-plane');
    const { formatViolation } = await import('@weft/model');
    const r = snapshotOfSources(
      readInputs(o.filename).map((i) => ({ path: i.path, text: i.content })),
    );
    const errors = r.violations.filter((v) => v.severity === 'error');
    if (errors.length > 0) {
      for (const v of errors) process.stderr.write(`${formatViolation(v)}\n`);
      process.stderr.write(`weft: the files have ${errors.length} error(s); fix them first\n`);
      return 1;
    }
    snapshot = r.snapshot;
  } else {
    snapshot = await api.request<Snapshot>('GET', '/v1/snapshot');
  }
  const trace = explainRequest(
    snapshot,
    { method, url, headers },
    {
      view:
        o.from !== undefined
          ? { kind: 'sidecar', from: o.from, labels }
          : { kind: 'gateway', ...(o.gateway !== undefined ? { gateway: o.gateway } : {}) },
      now: Date.now(),
    },
  );
  if (o.output === 'json') process.stdout.write(`${JSON.stringify(trace, null, 2)}\n`);
  else {
    const offline = o.filename && o.filename.length > 0;
    process.stdout.write(formatExplain(trace));
    if (offline && trace.action?.type === 'route')
      process.stdout.write(
        '(offline: no instances are known, so clusters have no endpoints, and a host without a DestinationRule has no cluster yet)\n',
      );
  }
  return 0;
}
