// The store is a revisioned key-value store with watches and leases: the etcd model, so that
// the embedded backend and etcd are interchangeable behind this interface. Every write (a put,
// a delete, or a whole txn) bumps the store's revision by one; a watch replays every change
// after a revision, so a reader that listed at revision R and watches from R+1 misses nothing.

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created the key (since its last delete). */
  createRevision: number;
  /** Revision of the last write to the key. */
  modRevision: number;
  /** Number of writes since creation, starting at 1. */
  version: number;
  /** Lease the key is attached to, 0 for none. */
  lease: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For a delete: the key, an empty value and `modRevision` = the revision of the delete. */
  kv: KeyValue;
  prevKv?: KeyValue;
}

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: number }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

/** A guard for txn: the key's modRevision must equal the given one (0 = key absent). */
export interface TxnCompare {
  key: string;
  modRevision: number;
}

export interface PutOptions {
  /** Lease to attach the key to (0 or absent: none; a put without one detaches the key). */
  lease?: number;
  /** Return the key as it was before the put (absent when the key did not exist). */
  prevKv?: boolean;
}

export interface Watch {
  cancel(): void;
}

export interface WatchOptions {
  /** First revision to deliver (inclusive). Default: the revision after the current one. */
  fromRevision?: number;
  /**
   * Called when the watch cannot continue: the requested revision was compacted away, or
   * the backend lost its connection. The caller re-lists and watches again.
   */
  onError?: (err: Error) => void;
}

export interface Lease {
  id: number;
  ttlSeconds: number;
}

export class StoreError extends Error {
  constructor(
    readonly code:
      | 'WEFT_ERR_LEASE_NOT_FOUND'
      | 'WEFT_ERR_COMPACTED'
      | 'WEFT_ERR_TXN_CONFLICT'
      | 'WEFT_ERR_STORE_CLOSED'
      | 'WEFT_ERR_STORE_UNAVAILABLE',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface Store {
  /** Current revision (0 for a new store). */
  revision(): Promise<number>;
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key with the prefix, in key order, and the revision they were read at. */
  range(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }>;
  /**
   * With `prevKv`, also returns the key's value before this write (etcd's put `prev_kv`): a
   * caller that replaces a record learns what it replaced in the same round trip, atomically.
   */
  put(
    key: string,
    value: string,
    opts?: PutOptions,
  ): Promise<{ revision: number; prevKv?: KeyValue }>;
  delete(key: string): Promise<{ revision: number; deleted: number }>;
  /**
   * Applies every op or none, at one new revision. With `compare`, fails with
   * WEFT_ERR_TXN_CONFLICT (and writes nothing) unless every guard holds. A txn that changes
   * nothing (only deletes of absent keys) still returns the current revision and does not bump it.
   */
  txn(ops: TxnOp[], compare?: TxnCompare[]): Promise<{ revision: number }>;
  /** Delivers batches of events, in revision order, for keys under the prefix. */
  watch(prefix: string, onEvents: (events: WatchEvent[]) => void, opts?: WatchOptions): Watch;
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Resets the lease's countdown; fails with WEFT_ERR_LEASE_NOT_FOUND once it has expired. */
  keepAlive(leaseId: number): Promise<Lease>;
  /** Deletes the lease and every key attached to it, at one revision. */
  revokeLease(leaseId: number): Promise<void>;
  close(): Promise<void>;
}
