// The proxy's end of the snapshot stream. It keeps the last good snapshot: a snapshot that
// fails to compile is NACKed and the old route table keeps serving, and when the control
// plane goes away the proxy keeps serving too, reconnecting with backoff and telling the
// control plane which version it runs so that nothing is resent needlessly.
//
// Several control-plane replicas: `control` may list several URLs (comma-separated). The
// proxy uses one at a time; when its stream dies it tries the next one at once (the others
// are alive in the common case of one replica dying), and backs off only after a whole round
// failed. Its hello names the version it runs, so the new replica sends a delta or nothing.

import WebSocket from 'ws';
import {
  applyDelta,
  type ControlMessage,
  type ProxyMessage,
  type ProxyNode,
  type Snapshot,
} from '@weft/model';
import { authHeaders, type ControlCredentials } from '../tls/control-client.js';

export interface StreamClientOptions {
  /** Control plane base URL(s), e.g. http://127.0.0.1:15010, or several, comma-separated. */
  control: string | string[];
  node: ProxyNode;
  /** Sidecars: the services the app calls; the control plane sends only their config. */
  upstreams?: string[];
  /** Compiles and swaps in a snapshot; throws to NACK it. */
  apply(snapshot: Snapshot): void;
  version(): number | undefined;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  random?: () => number;
  /** Called once per applied version (tests and `--wait` style readiness). */
  onApplied?: (version: number) => void;
  /**
   * Called after applying the message that answers `rescope(...)` number `seq` (or the first
   * one after a reconnect, whose hello carried the whole scope): requests held for it retry.
   */
  onScopeApplied?: (seq: number) => void;
  /** Called when a stream to a control plane opens (tests measure failover with it). */
  onConnected?: (url: string) => void;
  /** Root to trust for wss:// and the token to present (a locked control plane). */
  credentials?: ControlCredentials | undefined;
}

export interface StreamClient {
  /** Resolves once the first snapshot is applied. */
  ready: Promise<void>;
  /** The control plane the stream is connected to now, if any. */
  connectedTo(): string | undefined;
  /**
   * Sidecars learning their scope: the new upstream list, sent now (and in every later hello).
   * Returns its sequence number, which `onScopeApplied` reports once the answer is applied.
   */
  rescope(upstreams: string[]): number;
  close(): void;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/**
 * A replica whose host vanished (no FIN, no RST) would hold the stream open until TCP gives
 * up, minutes later: a ping every interval that is not answered by the next one closes the
 * stream, and the proxy moves to another replica.
 */
const PING_INTERVAL_MS = 5_000;

/** `a,b` or ['a', 'b'] -> the base URLs, without trailing slashes. */
export function parseControlUrls(control: string | string[]): string[] {
  const list = (Array.isArray(control) ? control : control.split(','))
    .map((u) => u.trim().replace(/\/$/, ''))
    .filter((u) => u !== '');
  if (list.length === 0) throw new TypeError('no control plane URL given');
  return list;
}

export function connectSnapshotStream(opts: StreamClientOptions): StreamClient {
  const random = opts.random ?? Math.random;
  const urls = parseControlUrls(opts.control);
  let ws: WebSocket | undefined;
  let openUrl: string | undefined;
  let closed = false;
  let backoff = MIN_BACKOFF_MS;
  let timer: NodeJS.Timeout | undefined;
  // Start at a random replica, so proxies spread over them.
  let next = Math.floor(random() * urls.length) % urls.length;
  let failedInRound = 0;
  /** The last snapshot applied: the base deltas are applied to. */
  let current: Snapshot | undefined;
  let markReady: () => void = () => undefined;
  let upstreams = opts.upstreams;
  let scopeSeq = 0;
  /** The scope seq the next applied message answers because a hello carried it (reconnects). */
  let helloSeq: number | undefined;
  /** The last scope seq whose answer was applied. */
  let answeredSeq = 0;
  const ready = new Promise<void>((r) => (markReady = r));

  const send = (m: ProxyMessage) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  };

