// Istio's request mirroring (istio-semantics 1.9): a copy of a share of a route's requests
// goes to other clusters, fire-and-forget. compileMirrors resolves the clusters once per
// snapshot; per request, shouldMirror draws the share and send.ts sends the copy.

import type { MirrorPolicy } from '@weft/model';
import type { RuntimeCluster } from '../../compile/types.js';
import { at, CompileError } from '../../routing/compile-error.js';
import { perMillion } from '../fault/index.js';

export interface CompiledMirror {
  readonly clusterName: string;
  /** Undefined when the snapshot has no such cluster: the copy is not sent. */
  readonly cluster: RuntimeCluster | undefined;
  /** The FQDN the mirror names, for messages. */
  readonly host: string;
  /** Share of requests copied, in parts per million. */
  readonly perMillion: number;
}

/** Undefined when nothing is ever mirrored, so that the route pays nothing for it. */
export function compileMirrors(
  mirrors: MirrorPolicy[] | undefined,
  clusters: ReadonlyMap<string, RuntimeCluster>,
  warn: (msg: string) => void,
): readonly CompiledMirror[] | undefined {
  if (mirrors === undefined) return undefined;
  if (!Array.isArray(mirrors)) throw new CompileError('mirrors', 'must be an array');
  const out: CompiledMirror[] = [];
  for (const [i, m] of mirrors.entries()) {
    at(`mirrors[${i}]`, () => {
      if (typeof m !== 'object' || m === null) throw new Error('must be an object');
      if (typeof m.cluster !== 'string' || m.cluster === '')
        throw new CompileError('cluster', 'must be a non-empty string');
      if (typeof m.percent !== 'number' || !(m.percent >= 0 && m.percent <= 100))
        throw new CompileError('percent', `${String(m.percent)} must be a number from 0 to 100`);
      const share = perMillion(m.percent);
      if (share === 0) return;
      const cluster = clusters.get(m.cluster);
      if (cluster === undefined)
        warn(`mirror to cluster "${m.cluster}", which is not in the snapshot: not sent`);
      out.push({
        clusterName: m.cluster,
        cluster,
        host: typeof m.host === 'string' ? m.host : m.cluster,
        perMillion: share,
      });
    });
  }
  return out.length > 0 ? out : undefined;
}

/** 100 % never consumes a random number. */
export function shouldMirror(m: CompiledMirror, random: () => number): boolean {
  return m.perMillion >= 1_000_000 || random() * 1_000_000 < m.perMillion;
}

/**
 * The Host of a mirrored request: `-shadow` after the host name, before any port
 * (`httpbin:8000` -> `httpbin-shadow:8000`), as Envoy's shadow writer does, so the mirror's
 * logs tell copies from real traffic. (Istio 1.28+ can turn the suffix off; Weft keeps it.)
 */
export function shadowHost(authority: string): string {
  const bracket = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > bracket && (bracket >= 0 || authority.indexOf(':') === colon))
    return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  return `${authority}-shadow`;
}
