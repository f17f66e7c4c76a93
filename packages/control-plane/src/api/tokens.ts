// The API tokens, kept in the store under /weft/security/tokens/<id> (hash only, see auth.ts)
// and cached here from a watch, so checking a token costs one hash and one map lookup, and a
// revocation made on another replica reaches this one as soon as its watch delivers it.

import { randomBytes } from 'node:crypto';
import { SECURITY_PREFIX } from '../keys.js';
import type { Logger } from '../log.js';
import { StoreError, type Store, type Watch } from '../store/types.js';
import { formatToken, hashToken, tokenIdOf, type TokenKind, type TokenRecord } from './auth.js';

export const TOKEN_PREFIX = `${SECURITY_PREFIX}tokens/`;

/** How stale the stored "last used" time may get: writing it on every request would cost a write each. */
const LAST_USED_WRITE_MS = 60_000;

export interface NewToken {
  kind: TokenKind;
  service?: string | undefined;
  namespace?: string | undefined;
  ttlMs?: number | undefined;
  description?: string | undefined;
  /** Use this secret instead of a random one (a token file the operator provided). */
  secret?: string | undefined;
}

export class TokenBook {
  private readonly records = new Map<string, TokenRecord>();
  private readonly revokeListeners = new Set<(id: string) => void>();
  private readonly lastUsed = new Map<string, number>();
  private watch: Watch | undefined;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { kvs, revision } = await this.store.range(TOKEN_PREFIX);
    const before = new Set(this.records.keys());
    this.records.clear();
    for (const kv of kvs) this.put(kv.value);
    for (const id of before) if (!this.records.has(id)) this.emitRevoked(id);
    this.watch = this.store.watch(
      TOKEN_PREFIX,
      (events) => {
        for (const e of events) {
          if (e.type === 'put') this.put(e.kv.value);
          else {
            const id = e.kv.key.slice(TOKEN_PREFIX.length);
            if (this.records.delete(id)) this.emitRevoked(id);
          }
        }
      },
      {
        fromRevision: revision + 1,
        onError: (err) => {
          this.log.warn({ err: err.message }, 'token watch failed; re-listing');
          this.watch?.cancel();
          this.relist(0);
        },
      },
    );
  }

  private relist(attempt: number): void {
    if (this.closed) return;
    this.start().catch(() =>
      setTimeout(() => this.relist(attempt + 1), Math.min(250 * 2 ** attempt, 10_000)).unref(),
    );
  }

  close(): void {
    this.closed = true;
    this.watch?.cancel();
  }

  find(id: string): TokenRecord | undefined {
    return this.records.get(id);
  }

  list(): TokenRecord[] {
    return [...this.records.values()]
      .map((r) => {
        const used = this.lastUsed.get(r.id);
        const stored = r.lastUsedAt === undefined ? 0 : Date.parse(r.lastUsedAt);
        return used !== undefined && used > stored
          ? { ...r, lastUsedAt: new Date(used).toISOString() }
          : r;
      })
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  hasAdmin(): boolean {
    return [...this.records.values()].some((r) => r.kind === 'admin');
  }

  async create(t: NewToken, now: number): Promise<{ token: string; record: TokenRecord }> {
    const token = t.secret ?? formatToken(randomBytes(32));
    const hash = hashToken(token);
    const record: TokenRecord = {
      id: tokenIdOf(hash),
      kind: t.kind,
      ...(t.kind === 'bootstrap'
        ? { service: t.service ?? '', namespace: t.namespace ?? 'default' }
        : {}),
      hash,
      createdAt: new Date(now).toISOString(),
      ...(t.ttlMs !== undefined ? { expiresAt: new Date(now + t.ttlMs).toISOString() } : {}),
      ...(t.description !== undefined ? { description: t.description } : {}),
    };
    const key = `${TOKEN_PREFIX}${record.id}`;
    // Guarded: an existing token (the same secret given twice) is kept, never overwritten.
    await this.store.txn(
      [{ type: 'put', key, value: JSON.stringify(record) }],
      [{ key, modRevision: 0 }],
    );
    this.records.set(record.id, record);
    return { token, record };
  }

  /** Deletes the token; true when there was one. Streams using it are closed by the listeners. */
  async revoke(id: string): Promise<boolean> {
    const { deleted } = await this.store.delete(`${TOKEN_PREFIX}${id}`);
    if (this.records.delete(id) || deleted > 0) {
      this.emitRevoked(id);
      return true;
    }
    return false;
  }

  onRevoke(fn: (id: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }

  /** Notes a use; the stored time is refreshed at most once a minute per token. */
  touch(id: string, now: number): void {
    this.lastUsed.set(id, now);
    const rec = this.records.get(id);
    if (rec === undefined) return;
    const stored = rec.lastUsedAt === undefined ? 0 : Date.parse(rec.lastUsedAt);
    if (now - stored < LAST_USED_WRITE_MS) return;
    const next = { ...rec, lastUsedAt: new Date(now).toISOString() };
    this.records.set(id, next);
    const key = `${TOKEN_PREFIX}${id}`;
    // Only while the token still exists: a revoke that raced this write must win.
    void this.store
      .get(key)
      .then((kv) =>
        kv === undefined
          ? undefined
          : this.store.txn(
              [{ type: 'put', key, value: JSON.stringify(next) }],
              [{ key, modRevision: kv.modRevision }],
            ),
      )
      .catch((err: unknown) => {
        if (!(err instanceof StoreError && err.code === 'WEFT_ERR_TXN_CONFLICT'))
          this.log.warn({ err: (err as Error).message, token: id }, 'cannot record token use');
      });
  }

  private put(value: string): void {
    try {
      const rec = JSON.parse(value) as TokenRecord;
      if (typeof rec.id === 'string' && typeof rec.hash === 'string') this.records.set(rec.id, rec);
    } catch {
      this.log.error({}, 'skipping an unreadable token record');
    }
  }

  private emitRevoked(id: string): void {
    this.lastUsed.delete(id);
    for (const fn of this.revokeListeners) fn(id);
  }
}
