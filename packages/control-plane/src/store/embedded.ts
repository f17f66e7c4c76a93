// The embedded store: the etcd model on one SQLite file, so that a laptop needs no server.
//
// Durability: WAL with synchronous=FULL fsyncs the log on every commit, and a call resolves only
// after its commit, so an acknowledged write survives kill -9 and power loss. The file is held
// with an exclusive lock: two control planes on one file would each miss the other's watch
// events, so the second fails at open instead (several replicas belong on etcd).
//
// Every write (put, delete, txn, lease revoke or expiry) is one SQLite transaction and one new
// revision; its events go to the `log` table in the same transaction, which is what lets a watch
// replay from a revision. Watchers are told after the commit, never inside it.

import Database from 'better-sqlite3';
import type {
  KeyValue,
  Lease,
  PutOptions,
  Store,
  TxnCompare,
  TxnOp,
  Watch,
  WatchEvent,
  WatchOptions,
} from './types.js';
import { StoreError } from './types.js';

export interface EmbeddedStoreOptions {
  /** The SQLite file (created if absent), or ':memory:' for tests. */
  path: string;
  /** Lease clock in milliseconds. Default: Date.now. */
  now?: () => number;
  /** Schedules the lease sweep. Default: an unref()ed setTimeout, so it never keeps Node alive. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  /** How often expired leases are revoked. Default 250 ms. */
  leaseCheckIntervalMs?: number;
  /** Revisions of history kept for watches; older ones are compacted away. Default 10000. */
  historyLimit?: number;
  /**
   * Told about failures nobody awaits: a watch listener that threw, a lease sweep that failed.
   * Default: process.emitWarning.
   */
  onBackgroundError?: (err: unknown) => void;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease);
  CREATE TABLE IF NOT EXISTS log (
    rev INTEGER NOT NULL, seq INTEGER NOT NULL, type INTEGER NOT NULL, key TEXT NOT NULL,
    value TEXT NOT NULL, create_rev INTEGER NOT NULL, version INTEGER NOT NULL,
    lease INTEGER NOT NULL, prev_value TEXT, prev_create_rev INTEGER, prev_mod_rev INTEGER,
    prev_version INTEGER, prev_lease INTEGER,
    PRIMARY KEY (rev, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY, ttl REAL NOT NULL, expires_at INTEGER NOT NULL
  );
`;

interface KvRow {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
  version: number;
  lease: number;
}

interface LogRow {
  rev: number;
  type: number;
  key: string;
  value: string;
  create_rev: number;
  version: number;
  lease: number;
  prev_value: string | null;
  prev_create_rev: number | null;
  prev_mod_rev: number | null;
  prev_version: number | null;
  prev_lease: number | null;
}

interface LeaseRow {
  id: number;
  ttl: number;
  expires_at: number;
}

const PUT = 0;
const DELETE = 1;

interface Watcher {
  prefix: string;
  /** Revisions before this one are not delivered (a watch from a future revision). */
  fromRevision: number;
  onEvents: (events: WatchEvent[]) => void;
  queue: WatchEvent[][];
  scheduled: boolean;
  cancelled: boolean;
}

/** The writes of one revision, collected inside its SQLite transaction. */
interface Writer {
  readonly rev: number;
  readonly events: WatchEvent[];
  /** Set when this write also compacted history up to (and including) this revision. */
  compactedTo?: number;
}

export function openEmbeddedStore(opts: EmbeddedStoreOptions): Store {
  const now = opts.now ?? Date.now;
  const setTimer = opts.setTimer ?? realTimer;
  const leaseCheckIntervalMs = opts.leaseCheckIntervalMs ?? 250;
  const historyLimit = Math.max(1, opts.historyLimit ?? 10_000);
  // Compacting a few revisions at a time keeps the delete off most commits.
  const compactionSlack = Math.ceil(historyLimit / 10);
  const onBackgroundError = opts.onBackgroundError ?? warn;

  let db: Database.Database;
  try {
    // timeout 0: a file locked by a live store fails at once instead of hanging the caller.
    db = new Database(opts.path, { timeout: 0 });
  } catch (err) {
    throw unavailable(`cannot open ${opts.path}`, err);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const found = Number(db.pragma('user_version', { simple: true }));
    if (found > SCHEMA_VERSION) {
      throw new StoreError(
        'WEFT_ERR_STORE_UNAVAILABLE',
        `${opts.path} has store schema ${found}, newer than this build's ${SCHEMA_VERSION}`,
      );
    }
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  } catch (err) {
    db.close();
    throw err instanceof StoreError ? err : unavailable(`cannot open ${opts.path}`, err);
  }

  const sql = {
    getMeta: db.prepare<[string], number>('SELECT value FROM meta WHERE name = ?').pluck(),
    setMeta: db.prepare<[string, number]>(
      'INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)',
    ),
    getKv: db.prepare<[string], KvRow>('SELECT * FROM kv WHERE key = ?'),
    getModRev: db.prepare<[string], number>('SELECT mod_rev FROM kv WHERE key = ?').pluck(),
    rangeBetween: db.prepare<[string, string], KvRow>(
      'SELECT * FROM kv WHERE key >= ? AND key < ? ORDER BY key',
    ),
    rangeFrom: db.prepare<[string], KvRow>('SELECT * FROM kv WHERE key >= ? ORDER BY key'),
    byLease: db.prepare<[number], KvRow>('SELECT * FROM kv WHERE lease = ? ORDER BY key'),
    putKv: db.prepare<[string, string, number, number, number, number]>(
      'INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deleteKv: db.prepare<[string]>('DELETE FROM kv WHERE key = ?'),
    appendLog: db.prepare<
      [
        number,
        number,
        number,
        string,
        string,
        number,
        number,
        number,
        string | null,
        number | null,
        number | null,
        number | null,
        number | null,
      ]
    >(
      `INSERT INTO log (rev, seq, type, key, value, create_rev, version, lease, prev_value,
         prev_create_rev, prev_mod_rev, prev_version, prev_lease)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    logFrom: db.prepare<[number], LogRow>('SELECT * FROM log WHERE rev >= ? ORDER BY rev, seq'),
    compactLog: db.prepare<[number]>('DELETE FROM log WHERE rev <= ?'),
    getLease: db.prepare<[number], LeaseRow>('SELECT * FROM leases WHERE id = ?'),
    insertLease: db.prepare<[number, number, number]>(
      'INSERT INTO leases (id, ttl, expires_at) VALUES (?, ?, ?)',
    ),
    touchLease: db.prepare<[number, number]>('UPDATE leases SET expires_at = ? WHERE id = ?'),
    deleteLease: db.prepare<[number]>('DELETE FROM leases WHERE id = ?'),
    expiredLeases: db
      .prepare<[number], number>('SELECT id FROM leases WHERE expires_at <= ? ORDER BY id')
      .pluck(),
    resetLeases: db.prepare<[number]>(
      'UPDATE leases SET expires_at = ? + CAST(ceil(ttl * 1000) AS INTEGER)',
    ),
  };

  let revision = sql.getMeta.get('revision') ?? 0;
  let compacted = sql.getMeta.get('compacted') ?? 0;
  // Ids come from a persisted counter, never reused: a sidecar holding an id from before a
  // restart must get WEFT_ERR_LEASE_NOT_FOUND, not silently share someone else's new lease.
  let lastLeaseId = sql.getMeta.get('last_lease') ?? 0;
  // A restart must not expire every instance at once: the store was not there to receive
  // keepAlives while it was down, so, as etcd does after a leader change, every lease gets a
  // full TTL from now.
  sql.resetLeases.run(now());

  const watchers = new Set<Watcher>();
  let closed = false;

  // Runs `build` in one SQLite transaction at revision+1. A write that changed nothing leaves the
  // revision alone; any throw rolls everything back.
  const runWrite = db.transaction((build: (w: Writer) => void): Writer => {
    const w: Writer = { rev: revision + 1, events: [] };
    build(w);
    if (w.events.length > 0) {
      sql.setMeta.run('revision', w.rev);
      if (w.rev - compacted > historyLimit + compactionSlack) {
        w.compactedTo = w.rev - historyLimit;
        sql.compactLog.run(w.compactedTo);
        sql.setMeta.run('compacted', w.compactedTo);
      }
    }
    return w;
  });

  const runGrant = db.transaction((id: number, ttlSeconds: number) => {
    sql.insertLease.run(id, ttlSeconds, now() + Math.ceil(ttlSeconds * 1000));
    sql.setMeta.run('last_lease', id);
  });

  // In-memory copies of `revision` and `compacted` change only after a commit, so a rolled-back
  // write leaves them as they were.
  function write(build: (w: Writer) => void): number {
    const w = runWrite(build);
    if (w.events.length === 0) return revision;
    revision = w.rev;
    if (w.compactedTo !== undefined) compacted = w.compactedTo;
    publish(w.rev, w.events);
    return revision;
  }

  /** Returns the key as it was before the put, if it existed. */
  function putKey(w: Writer, key: string, value: string, lease: number): KeyValue | undefined {
    if (lease !== 0) liveLease(lease);
    const prev = sql.getKv.get(key);
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev ? prev.create_rev : w.rev,
      modRevision: w.rev,
      version: prev ? prev.version + 1 : 1,
      lease,
    };
    sql.putKv.run(key, value, kv.createRevision, w.rev, kv.version, lease);
    const prevKv = prev && toKv(prev);
    record(w, { type: 'put', kv, ...(prevKv && { prevKv }) });
    return prevKv;
  }

  function deleteRow(w: Writer, prev: KvRow): void {
    sql.deleteKv.run(prev.key);
    const kv: KeyValue = {
      key: prev.key,
      value: '',
      createRevision: 0,
      modRevision: w.rev,
      version: 0,
      lease: 0,
    };
    record(w, { type: 'delete', kv, prevKv: toKv(prev) });
  }

  function deleteKey(w: Writer, key: string): number {
    const prev = sql.getKv.get(key);
    if (!prev) return 0;
    deleteRow(w, prev);
    return 1;
  }

  function deletePrefix(w: Writer, prefix: string): void {
    // .all() rather than .iterate(): SQLite cannot delete from a table under an open cursor.
    for (const row of rangeRows(prefix)) deleteRow(w, row);
  }

  function revokeIn(w: Writer, leaseId: number): void {
    for (const row of sql.byLease.all(leaseId)) deleteRow(w, row);
    sql.deleteLease.run(leaseId);
  }

  function record(w: Writer, ev: WatchEvent): void {
    const p = ev.prevKv;
    sql.appendLog.run(
      w.rev,
      w.events.length,
      ev.type === 'put' ? PUT : DELETE,
      ev.kv.key,
      ev.kv.value,
      ev.kv.createRevision,
      ev.kv.version,
      ev.kv.lease,
      p ? p.value : null,
      p ? p.createRevision : null,
      p ? p.modRevision : null,
      p ? p.version : null,
      p ? p.lease : null,
    );
    w.events.push(ev);
  }

  /** The lease row, if it exists and has not expired; otherwise throws LEASE_NOT_FOUND. */
  function liveLease(id: number): LeaseRow {
    const row = sql.getLease.get(id);
    if (!row || row.expires_at <= now()) throw leaseNotFound(id);
    return row;
  }

  function rangeRows(prefix: string): KvRow[] {
    const end = prefixEnd(prefix);
    if (end !== undefined) return sql.rangeBetween.all(prefix, end);
    const rows: KvRow[] = [];
    for (const row of sql.rangeFrom.iterate(prefix)) {
      if (!row.key.startsWith(prefix)) break;
      rows.push(row);
    }
    return rows;
  }

  function sweepLeases(): void {
    for (const id of sql.expiredLeases.all(now())) write((w) => revokeIn(w, id));
  }

  let sweepTimer: { cancel(): void } | undefined;
  const scheduleSweep = (): void => {
    sweepTimer = setTimer(() => {
      if (closed) return;
      try {
        sweepLeases();
      } catch (err) {
        onBackgroundError(err);
      }
      if (!closed) scheduleSweep();
    }, leaseCheckIntervalMs);
  };
  scheduleSweep();

  // --- watches ---

  function publish(rev: number, events: WatchEvent[]): void {
    for (const watcher of watchers) {
      if (rev < watcher.fromRevision) continue;
      const mine = events.filter((e) => e.kv.key.startsWith(watcher.prefix));
      if (mine.length > 0) enqueue(watcher, mine);
    }
  }

  function enqueue(watcher: Watcher, batch: WatchEvent[]): void {
    watcher.queue.push(batch);
    if (watcher.scheduled) return;
    watcher.scheduled = true;
    queueMicrotask(() => flush(watcher));
  }

  function flush(watcher: Watcher): void {
    watcher.scheduled = false;
    // A listener may write (and so enqueue more) while we deliver; the loop picks that up in order.
    for (let batch = watcher.queue.shift(); batch; batch = watcher.queue.shift()) {
      if (watcher.cancelled || closed) {
        watcher.queue.length = 0;
        return;
      }
      try {
        watcher.onEvents(batch);
      } catch (err) {
        onBackgroundError(err);
      }
    }
  }

  function replay(watcher: Watcher): void {
    let batch: WatchEvent[] = [];
    let batchRev = 0;
    for (const row of sql.logFrom.iterate(watcher.fromRevision)) {
      if (!row.key.startsWith(watcher.prefix)) continue;
      if (row.rev !== batchRev && batch.length > 0) {
        watcher.queue.push(batch);
        batch = [];
      }
      batchRev = row.rev;
      batch.push(fromLog(row));
    }
    if (batch.length > 0) watcher.queue.push(batch);
  }

  function failLater(onError: ((err: Error) => void) | undefined, err: StoreError): void {
    if (!onError) return;
    queueMicrotask(() => {
      try {
        onError(err);
      } catch (thrown) {
        onBackgroundError(thrown);
      }
    });
  }

  // --- the Store ---

  function assertOpen(): void {
    if (closed) throw new StoreError('WEFT_ERR_STORE_CLOSED', 'the store is closed');
  }

  // Every call is async and funnels SQLite failures (disk full, I/O error) into one code, so a
  // caller never has to know which backend it talks to.
  function guarded<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<R> {
    return async (...args) => {
      assertOpen();
      try {
        return fn(...args);
      } catch (err) {
        if (err instanceof Database.SqliteError) throw unavailable('store write failed', err);
        throw err;
      }
    };
  }

  const store: Store = {
    revision: guarded(() => revision),

    get: guarded((key: string) => {
      const row = sql.getKv.get(key);
      return row && toKv(row);
    }),

    range: guarded((prefix: string) => ({ kvs: rangeRows(prefix).map(toKv), revision })),

    put: guarded((key: string, value: string, putOpts?: PutOptions) => {
      checkKey(key);
      let prev: KeyValue | undefined;
      const revision = write((w) => {
        prev = putKey(w, key, value, putOpts?.lease ?? 0);
      });
      return putOpts?.prevKv && prev ? { revision, prevKv: { ...prev } } : { revision };
    }),

    delete: guarded((key: string) => {
      let deleted = 0;
      const rev = write((w) => {
        deleted = deleteKey(w, key);
      });
      return { revision: rev, deleted };
    }),

    txn: guarded((ops: TxnOp[], compare: TxnCompare[] = []) => {
      for (const op of ops) if (op.type !== 'deletePrefix') checkKey(op.key);
      const rev = write((w) => {
        for (const c of compare) {
          const actual = sql.getModRev.get(c.key) ?? 0;
          if (actual !== c.modRevision) {
            throw new StoreError(
              'WEFT_ERR_TXN_CONFLICT',
              `txn guard failed: ${c.key} is at modRevision ${actual}, expected ${c.modRevision}`,
            );
          }
        }
        for (const op of ops) {
          if (op.type === 'put') putKey(w, op.key, op.value, op.lease ?? 0);
          else if (op.type === 'delete') deleteKey(w, op.key);
          else deletePrefix(w, op.prefix);
        }
      });
      return { revision: rev };
    }),

    watch(prefix, onEvents, watchOpts: WatchOptions = {}): Watch {
      if (closed) {
        failLater(
          watchOpts.onError,
          new StoreError('WEFT_ERR_STORE_CLOSED', 'the store is closed'),
        );
        return { cancel() {} };
      }
      const fromRevision = Math.max(1, watchOpts.fromRevision ?? revision + 1);
      if (fromRevision <= compacted) {
        failLater(
          watchOpts.onError,
          new StoreError(
            'WEFT_ERR_COMPACTED',
            `revision ${fromRevision} was compacted; history starts at ${compacted + 1}`,
          ),
        );
        return { cancel() {} };
      }
      const watcher: Watcher = {
        prefix,
        fromRevision,
        onEvents,
        queue: [],
        scheduled: false,
        cancelled: false,
      };
      // Replay and registration happen in one synchronous step, so no commit can fall between
      // the history read and the live feed.
      if (fromRevision <= revision) {
        try {
          replay(watcher);
        } catch (err) {
          failLater(watchOpts.onError, unavailable('cannot read watch history', err));
          return { cancel() {} };
        }
      }
      watchers.add(watcher);
      if (watcher.queue.length > 0) {
        watcher.scheduled = true;
        queueMicrotask(() => flush(watcher));
      }
      return {
        cancel() {
          watcher.cancelled = true;
          watchers.delete(watcher);
        },
      };
    },

    grantLease: guarded((ttlSeconds: number): Lease => {
      if (!(ttlSeconds > 0)) throw new RangeError(`lease TTL must be positive, got ${ttlSeconds}`);
      const id = lastLeaseId + 1;
      runGrant(id, ttlSeconds);
      lastLeaseId = id;
      return { id, ttlSeconds };
    }),

    keepAlive: guarded((leaseId: number): Lease => {
      const row = sql.getLease.get(leaseId);
      if (!row) throw leaseNotFound(leaseId);
      if (row.expires_at <= now()) {
        // Revoke now rather than at the next sweep: whoever hears "not found" may re-register
        // at once and must not find its old keys still there.
        write((w) => revokeIn(w, leaseId));
        throw leaseNotFound(leaseId);
      }
      sql.touchLease.run(now() + Math.ceil(row.ttl * 1000), leaseId);
      return { id: leaseId, ttlSeconds: row.ttl };
    }),

    revokeLease: guarded((leaseId: number) => {
      if (!sql.getLease.get(leaseId)) throw leaseNotFound(leaseId);
      write((w) => revokeIn(w, leaseId));
    }),

    async close() {
      if (closed) return;
      closed = true;
      sweepTimer?.cancel();
      for (const watcher of watchers) watcher.cancelled = true;
      watchers.clear();
      db.close();
    },
  };
  return store;
}

function toKv(row: KvRow): KeyValue {
  return {
    key: row.key,
    value: row.value,
    createRevision: row.create_rev,
    modRevision: row.mod_rev,
    version: row.version,
    lease: row.lease,
  };
}

function fromLog(row: LogRow): WatchEvent {
  const kv: KeyValue = {
    key: row.key,
    value: row.value,
    createRevision: row.create_rev,
    modRevision: row.rev,
    version: row.version,
    lease: row.lease,
  };
  const ev: WatchEvent = { type: row.type === PUT ? 'put' : 'delete', kv };
  if (row.prev_value !== null) {
    ev.prevKv = {
      key: row.key,
      value: row.prev_value,
      createRevision: row.prev_create_rev ?? 0,
      modRevision: row.prev_mod_rev ?? 0,
      version: row.prev_version ?? 0,
      lease: row.prev_lease ?? 0,
    };
  }
  return ev;
}

/**
 * The first string after every string that starts with `prefix`, or undefined if there is none.
 * SQLite compares TEXT as UTF-8 bytes, which is code point order, so bumping the last code point
 * gives an exact upper bound: no LIKE, so `%` and `_` in keys mean nothing special.
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  for (let i = cps.length - 1; i >= 0; i--) {
    const cp = cps[i]?.codePointAt(0) ?? 0x10ffff;
    if (cp < 0x10ffff) {
      // Skip the surrogate block: a lone surrogate is not valid UTF-8.
      const next = cp + 1 === 0xd800 ? 0xe000 : cp + 1;
      return cps.slice(0, i).join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

function checkKey(key: string): void {
  if (key === '') throw new TypeError('store keys must not be empty');
}

function leaseNotFound(id: number): StoreError {
  return new StoreError('WEFT_ERR_LEASE_NOT_FOUND', `lease ${id} not found or expired`);
}

function unavailable(message: string, cause: unknown): StoreError {
  const err = new StoreError(
    'WEFT_ERR_STORE_UNAVAILABLE',
    `${message}: ${cause instanceof Error ? cause.message : String(cause)}`,
  );
  err.cause = cause;
  return err;
}

function realTimer(fn: () => void, ms: number): { cancel(): void } {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
}

function warn(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : String(err), { code: 'WEFT_STORE_BACKGROUND' });
}