  const applyOne = (version: number, build: () => Snapshot) => {
    try {
      const snapshot = build();
      opts.apply(snapshot);
      current = snapshot;
      send({ type: 'ack', version });
      opts.onApplied?.(version);
      markReady();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      opts.log('error', 'rejected snapshot; keeping the last good one', { version, error });
      send({ type: 'nack', version, error });
    }
  };

  const onMessage = (msg: ControlMessage) => {
    const answered = msg.scopeSeq ?? helloSeq;
    helloSeq = undefined;
    if (answered !== undefined) {
      handle(msg);
      answeredSeq = Math.max(answeredSeq, answered);
      opts.onScopeApplied?.(answered);
      return;
    }
    handle(msg);
  };

  const handle = (msg: ControlMessage) => {
    if (msg.type === 'snapshot') return applyOne(msg.version, () => msg.snapshot);
    if (msg.type !== 'delta') return;
    if (!current || current.version !== msg.delta.baseVersion) {
      // Not our base (a NACKed version in between, a restart): ask for the whole snapshot.
      opts.log('warn', 'delta does not apply to the running version; asking for a resync', {
        base: msg.delta.baseVersion,
        running: current?.version,
      });
      send({ type: 'resync', ...(current ? { version: current.version } : {}) });
      return;
    }
    const base = current;
    applyOne(msg.version, () => applyDelta(base, msg.delta));
  };

  const connect = () => {
    if (closed) return;
    const base = urls[next % urls.length] as string;
    const url = `${base.replace(/^http/, 'ws')}/v1/stream`;
    const sock = new WebSocket(url, {
      handshakeTimeout: 2_000,
      maxPayload: 256 << 20,
      headers: authHeaders(opts.credentials),
      ...(opts.credentials?.ca ? { ca: opts.credentials.ca } : {}),
    });
    ws = sock;
    let opened = false;
    let answered = true;
    let pinger: NodeJS.Timeout | undefined;
    sock.on('pong', () => (answered = true));
    sock.on('open', () => {
      opened = true;
      pinger = setInterval(() => {
        if (!answered) {
          opts.log('warn', 'control plane stopped answering pings; reconnecting', { url });
          sock.terminate();
          return;
        }
        answered = false;
        sock.ping();
      }, PING_INTERVAL_MS);
      pinger.unref();
      openUrl = base;
      backoff = MIN_BACKOFF_MS;
      failedInRound = 0;
      // A scope change the last replica never answered: the snapshot we run lacks the learned
      // hosts, so ask for the whole view in the new scope rather than resume from our version.
      const unanswered = scopeSeq > answeredSeq;
      const version = unanswered ? undefined : (current?.version ?? opts.version());
      send({
        type: 'hello',
        node: opts.node,
        ...(version !== undefined ? { version } : {}),
        deltas: true,
        ...(upstreams ? { scope: { upstreams } } : {}),
      });
      if (unanswered) helloSeq = scopeSeq;
      opts.log('info', 'connected to control plane', { url, version });
      opts.onConnected?.(base);
    });
    sock.on('message', (data) => {
      let msg: ControlMessage;
      try {
        msg = JSON.parse(data.toString()) as ControlMessage;
      } catch {
        opts.log('warn', 'ignoring a stream message that is not JSON');
        return;
      }
      onMessage(msg);
    });
    sock.on('close', () => {
      if (pinger) clearInterval(pinger);
      if (ws === sock) openUrl = undefined;
      if (closed) return;
      next = (next + 1) % urls.length;
      if (!opened) failedInRound++;
      // Another replica is tried at once; only a whole round of failures waits, with jittered
      // exponential backoff, so a restarted control plane is not hit by every proxy at once.
      let wait = 0;
      if (urls.length === 1 || failedInRound >= urls.length) {
        wait = backoff * (0.5 + random());
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        failedInRound = 0;
      }
      timer = setTimeout(connect, wait);
      timer.unref();
    });
    sock.on('error', (err) => {
      opts.log('warn', 'control plane stream error', { url, error: err.message });
    });
  };

  connect();
  return {
    ready,
    connectedTo: () => openUrl,
    rescope(next) {
      upstreams = next;
      scopeSeq++;
      send({ type: 'scope', upstreams: next, seq: scopeSeq });
      return scopeSeq;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.terminate();
    },
  };
}
