// The etcd backend: the Store interface on etcd's own model, so that several control planes can
// share one highly available store. Revisions, leases, watches and txns are etcd's, one to one:
// a put is one etcd put, a txn one etcd txn, a watch one etcd watcher (all of a store's watchers
// share one watch stream).
//
// Keys: Weft's keys all live under `root` ('/weft/'); in etcd they live under `prefix`, which
// replaces the root (`/weft/config/x` is stored as `<prefix>config/x`). With the default prefix
// the keys are stored as they are; `--etcd-prefix /team-a/weft/` moves a whole mesh elsewhere in
// a shared etcd. The mapping only swaps a common prefix, so etcd's byte order is the Store's
// key order, and a Store prefix is one etcd range.
//
// We use the `etcd3` client for its connection pool (one channel per member, a circuit breaker
// per member) and its generated gRPC stubs, and talk to the raw KV, Lease and Watch services:
// its higher-level watcher resumes from the header revision of a response rather than from the
// last event delivered, and groups nothing by revision, which the Store contract needs.

import { randomBytes } from 'node:crypto';
import {
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  noop,
} from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, castGrpcError, isRecoverableError } from 'etcd3';
import type {
  ICompare,
  IDuplexStream,
  IKeyValue,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  IRequestOp,
  IResponseHeader,
  IWatchRequest,
  IWatchResponse,
} from 'etcd3';
import type { Campaign } from 'etcd3';
import { LeadershipState, type Electable, type Leadership } from '../election/leadership.js';
import { PREFIX } from '../keys.js';
import type {
  KeyValue,
  Store,
  TxnCompare,
  TxnOp,
  Watch,
  WatchEvent,
  WatchOptions,
} from './types.js';
import { StoreError } from './types.js';

export interface EtcdStoreOptions {
  /** etcd client endpoints, `host:port` (or `http://host:port`); any member of the cluster. */
  endpoints: string[];
  /**
   * Where Weft's keys live inside etcd. Default '/weft/'. Every key this store writes, reads or
   * watches is under it, so Weft can share an etcd with other users (or other meshes).
   */
  prefix?: string;
  /**
   * The part of every Store key that `prefix` replaces. Default '/weft/', where Weft's own keys
   * live; keys outside it are refused. '' makes the store a plain namespace: key k is stored as
   * `prefix + k` (the conformance tests use this, with keys like 'a/b').
   */
  root?: string;
  /**
   * How long one call keeps trying to reach etcd (retries across members included, e.g. through a
   * leader election) before it fails with WEFT_ERR_STORE_UNAVAILABLE. Default 5000 ms.
   */
  dialTimeoutMs?: number;
  /**
   * Told about failures nobody awaits: a watch listener that threw, a watch stream that broke
   * and is being resumed. Default: process.emitWarning.
   */
  onBackgroundError?: (err: unknown) => void;
}

/** Keys per range request: a registry of 10,000 instances is listed in pages, at one revision. */
const PAGE = 1000;
/** Longest wait of one attempt: a member that hangs must leave time to try another. */
const ATTEMPT_MS = 2_000;
const WATCH_BACKOFF_MAX_MS = 2_000;

/** Only the part of grpc's CallOptions we set. */
interface CallOpts {
  deadline: Date;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

interface PendingKeepAlive {
  id: string;
  resolve: (ttl: number) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Opens a store on etcd and checks that etcd answers; fails with WEFT_ERR_STORE_UNAVAILABLE
 * (naming the endpoints) when it does not within `dialTimeoutMs`.
 */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<Store> {
  if (opts.endpoints.length === 0) throw new TypeError('openEtcdStore: no endpoints given');
  const prefix = opts.prefix ?? PREFIX;
  const root = opts.root ?? PREFIX;
  const dialTimeoutMs = opts.dialTimeoutMs ?? 5_000;
  const onBackgroundError = opts.onBackgroundError ?? warn;
  const where = opts.endpoints.join(',');
  const prefixBytes = Buffer.from(prefix);

  const client = new Etcd3({
    hosts: opts.endpoints,
    // Retries are ours (below): etcd3's global retry would repeat a write whose answer was lost,
    // which for a guarded txn turns a success into a false conflict.
    faultHandling: {
      global: noop,
      // A member that failed three calls in a row is skipped for a second, so calls go to the
      // members that answer; after that one call probes it again.
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 1_000,
          breaker: new ConsecutiveBreaker(3),
        }),
    },
    grpcOptions: {
      // Pings find a member that vanished without closing its connections (a network cut);
      // etcd accepts pings every 5 s and more.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
  });

