// `GET /v1/proxies/wait` across replicas. Each control-plane replica knows only the proxies
// connected to it, so a client that waits for "every proxy" (`weft apply --wait`, a draining
// sidecar) asks every replica it was given and merges the answers here. Both the CLI and the
// sidecar use this, and the proxy cannot import the control plane: the contract lives in model.

export interface ProxyWaitEntry {
  id: string;
  role: string;
  ackedVersion?: number;
  state: 'live' | 'lagging' | 'nacked';
  error?: string;
}

/** One replica's answer (the shape `GET /v1/proxies/wait` returns). */
export interface ProxyWaitAnswer {
  version: number;
  /** True when every proxy connected to that replica ACKed `version` or newer. */
  done: boolean;
  timedOut: boolean;
  proxies: ProxyWaitEntry[];
}

const RANK = { live: 2, nacked: 1, lagging: 0 } as const;

/**
 * The answers of several replicas as one: done only when every replica that answered is done.
 * A proxy that moved between replicas while waiting may be listed by both; the entry that got
 * furthest (live, then nacked, then the higher ACKed version) is kept, as that is where it is now.
 */
export function mergeProxyWaits(answers: readonly ProxyWaitAnswer[]): ProxyWaitAnswer {
  const byId = new Map<string, ProxyWaitEntry>();
  for (const a of answers)
    for (const p of a.proxies) {
      const seen = byId.get(p.id);
      if (seen === undefined || further(p, seen)) byId.set(p.id, p);
    }
  const proxies = [...byId.values()].sort((x, y) => x.id.localeCompare(y.id));
  return {
    version: Math.max(0, ...answers.map((a) => a.version)),
    done: answers.length > 0 && proxies.every((p) => p.state === 'live'),
    timedOut: answers.some((a) => a.timedOut),
    proxies,
  };
}

function further(a: ProxyWaitEntry, b: ProxyWaitEntry): boolean {
  if (RANK[a.state] !== RANK[b.state]) return RANK[a.state] > RANK[b.state];
  return (a.ackedVersion ?? -1) > (b.ackedVersion ?? -1);
}
