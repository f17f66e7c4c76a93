// Work that must run once for the whole control plane (resolving ServiceEntry host names, for
// example) runs on one elected replica. On etcd the election is etcd's own (etcd3's Election:
// a key under a lease, the lowest create revision leads; a replica that dies loses its lease
// after the TTL and the next candidate takes over). The embedded store serves one control
// plane only, so that control plane always leads.

export interface Leadership {
  /** Whether this replica leads now. */
  leader(): boolean;
  /** Called with every change of `leader()`; returns the unsubscribe function. */
  onChange(fn: (leader: boolean) => void): () => void;
  /** Resigns (if leading) and stops campaigning. */
  close(): Promise<void>;
}

/** A store that can hold an election among control-plane replicas (etcd). */
export interface Electable {
  elect(name: string, candidate: string, ttlSeconds: number): Leadership;
}

export function isElectable(x: unknown): x is Electable {
  return typeof (x as Partial<Electable> | undefined)?.elect === 'function';
}

/** The single replica of an embedded store: it leads from the start and never stops. */
export function soleLeadership(): Leadership {
  return { leader: () => true, onChange: () => () => undefined, close: async () => undefined };
}

/** A Leadership whose state the backend sets (shared by the etcd implementation and tests). */
export class LeadershipState implements Leadership {
  private current = false;
  private readonly listeners = new Set<(leader: boolean) => void>();

  constructor(private readonly onClose: () => Promise<void> = async () => undefined) {}

  leader(): boolean {
    return this.current;
  }

  set(leader: boolean): void {
    if (leader === this.current) return;
    this.current = leader;
    for (const fn of this.listeners) fn(leader);
  }

  onChange(fn: (leader: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async close(): Promise<void> {
    this.set(false);
    this.listeners.clear();
    await this.onClose();
  }
}