  let closed = false;
  // The highest revision any response has shown us: a watch without fromRevision starts after it,
  // so it sees every change this store's caller could not have read yet.
  let lastRevision = 0;

  // --- keys ---

  function toEtcdKey(key: string): Buffer {
    if (key === '') throw new TypeError('store keys must not be empty');
    if (!key.startsWith(root))
      throw new TypeError(`the etcd store keeps only keys under '${root}', not '${key}'`);
    return Buffer.from(prefix + key.slice(root.length));
  }

  function fromEtcdKey(key: Buffer): string {
    return root + key.subarray(prefixBytes.length).toString('utf8');
  }

  /** The etcd range holding every Store key that starts with `p`; undefined when none can. */
  function rangeOf(p: string): { key: Buffer; range_end: Buffer } | undefined {
    let start: Buffer;
    if (p.startsWith(root)) start = Buffer.from(prefix + p.slice(root.length));
    else if (root.startsWith(p)) start = prefixBytes;
    else return undefined;
    return { key: start, range_end: rangeEnd(start) };
  }

  function toKv(kv: IKeyValue): KeyValue {
    return {
      key: fromEtcdKey(kv.key),
      value: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
      // Our lease ids are below 2^53 (see grantLease), so a number holds them exactly.
      lease: Number(kv.lease),
    };
  }

  function seen(header: IResponseHeader): number {
    const rev = Number(header.revision);
    if (rev > lastRevision) lastRevision = rev;
    return rev;
  }

  // --- calls ---

  function assertOpen(): void {
    if (closed) throw closedError();
  }

