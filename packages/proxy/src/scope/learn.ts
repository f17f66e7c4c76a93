// Scope learned from traffic (`weft sidecar --learn-upstreams`). A sidecar in learn mode starts
// with the upstreams it declared (maybe none) and, when its app calls a host outside them, asks
// the control plane to widen its scope and holds the request until the widened config is
// applied (at most `holdMs`), then routes it as usual. This is Linkerd's on-demand resolution (the
// first request to a destination waits for its discovery) on Istio's scoped snapshot (Sidecar
// `egress.hosts`): memory grows with what the app calls, not with the mesh. A host that is still
// unknown once the scope includes it gets the usual 404 NR, at once from then on.

import { toFqdn } from '@weft/model';
import { hostOnly } from '../compile/rewrite.js';

export interface ScopeLearnerOptions {
  /** The upstreams declared with `--upstreams` (short names or FQDNs). */
  declared: readonly string[];
  /** The sidecar's namespace: short names resolve in it, as the control plane resolves them. */
  namespace: string;
  /** Sends the whole new upstream list to the control plane; returns its sequence number. */
  rescope: (upstreams: string[]) => number;
  /** Longest hold of a request for its host's config. */
  holdMs: number;
  /** At most this many learned hosts; beyond, calls outside the scope get 404 NR. */
  maxHosts?: number;
  log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export interface ScopeLearner {
  /**
   * For a request whose host has no route: a promise that settles when the request may be
   * routed again (the widened scope is applied, or `holdMs` passed), or undefined when there is
   * nothing to wait for (the host is in the scope already: it is simply unknown).
   */
  learn(authority: string): Promise<void> | undefined;
  /** The stream applied the answer to `rescope` number `seq`. */
  applied(seq: number): void;
  /** Declared and learned upstreams, as FQDNs. */
  upstreams(): string[];
}

export const DEFAULT_HOLD_MS = 2_000;
const DEFAULT_MAX_HOSTS = 1_000;

export function createScopeLearner(opts: ScopeLearnerOptions): ScopeLearner {
  const known = new Set(opts.declared.map((u) => toFqdn(u.trim().toLowerCase(), opts.namespace)));
  const declared = known.size;
  const maxHosts = opts.maxHosts ?? DEFAULT_MAX_HOSTS;
  /** Hosts asked for and not answered yet: later requests for them wait for the same answer. */
  const pending = new Map<string, { seq: number; done: Promise<void>; release: () => void }>();

  return {
    learn(authority) {
      const fqdn = toFqdn(hostOnly(authority.trim().toLowerCase()), opts.namespace);
      const waiting = pending.get(fqdn);
      if (waiting) return waiting.done;
      if (known.has(fqdn) || known.size - declared >= maxHosts) return undefined;
      known.add(fqdn);
      let release = () => undefined as void;
      const done = new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          opts.log?.(
            'warn',
            'no config for a learned upstream in time; routing with what we have',
            {
              host: fqdn,
              holdMs: opts.holdMs,
            },
          );
          finish();
        }, opts.holdMs);
        const finish = () => {
          clearTimeout(timer);
          pending.delete(fqdn);
          resolve();
        };
        release = finish;
      });
      const seq = opts.rescope([...known].sort());
      pending.set(fqdn, { seq, done, release });
      opts.log?.('info', 'learned an upstream from traffic; widening the scope', { host: fqdn });
      return done;
    },
    applied(seq) {
      for (const p of [...pending.values()]) if (p.seq <= seq) p.release();
    },
    upstreams: () => [...known].sort(),
  };
}