  /**
   * Runs one etcd call, retrying transient failures (a member down, a leader election) on
   * another member with backoff until `dialTimeoutMs` is spent. Reads and writes that are safe
   * to repeat are retried on any transient failure; a guarded txn only when the failure proves
   * etcd never received it (a repeat could fail its own guard and report a false conflict).
   */
  async function call<T>(
    what: string,
    kind: 'read' | 'write' | 'guarded',
    fn: (o: CallOpts, attempt: number) => Promise<T>,
  ): Promise<T> {
    assertOpen();
    const deadline = Date.now() + dialTimeoutMs;
    await watchesReady(deadline);
    // Whether some failed attempt may have reached etcd: a write that then fails is reported as
    // "may have been applied", so nobody takes it for a write that surely did not happen.
    let ambiguous = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(
          { deadline: new Date(Math.min(deadline, Date.now() + ATTEMPT_MS)) },
          attempt,
        );
      } catch (err) {
        if (closed) throw closedError();
        if (err instanceof StoreError) throw err;
        if (err instanceof EtcdLeaseInvalidError) throw leaseNotFound(what);
        if (!isTransient(err)) throw err;
        if (kind !== 'read' && !surelyUnsent(err)) ambiguous = true;
        const wait = Math.min(50 * 2 ** (attempt - 1), 1_000);
        if (kind === 'guarded' && ambiguous) throw unavailable(what, err, true);
        if (Date.now() + wait >= deadline) throw unavailable(what, err, ambiguous);
        await sleep(wait);
      }
    }
  }

  function unavailable(what: string, cause: unknown, ambiguous: boolean): StoreError {
    const msg = cause instanceof Error ? cause.message : String(cause);
    const err = new StoreError(
      'WEFT_ERR_STORE_UNAVAILABLE',
      ambiguous
        ? `${what}: etcd at ${where} failed mid-request; it may or may not have been applied (${msg})`
        : `${what}: etcd at ${where} is unreachable or has no leader (${msg})`,
    );
    err.cause = cause;
    return err;
  }

  async function currentRevision(what = 'revision'): Promise<number> {
    return call(what, 'read', async (o) =>
      seen((await client.kv.range({ key: prefixBytes, limit: 1, keys_only: true }, o)).header),
    );
  }

  // --- keep-alives: one shared LeaseKeepAlive stream, one request and answer per call ---

  let keepAliveStream: Promise<KeepAliveStream> | undefined;
  let pendingKeepAlives: PendingKeepAlive[] = [];

  function dropKeepAliveStream(err: Error): void {
    const stream = keepAliveStream;
    keepAliveStream = undefined;
    const pending = pendingKeepAlives;
    pendingKeepAlives = [];
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    stream?.then((s) => s.cancel()).catch(() => undefined);
  }

  function openKeepAliveStream(): Promise<KeepAliveStream> {
    const opening = client.leaseClient.leaseKeepAlive().then((stream) => {
      const failed = (err: Error): void => {
        if (keepAliveStream === opening) dropKeepAliveStream(castGrpcError(err));
      };
      stream.on('data', (res) => {
        seen(res.header);
        const i = pendingKeepAlives.findIndex((p) => p.id === res.ID);
        const p = pendingKeepAlives[i];
        if (!p) return;
        pendingKeepAlives.splice(i, 1);
        clearTimeout(p.timer);
        p.resolve(Number(res.TTL));
      });
      stream.on('error', failed);
      stream.on('end', () => failed(new Error('lease keep-alive stream ended')));
      return stream;
    });
    opening.catch(() => {
      if (keepAliveStream === opening) keepAliveStream = undefined;
    });
    return opening;
  }

  async function keepAliveOnce(id: string, o: CallOpts): Promise<number> {
    keepAliveStream ??= openKeepAliveStream();
    const stream = await keepAliveStream;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          // An answer that never came leaves the stream's order unknown: start a new one.
          const err = castGrpcError(
            Object.assign(new Error('lease keep-alive timed out'), { code: 4 }),
          );
          dropKeepAliveStream(err);
        },
        Math.max(0, o.deadline.getTime() - Date.now()),
      );
      pendingKeepAlives.push({ id, resolve, reject, timer });
      stream.write({ ID: id });
    });
  }

  // --- watches: every watch of this store on one etcd watch stream ---
  //
  // One stream, as etcd's own client does: etcd sends the events of one stream in commit order,
  // so when one watch has seen revision R every other watch of this store has seen its events up
  // to R too (the conformance suite relies on that), and a thousand watches cost one stream.
  // We pick the watch ids (etcd >= 3.4 takes them), so creates need not be serialised.

  interface ActiveWatch {
    readonly id: number;
    readonly range: { key: Buffer; range_end: Buffer };
    readonly prefix: string;
    readonly onEvents: (events: WatchEvent[]) => void;
    readonly onError: ((err: Error) => void) | undefined;
    /** The next revision to deliver: a stream that breaks resumes each watch exactly here. */
    next: number;
    /** etcd confirmed this watch on the current stream. */
    created: boolean;
    /** Confirmed at least once: later calls of this store no longer wait for it. */
    confirmed: boolean;
  }

  const active = new Map<number, ActiveWatch>();
  let lastWatchId = 0;
  let watchStream: WatchStream | undefined;
  let watchStreamOpening = false;
  let watchFailures = 0;
  let watchRetry: ReturnType<typeof setTimeout> | undefined;
  // Calls wait (at most until their deadline) for watches not yet in place on etcd: a watch
  // returned by watch() must not miss a write this store makes after it, as with the embedded store.
  let readyWaiters: (() => void)[] = [];

  function watchesReady(deadline: number): Promise<void> | undefined {
    if (![...active.values()].some((w) => !w.confirmed)) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  function settleReadyWaiters(): void {
    if ([...active.values()].some((w) => !w.confirmed)) return;
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const fn of waiters) fn();
  }

  function sendCreate(s: WatchStream, w: ActiveWatch): void {
    s.write({
      create_request: { ...w.range, start_revision: w.next, prev_kv: true, watch_id: w.id },
    });
  }

  function openWatchStream(): void {
    if (watchStream || watchStreamOpening || closed || active.size === 0) return;
    watchStreamOpening = true;
    client.watchClient.watch().then(
      (s) => {
        watchStreamOpening = false;
        if (closed || active.size === 0) {
          s.cancel();
          return;
        }
        watchStream = s;
        s.on('data', (res) => onWatchResponse(s, res));
        s.on('error', (err) => watchStreamLost(s, err));
        s.on('end', () => watchStreamLost(s, new Error('stream ended')));
        for (const w of active.values()) sendCreate(s, w);
      },
      (err: unknown) => {
        // No member would even take a stream (every breaker open): try again later.
        watchStreamOpening = false;
        watchStreamLost(undefined, err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** `from` is the stream that failed, undefined when none could be opened. */
  function watchStreamLost(from: WatchStream | undefined, err: Error): void {
    if (closed || watchStream !== from) return;
    watchStream = undefined;
    from?.cancel();
    for (const w of active.values()) w.created = false;
    if (active.size === 0) return;
    if (watchFailures++ === 0) {
      const resume = [...active.values()].map((w) => `'${w.prefix}' from ${w.next}`).join(', ');
      onBackgroundError(
        new StoreError(
          'WEFT_ERR_STORE_UNAVAILABLE',
          `etcd watch stream to ${where} lost (${err.message}); resuming ${resume}`,
        ),
      );
    }
    const wait = Math.min(100 * 2 ** Math.min(watchFailures - 1, 5), WATCH_BACKOFF_MAX_MS);
    watchRetry ??= setTimeout(() => {
      watchRetry = undefined;
      openWatchStream();
    }, wait);
  }

  function stopWatch(w: ActiveWatch): void {
    if (active.get(w.id) !== w) return;
    active.delete(w.id);
    if (watchStream && w.created) watchStream.write({ cancel_request: { watch_id: w.id } });
    if (active.size === 0 && watchStream) {
      const s = watchStream;
      watchStream = undefined;
      s.cancel();
    }
    settleReadyWaiters();
  }

  function onWatchResponse(s: WatchStream, res: IWatchResponse): void {
    if (s !== watchStream) return;
    seen(res.header);
    const w = active.get(Number(res.watch_id));
    if (!w) return; // cancelled by us; etcd may still send what it had queued
    if (Number(res.compact_revision) > 0) {
      stopWatch(w);
      failLater(
        w.onError,
        new StoreError(
          'WEFT_ERR_COMPACTED',
          `revision ${w.next} was compacted; history starts at ${res.compact_revision}`,
        ),
        onBackgroundError,
      );
      return;
    }
    if (res.canceled) {
      // etcd dropped this one watch for another reason (it names it): set it up again shortly,
      // and let calls stop waiting for it meanwhile.
      w.created = false;
      if (!w.confirmed) {
        w.confirmed = true;
        settleReadyWaiters();
      }
      onBackgroundError(
        new StoreError(
          'WEFT_ERR_STORE_UNAVAILABLE',
          `etcd cancelled the watch on '${w.prefix}': ${res.cancel_reason || 'no reason given'}`,
        ),
      );
      setTimeout(() => {
        if (watchStream === s && active.get(w.id) === w && !w.created) sendCreate(s, w);
      }, WATCH_BACKOFF_MAX_MS);
      return;
    }
    if (res.created) {
      w.created = true;
      watchFailures = 0;
      if (!w.confirmed) {
        w.confirmed = true;
        settleReadyWaiters();
      }
    }
    deliver(w, res);
  }

  function deliver(w: ActiveWatch, res: IWatchResponse): void {
    // etcd may answer with several revisions at once; the Store delivers one batch per revision
    // (one txn = one batch). etcd never splits a revision across responses (we ask no fragments).
    let batch: WatchEvent[] = [];
    let batchRev = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      const events = batch;
      batch = [];
      w.next = batchRev + 1;
      try {
        w.onEvents(events);
      } catch (err) {
        onBackgroundError(err);
      }
    };
    for (const ev of res.events) {
      if (active.get(w.id) !== w) return; // the listener cancelled its own watch
      const rev = Number(ev.kv.mod_revision);
      if (rev < w.next) continue; // delivered already, before a reconnect
      if (rev !== batchRev) flush();
      batchRev = rev;
      const kv = toKv(ev.kv);
      const event: WatchEvent =
        ev.type === 'Put'
          ? { type: 'put', kv }
          : { type: 'delete', kv: { ...kv, value: '', createRevision: 0, version: 0, lease: 0 } };
      if (ev.prev_kv) event.prevKv = toKv(ev.prev_kv);
      batch.push(event);
    }
    if (active.get(w.id) === w) flush();
  }

  function startWatch(
    range: { key: Buffer; range_end: Buffer },
    prefix: string,
    onEvents: (events: WatchEvent[]) => void,
    fromRevision: number,
    onError: ((err: Error) => void) | undefined,
  ): Watch {
    const w: ActiveWatch = {
      id: ++lastWatchId,
      range,
      prefix,
      onEvents,
      onError,
      next: fromRevision,
      created: false,
      confirmed: false,
    };
    active.set(w.id, w);
    if (watchStream) sendCreate(watchStream, w);
    else openWatchStream();
    return { cancel: () => stopWatch(w) };
  }

  // --- the Store ---

  // Elections live beside Weft's keys, not under them: the control plane's watch on its prefix
  // would otherwise see every campaign as a new revision.
  const electionRoot = `${prefix.replace(/\/$/, '')}-election/`;
  const elect = (name: string, candidate: string, ttlSeconds: number): Leadership => {
    const election = client.namespace(electionRoot).election(name, ttlSeconds);
    let campaign: Campaign | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const state = new LeadershipState(async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await campaign?.resign().catch(() => undefined);
    });
    const run = () => {
      if (stopped || closed) return;
      const c = election.campaign(candidate);
      campaign = c;
      c.on('elected', () => state.set(true));
      c.on('error', (err: Error) => {
        // The campaign's lease is gone (etcd unreachable for longer than the TTL, or revoked):
        // this replica no longer leads. It campaigns again once etcd answers.
        state.set(false);
        onBackgroundError(err);
        if (!stopped && !closed) retry = setTimeout(run, 1_000);
      });
    };
    run();
    return state;
  };

  const store: Store & Electable = {
    elect,
    revision: () => currentRevision(),

    async get(key) {
      const k = toEtcdKey(key);
      const res = await call(`get ${key}`, 'read', (o) => client.kv.range({ key: k }, o));
      seen(res.header);
      const kv = res.kvs[0];
      return kv && toKv(kv);
    },

    async range(p) {
      const r = rangeOf(p);
      if (!r) return { kvs: [], revision: await currentRevision() };
      return call(`range ${p}`, 'read', async (o) => {
        // Pages read at the first page's revision, so the whole list is one consistent cut.
        const kvs: KeyValue[] = [];
        let revision = 0;
        let key = r.key;
        for (;;) {
          const res = await client.kv.range(
            { key, range_end: r.range_end, limit: PAGE, ...(revision > 0 && { revision }) },
            o,
          );
          if (revision === 0) revision = seen(res.header);
          for (const kv of res.kvs) kvs.push(toKv(kv));
          const last = res.kvs[res.kvs.length - 1];
          if (!res.more || !last) break;
          key = Buffer.concat([last.key, Buffer.from([0])]);
        }
        return { kvs, revision };
      });
    },

    async put(key, value, putOpts) {
      const k = toEtcdKey(key);
      const lease = putOpts?.lease ?? 0;
      // Safe to repeat: a second identical put only bumps the revision again.
      const prevKv = putOpts?.prevKv === true;
      const res = await call(`put ${key}`, 'write', (o) =>
        client.kv.put(
          { key: k, value: Buffer.from(value), lease: String(lease), prev_kv: prevKv },
          o,
        ),
      );
      const revision = seen(res.header);
      // A repeated attempt (the first one's answer lost) reports the first attempt's write as
      // the previous value: callers use prevKv to clean up what they replaced, and a record they
      // wrote themselves has their own lease, which they keep.
      return prevKv && res.prev_kv ? { revision, prevKv: toKv(res.prev_kv) } : { revision };
    },

    async delete(key) {
      const k = toEtcdKey(key);
      const res = await call(`delete ${key}`, 'write', (o) => client.kv.deleteRange({ key: k }, o));
      return { revision: seen(res.header), deleted: Number(res.deleted) };
    },

    async txn(ops: TxnOp[], compare: TxnCompare[] = []) {
      assertOpen();
      const success: IRequestOp[] = [];
      for (const op of ops) {
        if (op.type === 'put') {
          success.push({
            request_put: {
              key: toEtcdKey(op.key),
              value: Buffer.from(op.value),
              lease: String(op.lease ?? 0),
            },
          });
        } else if (op.type === 'delete') {
          success.push({ request_delete_range: { key: toEtcdKey(op.key) } });
        } else {
          const r = rangeOf(op.prefix);
          if (r) success.push({ request_delete_range: r });
        }
      }
      const guards: ICompare[] = compare.map((c) =>
        // etcd compares an absent key as all zeroes; version 0 is the idiomatic "absent" test.
        c.modRevision === 0
          ? { key: toEtcdKey(c.key), target: 'Version', result: 'Equal', version: 0 }
          : { key: toEtcdKey(c.key), target: 'Mod', result: 'Equal', mod_revision: c.modRevision },
      );
      // On a failed guard, read the guarded keys in the same txn to say which guard failed.
      const failure: IRequestOp[] = compare.map((c) => ({
        request_range: { key: toEtcdKey(c.key), keys_only: true },
      }));
      const res = await call('txn', guards.length > 0 ? 'guarded' : 'write', (o) =>
        client.kv.txn({ compare: guards, success, failure }, o),
      );
      const revision = seen(res.header);
      if (!res.succeeded) {
        const broken = compare
          .map((c, i) => {
            const kv = res.responses[i]?.response_range.kvs[0];
            return { c, actual: kv ? Number(kv.mod_revision) : 0 };
          })
          .filter(({ c, actual }) => c.modRevision !== actual)
          .map(
            ({ c, actual }) => `${c.key} is at modRevision ${actual}, expected ${c.modRevision}`,
          );
        throw new StoreError(
          'WEFT_ERR_TXN_CONFLICT',
          `txn guard failed: ${broken.join('; ') || 'a guarded key changed'}`,
        );
      }
      return { revision };
    },

    watch(p, onEvents, watchOpts: WatchOptions = {}): Watch {
      if (closed) {
        failLater(watchOpts.onError, closedError(), onBackgroundError);
        return { cancel() {} };
      }
      const r = rangeOf(p);
      // No key outside the root can exist, so such a watch has nothing to deliver, ever.
      if (!r) return { cancel() {} };
      const from = Math.max(1, watchOpts.fromRevision ?? lastRevision + 1);
      return startWatch(r, p, onEvents, from, watchOpts.onError);
    },

    async grantLease(ttlSeconds) {
      if (!(ttlSeconds > 0)) throw new RangeError(`lease TTL must be positive, got ${ttlSeconds}`);
      // We pick the id (etcd allows it) so that it fits a JavaScript number: etcd's own ids use
      // all 63 bits. Random, so replicas need no coordination; a collision is retried.
      for (let tries = 0; ; tries++) {
        const id = randomLeaseId();
        try {
          const res = await call('grant lease', 'write', async (o, attempt) => {
            try {
              return await client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: id }, o);
            } catch (err) {
              // Our own earlier attempt got through and only its answer was lost.
              if (attempt > 1 && isLeaseExists(err)) return { TTL: String(ttlSeconds), error: '' };
              throw err;
            }
          });
          if (res.error) throw new Error(`etcd refused the lease: ${res.error}`);
          return { id: Number(id), ttlSeconds: Number(res.TTL) };
        } catch (err) {
          if (!isLeaseExists(err) || tries >= 3) throw err;
        }
      }
    },

    async keepAlive(leaseId) {
      const ttl = await call(`keep lease ${leaseId} alive`, 'read', (o) =>
        keepAliveOnce(String(leaseId), o),
      );
      // etcd answers TTL 0 for a lease it does not have (never granted, revoked or expired).
      if (ttl <= 0) throw leaseNotFound(`lease ${leaseId}`);
      return { id: leaseId, ttlSeconds: ttl };
    },

    async revokeLease(leaseId) {
      await call(`revoke lease ${leaseId}`, 'write', async (o, attempt) => {
        try {
          await client.leaseClient.leaseRevoke({ ID: String(leaseId) }, o);
        } catch (err) {
          // A repeated revoke that finds nothing: the attempt whose answer was lost did it.
          if (attempt > 1 && err instanceof EtcdLeaseInvalidError) return;
          throw err;
        }
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      if (watchRetry) clearTimeout(watchRetry);
      active.clear();
      watchStream?.cancel();
      watchStream = undefined;
      settleReadyWaiters();
      dropKeepAliveStream(closedError());
      client.close();
    },
  };

  try {
    await currentRevision('cannot open the store');
  } catch (err) {
    client.close();
    throw err;
  }
  return store;
}

/** Parses `etcd://host:port,host:port` into endpoints. */
export function parseEtcdUrl(url: string): string[] {
  const m = /^etcd:\/\/([^/]+)\/?$/.exec(url);
  if (!m?.[1]) throw new TypeError(`not an etcd store URL: '${url}' (want etcd://host:port,...)`);
  const endpoints = m[1].split(',').filter((e) => e !== '');
  for (const e of endpoints) {
    if (!/^(\[[0-9a-fA-F:]+\]|[^:[\]]+):\d{1,5}$/.test(e))
      throw new TypeError(`bad etcd endpoint '${e}' in '${url}' (want host:port)`);
  }
  return endpoints;
}

/**
 * The first key after every key that starts with `start`, as etcd spells a prefix range: the
 * last byte below 0xff bumped by one, what follows it dropped; '\0' (to the end) when there is none.
 */
export function rangeEnd(start: Buffer): Buffer {
  const end = Buffer.from(start);
  for (let i = end.length - 1; i >= 0; i--) {
    const b = end[i] ?? 0xff;
    if (b < 0xff) {
      end[i] = b + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** A random positive id below 2^53, as a decimal string (etcd's int64 on the wire). */
function randomLeaseId(): string {
  const n = randomBytes(8).readBigUInt64BE() & ((1n << 53n) - 1n);
  return n === 0n ? '1' : n.toString();
}

function isTransient(err: unknown): boolean {
  return err instanceof Error && (isRecoverableError(err) || isBrokenCircuitError(err));
}

/** Failures that prove the request never reached etcd, so repeating it cannot apply it twice. */
function surelyUnsent(err: unknown): boolean {
  if (isBrokenCircuitError(err)) return true;
  const msg = err instanceof Error ? err.message : '';
  return /ECONNREFUSED|No connection established|etcdserver: no leader|too many requests/i.test(
    msg,
  );
}

function isLeaseExists(err: unknown): boolean {
  return err instanceof Error && /lease already exists/.test(err.message);
}

function leaseNotFound(what: string): StoreError {
  return new StoreError('WEFT_ERR_LEASE_NOT_FOUND', `${what}: lease not found or expired`);
}

function closedError(): StoreError {
  return new StoreError('WEFT_ERR_STORE_CLOSED', 'the store is closed');
}

function failLater(
  onError: ((err: Error) => void) | undefined,
  err: StoreError,
  onBackgroundError: (err: unknown) => void,
): void {
  if (!onError) return;
  queueMicrotask(() => {
    try {
      onError(err);
    } catch (thrown) {
      onBackgroundError(thrown);
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function warn(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : String(err), { code: 'WEFT_STORE_BACKGROUND' });
}
